"""Remote store options: the URL and the fsspec storage_options names (s3fs
for s3://, gcsfs for gs://), parsed once, with no client objects (picklable,
rebuilt per process), and the secret-free error messages every client raises."""

from __future__ import annotations

import os
import re
import urllib.parse
from typing import Any

from fastchunk._units import parse_bytes
from fastchunk.errors import MissingBucketError, RemoteAccessError, RemoteStoreError
from fastchunk.store.gcs_options import GCS_OPTIONS, GCSSettings

DEFAULT_CONCURRENCY = 32
DEFAULT_MAX_RETRIES = 10
DEFAULT_RETRY_TIMEOUT_S = 60.0
DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_READ_TIMEOUT_S = 60.0

# A buffer: bytes, or a read-only memoryview of bytes owned by the client.
Blob = Any

_COMMON_OPTIONS = {
    "concurrency", "max_retries", "retry_timeout", "connect_timeout", "read_timeout",
    "allow_invalid_certificates", "cache_dir", "cache_size", "cache_check", "client",
}  # fmt: skip
_S3_OPTIONS = {
    "endpoint_url", "region", "key", "secret", "token", "anon", "profile",
    "client_kwargs", "virtual_hosted_style",
}  # fmt: skip
_KNOWN_OPTIONS = _COMMON_OPTIONS | _S3_OPTIONS
# URL schemes of buckets: the part after the scheme is bucket/prefix.
BUCKET_SCHEMES = {"s3": "s3", "gs": "gs", "gcs": "gs"}
DEFAULT_DISK_CACHE_SIZE = "10GB"
CACHE_CHECKS = ("once", "always", "never")
# Which HTTP client reads a remote store (store/remote.py's make_engine).
CLIENTS = ("auto", "direct", "obstore", "botocore")


class RemoteOptions:
    """Parsed URL and storage_options; no client objects (picklable, per process).

    scheme is "s3", "gs" (gs:// and gcs://), "http" or "https"; the S3 names
    (endpoint, region, key, ...) are None for gs://, whose settings are `gcs`."""

    endpoint: str | None
    region: str | None
    key: str | None
    secret: str | None
    token: str | None
    profile: str | None

    def __init__(self, location: str, storage_options: dict[str, Any]) -> None:
        opts = dict(storage_options)
        parsed = urllib.parse.urlparse(location)
        self.scheme = BUCKET_SCHEMES.get(parsed.scheme, parsed.scheme)
        known = _COMMON_OPTIONS | GCS_OPTIONS if self.scheme == "gs" else _KNOWN_OPTIONS
        unknown = set(opts) - known
        if unknown:
            raise ValueError(
                f"unknown storage_options {sorted(unknown)} for {parsed.scheme}:// stores; "
                f"known: {sorted(known)}"
            )
        self.location = location.rstrip("/")
        if self.scheme in ("s3", "gs"):
            self.bucket = parsed.netloc
            if not self.bucket:
                raise ValueError(f"no bucket in {location!r}")
            self.prefix = parsed.path.strip("/")
        else:
            self.bucket = ""
            self.prefix = ""
        self._parse_common(opts)
        self.gcs: GCSSettings | None = None
        if self.scheme == "gs":
            self.gcs = GCSSettings(opts)
            self.endpoint = self.gcs.endpoint if self.gcs.custom_endpoint else None
            self.region = self.key = self.secret = self.token = self.profile = None
            self.anon = self.gcs.auth.kind == "anon"
            self.virtual_hosted_style = False
        else:
            self._parse_s3(opts)

    def _parse_common(self, opts: dict[str, Any]) -> None:
        self.allow_invalid_certificates = bool(opts.get("allow_invalid_certificates", False))
        self.concurrency = int(
            opts.get("concurrency")
            or os.environ.get("FASTCHUNK_S3_CONCURRENCY")
            or DEFAULT_CONCURRENCY
        )
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        self.max_retries = int(opts.get("max_retries", DEFAULT_MAX_RETRIES))
        self.retry_timeout = float(opts.get("retry_timeout", DEFAULT_RETRY_TIMEOUT_S))
        self.connect_timeout = float(opts.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT_S))
        self.read_timeout = float(opts.get("read_timeout", DEFAULT_READ_TIMEOUT_S))
        # The disk cache of fetched objects (store/disk_cache.py).
        self.cache_dir: str | None = opts.get("cache_dir") or os.environ.get("FASTCHUNK_CACHE_DIR")
        self.cache_size = parse_bytes(
            opts.get("cache_size")
            or os.environ.get("FASTCHUNK_CACHE_DIR_SIZE")
            or DEFAULT_DISK_CACHE_SIZE
        )
        self.cache_check = str(
            opts.get("cache_check") or os.environ.get("FASTCHUNK_CACHE_CHECK") or "once"
        )
        if self.cache_check not in CACHE_CHECKS:
            raise ValueError(f"cache_check must be one of {CACHE_CHECKS}, got {self.cache_check!r}")
        self.client = str(opts.get("client") or os.environ.get("FASTCHUNK_REMOTE_CLIENT") or "auto")
        if self.client not in CLIENTS:
            raise ValueError(f"client must be one of {CLIENTS}, got {self.client!r}")

    @property
    def immutable(self) -> bool:
        """The user says the store never changes (cache_check="never"): objects
        without a strong validator may then be kept by the caches shared with
        other processes, named by their size."""
        return self.cache_check == "never"

    @property
    def store_id(self) -> str:
        """Names the store precisely: scheme, bucket, prefix and endpoint (or the URL)."""
        if self.scheme in ("s3", "gs"):
            endpoint = (self.endpoint or ("aws" if self.scheme == "s3" else "google")).rstrip("/")
            return f"{self.scheme}://{self.bucket}/{self.prefix} @ {endpoint}"
        return self.location

    def _parse_s3(self, opts: dict[str, Any]) -> None:
        client_kwargs = opts.pop("client_kwargs", None) or {}
        self.endpoint = (
            opts.get("endpoint_url")
            or client_kwargs.get("endpoint_url")
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL")
        )
        self.region = opts.get("region") or client_kwargs.get("region_name")
        self.key = opts.get("key") or client_kwargs.get("aws_access_key_id")
        self.secret = opts.get("secret") or client_kwargs.get("aws_secret_access_key")
        self.token = opts.get("token") or client_kwargs.get("aws_session_token")
        self.anon = bool(opts.get("anon", False))
        self.profile = opts.get("profile")
        self.virtual_hosted_style = bool(opts.get("virtual_hosted_style", False))
        if (self.key is None) != (self.secret is None):
            raise ValueError("storage_options 'key' and 'secret' must be given together")

    @property
    def secrets(self) -> list[str]:
        gcs_secret = self.gcs.auth.secret if self.gcs else None
        return [s for s in (self.secret, self.token, gcs_secret) if s]

    @property
    def where(self) -> str:
        """For messages: the URL and endpoint, never a credential."""
        if self.scheme in ("s3", "gs") and self.endpoint:
            return f"{self.location} (endpoint {self.endpoint})"
        return self.location

    def url_of(self, key: str) -> str:
        return f"{self.location}/{key}"

    def full_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def profile_credentials(self) -> tuple[str, str, str | None, str | None] | None:
        """(key, secret, token, region) from an AWS profile, when one applies:
        a `profile` option or AWS_PROFILE, or shared config files without
        credentials in the environment. obstore reads the environment itself."""
        if self.key or self.anon or os.environ.get("AWS_ACCESS_KEY_ID"):
            return None
        profile = self.profile or os.environ.get("AWS_PROFILE")
        files = [
            os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
            os.environ.get("AWS_CONFIG_FILE", "~/.aws/config"),
        ]
        if profile is None and not any(os.path.exists(os.path.expanduser(f)) for f in files):
            return None
        try:
            import botocore.session
        except ImportError:
            return None
        session = botocore.session.Session(profile=profile)
        try:
            creds = session.get_credentials()
        except Exception:  # noqa: BLE001 - a broken profile: let the store report access errors
            return None
        if creds is None:
            return None
        frozen = creds.get_frozen_credentials()
        return (
            frozen.access_key,
            frozen.secret_key,
            frozen.token,
            session.get_config_variable("region"),
        )


# ---------------------------------------------------------------- errors
_CODE = re.compile(r"<Code>([^<]{1,64})</Code>")
_STATUS = re.compile(r"\b([45]\d\d) [A-Z][A-Za-z ]{1,40}")


def _reason(exc: BaseException, opts: RemoteOptions) -> str:
    """A short, secret-free reason: HTTP status and S3 error code when present."""
    text = str(exc)
    for s in opts.secrets:
        text = text.replace(s, "***")
    code = _CODE.search(text)
    status = _STATUS.search(text)
    if status or code:
        parts = [p for p in (status and status.group(0), code and code.group(1)) if p]
        return " ".join(parts)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    first = re.sub(r"Debug source:.*", "", first)
    return first[:300]


def _credential_hint(opts: RemoteOptions) -> str:
    if opts.scheme == "gs":
        return (
            "check the token in storage_options ('anon' for public data) or "
            "GOOGLE_APPLICATION_CREDENTIALS"
        )
    return "check the key/secret/token in storage_options or the AWS environment"


def access_error(opts: RemoteOptions, key: str, exc: BaseException) -> RemoteAccessError:
    return RemoteAccessError(
        f"access denied reading {opts.url_of(key)} (bucket {opts.bucket!r}, key "
        f"{opts.full_key(key)!r}): {_reason(exc, opts)}; {_credential_hint(opts)}"
        + (f", endpoint {opts.endpoint}" if opts.endpoint else "")
    )


def credentials_missing(opts: RemoteOptions, exc: BaseException) -> bool:
    """Whether `exc` says that no S3 credentials could be found: none were
    given, and the last provider asked (the instance metadata service) failed."""
    if opts.scheme != "s3" or opts.anon or opts.key:
        return False
    text = str(exc).lower()
    return "169.254.169.254" in text or "unable to locate credentials" in text or (
        "credential" in text and ("provider" in text or "fetch" in text or "load" in text)
    )


def missing_credentials(opts: RemoteOptions, key: str, exc: BaseException) -> RemoteAccessError:
    return RemoteAccessError(
        f"no AWS credentials found to read {opts.url_of(key)}: none in storage_options "
        "(key, secret, token), none in the environment (AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY, AWS_PROFILE or ~/.aws, web identity), and the instance "
        f"metadata service gave none ({_reason(exc, opts)}); pass storage_options="
        "{'key': ..., 'secret': ...}, or {'anon': True} for a public bucket"
    )


def missing_bucket(opts: RemoteOptions) -> MissingBucketError:
    return MissingBucketError(
        f"bucket {opts.bucket!r} does not exist"
        + (f" at {opts.endpoint}" if opts.endpoint else "")
        + f" (reading {opts.location})"
    )


def request_error(opts: RemoteOptions, key: str, exc: BaseException) -> RemoteStoreError:
    return RemoteStoreError(f"reading {opts.url_of(key)} failed: {_reason(exc, opts)}")
