"""The botocore client: blocking S3 requests in a thread pool, for processes
where obstore cannot run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from fastchunk.store.engine import ABSENT, ThreadedEngine, total_size, version_string
from fastchunk.store.options import (
    RemoteOptions,
    access_error,
    credentials_missing,
    missing_bucket,
    missing_credentials,
    request_error,
)


class BotoEngine(ThreadedEngine):
    name = "botocore"

    def __init__(self, opts: RemoteOptions, inherited: dict[str, str] | None = None) -> None:
        super().__init__(opts, inherited)
        import botocore.config
        import botocore.session
        from botocore import UNSIGNED

        session = botocore.session.Session(profile=opts.profile)
        config = botocore.config.Config(
            max_pool_connections=opts.concurrency,
            connect_timeout=opts.connect_timeout,
            read_timeout=opts.read_timeout,
            retries={"mode": "standard", "max_attempts": opts.max_retries + 1},
            signature_version=UNSIGNED if opts.anon else None,
            s3={"addressing_style": "virtual" if opts.virtual_hosted_style else "path"},
        )
        self.client = session.create_client(
            "s3",
            endpoint_url=opts.endpoint,
            region_name=opts.region or os.environ.get("AWS_REGION") or "us-east-1",
            aws_access_key_id=opts.key,
            aws_secret_access_key=opts.secret,
            aws_session_token=opts.token,
            config=config,
            verify=not opts.allow_invalid_certificates,
        )
        from botocore.exceptions import BotoCoreError, ClientError

        self._errors = (BotoCoreError, ClientError)

    def _handle(self, key: str, exc: Any) -> Any:
        if credentials_missing(self.opts, exc):
            raise missing_credentials(self.opts, key, exc) from None
        response = getattr(exc, "response", None) or {}
        code = str(response.get("Error", {}).get("Code", ""))
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket":
            raise missing_bucket(self.opts) from None
        if code in ("NoSuchKey", "404", "NotFound") or status == 404:
            return None
        if status in (401, 403) or code in (
            "AccessDenied",
            "SignatureDoesNotMatch",
            "InvalidAccessKeyId",
            "ExpiredToken",
        ):
            raise access_error(self.opts, key, RuntimeError(f"{status} {code}")) from None
        raise request_error(self.opts, key, exc) from None

    def _fetch(self, key: str, rng: tuple[int, int] | None, suffix: int | None) -> Any:
        full = self.opts.full_key(key)
        kwargs: dict[str, Any] = {"Bucket": self.opts.bucket, "Key": full}
        self._count(rng, suffix)
        try:
            if suffix == 0:
                head = self.client.head_object(**kwargs)
                size = int(head["ContentLength"])
                self.versions[key] = version_string(
                    size, head.get("ETag"), head.get("LastModified"), _date(head),
                    self.opts.immutable,
                )
                return b"", size
            if rng is not None:
                kwargs["Range"] = f"bytes={rng[0]}-{rng[0] + rng[1] - 1}"
            elif suffix is not None:
                kwargs["Range"] = f"bytes=-{suffix}"
            resp = self.client.get_object(**kwargs)
            data = resp["Body"].read()
        except self._errors as e:
            found = self._handle(key, e)
            self.versions[key] = ABSENT
            return found
        total = total_size(resp.get("ContentRange"), len(data))
        self.versions[key] = version_string(total, resp.get("ETag"), resp.get("LastModified"),
                                            _date(resp), self.opts.immutable)
        self._stamp(resp.get("ETag"), resp.get("LastModified"))
        if suffix is not None or rng is not None:
            return data, total
        return data

    def list_dir(self, prefix: str) -> list[str]:
        base = self.opts.prefix + "/" if self.opts.prefix else ""
        full = base + prefix
        paginator = self.client.get_paginator("list_objects_v2")
        names = []
        try:
            for page in paginator.paginate(Bucket=self.opts.bucket, Prefix=full, Delimiter="/"):
                for common in page.get("CommonPrefixes", []):
                    names.append(common["Prefix"][len(full) :].rstrip("/"))
        except self._errors as e:
            self._handle(prefix, e)
            raise request_error(self.opts, prefix, e) from None
        return sorted(names)

    def list_prefix(self, prefix: str) -> Iterator[tuple[str, int]]:
        base = self.opts.prefix + "/" if self.opts.prefix else ""
        full = self.opts.full_key(prefix) if prefix else base
        strip = len(self.opts.prefix) + 1 if self.opts.prefix else 0
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.opts.bucket, Prefix=full):
                self.requests.add("list")
                for obj in page.get("Contents", []):
                    yield obj["Key"][strip:], int(obj["Size"])
        except self._errors as e:
            self._handle(prefix, e)
            raise request_error(self.opts, prefix, e) from None


def _date(resp: Any) -> str | None:
    """The Date header of a botocore response."""
    return resp.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
