"""Google Cloud Storage options: the gcsfs storage_options names and the
Google environment conventions, resolved once into plain values (picklable,
no client objects) that both GCS clients (obstore, and google-auth + urllib3
in forked processes) turn into the same credentials.

`token` (gcsfs): None or "google_default" for Application Default
Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's user credentials, the
metadata server), "cloud" for the metadata server, "anon" for public data
(no credentials, unsigned requests), the path of a JSON key file, a dict
holding a service-account key or {"access_token": ...}, or a raw OAuth access
token string. `endpoint_url`, else STORAGE_EMULATOR_HOST, replaces
https://storage.googleapis.com (an emulator, a Private Service Connect
endpoint); with STORAGE_EMULATOR_HOST and no token, requests are unsigned, as
Google's own clients do, and objects are read through the JSON API (what
emulators serve there) rather than the XML API. `project` (else GOOGLE_CLOUD_PROJECT) is accepted
for gcsfs compatibility: reading objects needs no project.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

DEFAULT_ENDPOINT = "https://storage.googleapis.com"
READ_SCOPE = "https://www.googleapis.com/auth/devstorage.read_only"

GCS_OPTIONS = {"token", "project", "endpoint_url"}

# token values gcsfs names a method with.
_DEFAULT_METHODS = {"google_default", "cloud"}
_UNSUPPORTED_METHODS = {"cache", "browser"}


@dataclass(frozen=True)
class GCSAuth:
    """How requests are authorised.

    kind: "anon" (unsigned), "bearer" (a static OAuth access token in
    `value`), "service_account" (the JSON key text in `value`), "file" (an
    Application Default Credentials file at `value`: authorized_user,
    external_account, ...), or "default" (the environment decides)."""

    kind: str
    value: str | None = None

    @property
    def secret(self) -> str | None:
        """What must never appear in a message."""
        if self.kind == "bearer":
            return self.value
        if self.kind == "service_account" and self.value:
            return str(json.loads(self.value).get("private_key") or "") or None
        return None


def emulator_host() -> str | None:
    """STORAGE_EMULATOR_HOST as a URL (Google's clients accept it without a scheme)."""
    host = os.environ.get("STORAGE_EMULATOR_HOST", "").strip()
    if not host:
        return None
    return host if "://" in host else f"http://{host}"


def _is_service_account(info: dict[str, Any]) -> bool:
    return info.get("type") == "service_account" or (
        "private_key" in info and "client_email" in info
    )


def _from_file(path: str) -> GCSAuth:
    try:
        with open(path) as f:
            info = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"GCS credentials file {path!r} does not exist") from None
    except (OSError, ValueError) as e:
        raise ValueError(f"GCS credentials file {path!r} is not readable JSON: {e}") from None
    if not isinstance(info, dict):
        raise ValueError(f"GCS credentials file {path!r} does not hold a JSON object")
    if _is_service_account(info):
        return GCSAuth("service_account", json.dumps(info))
    if "access_token" in info and "type" not in info:
        return GCSAuth("bearer", str(info["access_token"]))
    return GCSAuth("file", os.path.abspath(path))


def _looks_like_path(text: str) -> bool:
    return os.sep in text or text.endswith(".json") or text.startswith("~")


def _default() -> GCSAuth:
    """Application Default Credentials. A GOOGLE_APPLICATION_CREDENTIALS file is
    read here, so that both clients sign alike (a service-account key signs its
    own JWTs, never asking Google's token endpoint); without it each client
    finds gcloud's user credentials or the metadata server itself."""
    path = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    return _from_file(os.path.expanduser(path)) if path else GCSAuth("default")


def parse_token(token: Any, emulated: bool) -> GCSAuth:
    """A gcsfs `token` value as a GCSAuth."""
    if token is None:
        return GCSAuth("anon") if emulated else _default()
    if isinstance(token, str):
        if token == "anon":
            return GCSAuth("anon")
        if token in _DEFAULT_METHODS:
            return _default()
        if token in _UNSUPPORTED_METHODS:
            raise ValueError(
                f"GCS token {token!r} (gcsfs' own token cache or browser login) is not "
                f"supported; use 'google_default' after `gcloud auth application-default login`"
            )
        path = os.path.expanduser(token)
        if os.path.exists(path):
            return _from_file(path)
        if _looks_like_path(token):
            raise FileNotFoundError(f"GCS token file {token!r} does not exist")
        if not token.strip():
            raise ValueError("GCS token must not be empty")
        return GCSAuth("bearer", token)
    if isinstance(token, dict):
        if _is_service_account(token):
            return GCSAuth("service_account", json.dumps(token))
        if "access_token" in token:
            return GCSAuth("bearer", str(token["access_token"]))
        raise ValueError(
            "a GCS token dict must be a service-account key or hold 'access_token'; "
            "for other credentials pass the path of their JSON file"
        )
    raise TypeError(
        f"GCS token must be None, a string or a dict, got {type(token).__name__} "
        f"(credential objects do not pickle to worker processes; pass a key file path)"
    )


class GCSSettings:
    """The GCS part of RemoteOptions."""

    def __init__(self, opts: dict[str, Any]) -> None:
        explicit = opts.get("endpoint_url")
        emulator = emulator_host()
        endpoint = explicit or emulator or DEFAULT_ENDPOINT
        self.endpoint: str = endpoint.rstrip("/")
        self.custom_endpoint = endpoint != DEFAULT_ENDPOINT
        # An emulator named by STORAGE_EMULATOR_HOST, started the usual way,
        # serves only the JSON API there (fake-gcs-server answers the XML API
        # only at its -public-host): objects are read through the JSON API,
        # as google-cloud-storage and gcsfs read them.
        self.json_api = not explicit and bool(emulator)
        self.auth = parse_token(opts.get("token"), emulated=not explicit and bool(emulator))
        self.project: str | None = opts.get("project") or os.environ.get("GOOGLE_CLOUD_PROJECT")
