"""The blocking Google Cloud Storage client, for processes where obstore
cannot run (forked from one running obstore's runtime).

Requests are plain HTTPS GETs in a thread pool (urllib3): objects and byte
ranges from the XML API (`{endpoint}/{bucket}/{object}`, the paths obstore
uses), or from the JSON API for an emulator named by STORAGE_EMULATOR_HOST
(`{endpoint}/storage/v1/b/{bucket}/o/{object}?alt=media`: emulators started
the usual way serve only that API there); listings from the JSON API. Also
used, whatever the client, to tell why an open found nothing (explain_missing):
a bucket that is not there, or an endpoint that answers 404 through the XML
API for objects its JSON API holds. Credentials come from google-auth, the
library Google's own clients and gcsfs use, so that every credential kind
obstore accepts (service-account keys, Application Default Credentials,
the metadata server) works here too. google-cloud-storage is not used: its
download calls hide the Content-Range header (the object size a suffix read
needs) and it brings a far larger dependency tree for four kinds of GET.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

from fastchunk.errors import RemoteStoreError
from fastchunk.store.engine import (
    ABSENT,
    ThreadedEngine,
    total_size,
    urllib3_pool,
    version_string,
)
from fastchunk.store.gcs_options import READ_SCOPE, GCSAuth
from fastchunk.store.options import (
    RemoteOptions,
    access_error,
    missing_bucket,
    request_error,
)


class GCSCredentials:
    """The Authorization header of each request, refreshed by google-auth when
    its token expires (one refresh at a time)."""

    def __init__(self, auth: GCSAuth) -> None:
        self.auth = auth
        self.lock = threading.Lock()
        self.google: Any = None
        if auth.kind in ("anon", "bearer"):
            return
        try:
            import google.auth
            import google.auth.transport.urllib3
            from google.oauth2 import service_account
        except ImportError:
            raise ImportError(
                "reading gs:// with credentials in a forked worker process needs "
                "google-auth: pip install 'fastchunk[gcs]'"
            ) from None
        if auth.kind == "service_account":
            # A self-signed JWT, as obstore sends: no token exchange.
            self.google = service_account.Credentials.from_service_account_info(
                json.loads(auth.value or "{}"),
                scopes=[READ_SCOPE],
                always_use_jwt_access=True,
            )
        elif auth.kind == "file":
            self.google, _project = google.auth.load_credentials_from_file(
                auth.value, scopes=[READ_SCOPE]
            )
        else:
            self.google, _project = google.auth.default(scopes=[READ_SCOPE])
        self._transport = google.auth.transport.urllib3

    def headers(self, http: Any) -> dict[str, str]:
        if self.auth.kind == "anon":
            return {}
        if self.auth.kind == "bearer":
            return {"Authorization": f"Bearer {self.auth.value}"}
        headers: dict[str, str] = {}
        with self.lock:
            request = self._transport.Request(http)
            self.google.before_request(request, "GET", "", headers)
        return headers


class GCSEngine(ThreadedEngine):
    name = "google-auth+urllib3"

    def __init__(self, opts: RemoteOptions, inherited: dict[str, str] | None = None) -> None:
        super().__init__(opts, inherited)
        import urllib3

        assert opts.gcs is not None
        self.gcs = opts.gcs
        self.http = urllib3_pool(opts)
        self.credentials = GCSCredentials(self.gcs.auth)
        self._errors: tuple[type[BaseException], ...] = (urllib3.exceptions.HTTPError,)
        try:
            from google.auth.exceptions import GoogleAuthError

            self._errors += (GoogleAuthError,)
        except ImportError:
            pass

    def _object_url(self, key: str, json_api: bool | None = None) -> str:
        """The object's bytes; through the JSON API, its metadata without `media`."""
        if self.gcs.json_api if json_api is None else json_api:
            return self._json_url(key) + "?alt=media"
        name = urllib.parse.quote(self.opts.full_key(key), safe="/~")
        return f"{self.gcs.endpoint}/{self.opts.bucket}/{name}"

    def _json_url(self, key: str | None = None) -> str:
        bucket = f"{self.gcs.endpoint}/storage/v1/b/{urllib.parse.quote(self.opts.bucket, safe='')}"
        if key is None:
            return bucket
        return f"{bucket}/o/{urllib.parse.quote(self.opts.full_key(key), safe='')}"

    def explain_missing(self, keys: list[str]) -> Exception | None:
        """Why none of `keys` (an open's metadata documents) was found, when
        it is not that they are absent: the bucket is missing, or the endpoint
        answered the XML API with 404 for objects its JSON API holds (an
        emulator serving the XML API only at another host name)."""
        bucket = self._request("", self._json_url())
        if bucket.status == 404:
            return missing_bucket(self.opts)
        if self.gcs.json_api or bucket.status >= 300:
            return None
        for key in keys:
            if self._request(key, self._json_url(key)).status == 200:
                return RemoteStoreError(
                    f"{self.gcs.endpoint} holds {self.opts.url_of(key)} (its JSON API says so) "
                    f"but answers its XML API with 404: an emulator serving the XML API only "
                    f"at another host name (fake-gcs-server: -public-host). Name it with "
                    f"STORAGE_EMULATOR_HOST instead of endpoint_url (fastchunk then reads "
                    f"through the JSON API), or start it with -public-host "
                    f"{urllib.parse.urlsplit(self.gcs.endpoint).netloc}"
                )
        return None

    def _request(self, key: str, url: str, method: str = "GET", **headers: str) -> Any:
        try:
            headers.update(self.credentials.headers(self.http))
            return self.http.request(method, url, headers=headers)
        except self._errors as e:
            raise request_error(self.opts, key, e) from None

    def _check(self, key: str, resp: Any) -> bool:
        """True when the object exists; raises on every other failure."""
        if resp.status == 404:
            if b"NoSuchBucket" in (resp.data or b""):
                raise missing_bucket(self.opts)
            return False
        if resp.status in (401, 403):
            raise access_error(self.opts, key, RuntimeError(f"{resp.status} {resp.reason}"))
        if resp.status >= 300:
            raise request_error(self.opts, key, RuntimeError(f"{resp.status} {resp.reason}"))
        return True

    def _note(self, key: str, resp: Any, size: int) -> None:
        etag = resp.headers.get("ETag") or resp.headers.get("x-goog-generation")
        self.versions[key] = version_string(size, etag, resp.headers.get("Last-Modified"),
                                            resp.headers.get("Date"), self.opts.immutable)
        self._stamp(etag, resp.headers.get("Last-Modified"))

    def _fetch(self, key: str, rng: tuple[int, int] | None, suffix: int | None) -> Any:
        url = self._object_url(key)
        self._count(rng, suffix)
        if suffix == 0 and self.gcs.json_api:  # the object's metadata, no body
            resp = self._request(key, self._json_url(key))
            if not self._check(key, resp):
                self.versions[key] = ABSENT
                return None
            try:
                meta = json.loads(resp.data)
                size = int(meta["size"])
            except (ValueError, KeyError, TypeError) as e:
                raise request_error(self.opts, key, e) from None
            etag = meta.get("etag") or meta.get("generation")
            self.versions[key] = version_string(size, etag, None, None, self.opts.immutable)
            self._stamp(etag, None)
            return b"", size
        if suffix == 0:
            resp = self._request(key, url, "HEAD")
            if not self._check(key, resp):
                self.versions[key] = ABSENT
                return None
            size = int(resp.headers.get("Content-Length", 0))
            self._note(key, resp, size)
            return b"", size
        headers = {}
        if rng is not None:
            headers["Range"] = f"bytes={rng[0]}-{rng[0] + rng[1] - 1}"
        elif suffix is not None:
            headers["Range"] = f"bytes=-{suffix}"
        resp = self._request(key, url, **headers)
        if not self._check(key, resp):
            self.versions[key] = ABSENT
            return None
        data = resp.data
        total = total_size(resp.headers.get("Content-Range"), len(data))
        self._note(key, resp, total)
        if rng is not None or suffix is not None:
            return data, total
        return data

    def _list(self, prefix: str, delimiter: bool) -> Iterator[dict[str, Any]]:
        """Pages of the JSON API's object listing under the folder `prefix`."""
        url = f"{self.gcs.endpoint}/storage/v1/b/{urllib.parse.quote(self.opts.bucket, safe='')}/o"
        query = {"prefix": self._folder(prefix)}
        if delimiter:
            query.update(delimiter="/", fields="prefixes,nextPageToken")
        else:
            query["fields"] = "items(name,size),nextPageToken"
        while True:
            self.requests.add("list")
            resp = self._request(prefix, f"{url}?{urllib.parse.urlencode(query)}")
            if resp.status == 404:
                raise missing_bucket(self.opts)
            self._check(prefix, resp)
            try:
                page = json.loads(resp.data)
            except ValueError as e:
                raise request_error(self.opts, prefix, e) from None
            yield page
            if not page.get("nextPageToken"):
                return
            query["pageToken"] = page["nextPageToken"]

    def _folder(self, prefix: str) -> str:
        """The full object-name prefix of a folder key, as obstore lists it:
        "a" is "a/", never "ab"."""
        base = self.opts.prefix + "/" if self.opts.prefix else ""
        return self.opts.full_key(prefix.rstrip("/") + "/") if prefix else base

    def list_prefix(self, prefix: str) -> Iterator[tuple[str, int]]:
        strip = len(self.opts.prefix) + 1 if self.opts.prefix else 0
        for page in self._list(prefix, delimiter=False):
            for item in page.get("items", []):
                yield item["name"][strip:], int(item["size"])

    def list_dir(self, prefix: str) -> list[str]:
        folder = self._folder(prefix)
        names = [
            p[len(folder) :].rstrip("/")
            for page in self._list(prefix, delimiter=True)
            for p in page.get("prefixes", [])
        ]
        return sorted(n for n in names if n)
