"""The local S3: moto's S3 served over HTTP in-process, plus fast in-process readers.

Data flows like this::

    boto3 / AWS CLI / devices --HTTP (path-style, SigV4 or presigned)--> werkzeug thread
        --> s3_front.S3Front (moto account, faults "s3", on_change: --state-dir saves
            each change before the reply) --> moto's S3 Flask app
        --> moto's in-memory backend (s3_backends[account]["aws"])
    local.iot / local.reserved --BlobReader(bucket, key, version)--> the same backend, directly
        (no HTTP: stream blocks are read thousands of times per OTA round)
    local.iot --Presigner(bucket, key, expires)--> botocore's SigV4 query signer -> a URL of
        this server that any HTTP client can GET.

Why our own werkzeug server instead of ``moto.server.ThreadedMotoServer``: ThreadedMotoServer
serves every moto service and guesses the service from the Authorization header; an unsigned
presigned-URL GET could be routed elsewhere. This server only runs moto's S3 app. Moto's state
is process-global and S3 bucket names are global across moto accounts, so each ``LocalS3``
stores its objects under a private moto account (injected as moto's ``x-moto-account-id``
header) and drops its buckets on ``stop()``: two local AWS IoTs in one process (tests) do not
see each other's objects.

For the state folder (``local.store.s3_store``): ``on_change`` is called after every request
that may change something, before its reply; ``bucket_regions`` / ``object_keys`` /
``object_state`` say what moto holds; ``restore_bucket`` / ``restore_object`` put saved ones
back (with their ETag and metadata) without going through HTTP.
"""

from __future__ import annotations

import itertools
import logging
import socket
import threading
from collections import OrderedDict
from typing import Any

from botocore.config import Config
from botocore.session import get_session

from ota_deploy.core.defaults import DEFAULT_REGION
from ota_deploy.local.faults import FaultConfig, FaultInjector, injector_for
from ota_deploy.local.s3_front import LOCAL_HOSTS, OnChange, S3Front

log = logging.getLogger(__name__)

_ACCOUNT_COUNTER = itertools.count(1)
_PARTITION = "aws"


def _private_account() -> str:
    """A moto account id unique to this process's next LocalS3 (12 digits, like AWS's)."""
    return f"9{next(_ACCOUNT_COUNTER):011d}"


class LocalS3:
    """moto's S3 on ``host:port`` (port 0 picks a free one) in a daemon thread."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = DEFAULT_REGION,
        faults: FaultConfig | FaultInjector | None = None,
    ) -> None:
        self.host = host
        self.region = region
        self.account = _private_account()
        self._requested_port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._presign_client: Any = None
        self._cache: OrderedDict[tuple[str, str, str | None, str], bytes] = OrderedDict()
        self._cache_bytes = 0
        self._cache_limit = 64 * 1024 * 1024
        self._lock = threading.Lock()
        self.faults = injector_for(faults)  # shared with the control plane when given
        self.on_change: OnChange | None = None  # read per request by the front

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> str:
        """Bind and serve; returns the endpoint URL (``http://host:port``)."""
        from moto.moto_server.werkzeug_app import create_backend_app
        from werkzeug.serving import WSGIRequestHandler, make_server

        class _QuietHandler(WSGIRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                """No access log: devices fetch thousands of objects."""

        app = S3Front(
            create_backend_app("s3"),
            account=self.account,
            faults=self.faults,
            hosts=LOCAL_HOSTS | {self.host},
        )
        app.on_change = self._changed
        # Bind here, so a busy port raises OSError; werkzeug would print and sys.exit(1).
        listener = socket.create_server((self.host, self._requested_port), backlog=128)
        try:
            self._server = make_server(
                self.host,
                listener.getsockname()[1],
                app,
                threaded=True,
                request_handler=_QuietHandler,
                fd=listener.fileno(),
            )
        finally:
            listener.close()  # werkzeug serves a duplicate of the descriptor
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="local-s3", daemon=True
        )
        self._thread.start()
        return self.endpoint

    def _changed(self, bucket: str | None, key: str | None) -> None:
        hook = self.on_change
        if hook is not None:
            hook(bucket, key)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("LocalS3 not started")
        return int(self._server.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop serving and drop this instance's buckets from moto's process-global state."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._drop_buckets()
        with self._lock:
            self._cache.clear()
            self._cache_bytes = 0

    # -- backend access --------------------------------------------------------------------
    def backend(self) -> Any:
        from moto.s3.models import s3_backends

        return s3_backends[self.account][_PARTITION]

    def _drop_buckets(self) -> None:
        try:
            from moto.s3.models import s3_backends

            backend = s3_backends[self.account][_PARTITION]
            for name in list(backend.buckets):
                s3_backends.bucket_accounts.pop(name, None)
            backend.reset()
        except Exception:  # pragma: no cover - best effort cleanup
            log.exception("could not drop local S3 buckets")

    def read_blob(self, bucket: str, key: str, version_id: str | None = None) -> bytes:
        """``BlobReader``: the object's bytes from moto's backend; ``KeyError`` if absent."""
        backend = self.backend()
        try:
            obj = backend.get_object(bucket, key, version_id=version_id)
        except Exception as err:  # moto raises MissingBucket / MissingKey (ClientError-like)
            raise KeyError(f"s3://{bucket}/{key}") from err
        if obj is None:
            raise KeyError(f"s3://{bucket}/{key}")
        cache_key = (bucket, key, version_id, str(obj.etag))
        with self._lock:
            hit = self._cache.get(cache_key)
            if hit is not None:
                self._cache.move_to_end(cache_key)
                return hit
        data = bytes(obj.value)
        with self._lock:
            self._cache[cache_key] = data
            self._cache_bytes += len(data)
            while self._cache_bytes > self._cache_limit and len(self._cache) > 1:
                _, old = self._cache.popitem(last=False)
                self._cache_bytes -= len(old)
        return data

    def put_blob(self, bucket: str, key: str, data: bytes) -> None:
        """Store an object directly (state restore, tests); creates the bucket if needed."""
        backend = self.backend()
        if bucket not in backend.buckets:
            backend.create_bucket(bucket, self.region)
        backend.put_object(bucket, key, data)

    # -- the state folder's view (local.store.s3_store.S3View) -------------------------------
    def bucket_regions(self) -> dict[str, str]:
        """Every bucket this instance holds, with its region."""
        return {name: str(b.region_name) for name, b in list(self.backend().buckets.items())}

    def object_keys(self, bucket: str) -> list[str]:
        b = self.backend().buckets.get(bucket)
        return [] if b is None else list(b.keys.keys())

    def object_state(self, bucket: str, key: str) -> tuple[str, dict[str, str]] | None:
        """(ETag, metadata) of the object's latest version, or None if there is none."""
        b = self.backend().buckets.get(bucket)
        obj = None if b is None else b.keys.get(key)
        if obj is None:
            return None
        return str(obj.etag), {str(k): str(v) for k, v in dict(obj.metadata).items()}

    def restore_bucket(self, bucket: str, region: str) -> None:
        backend = self.backend()
        if bucket not in backend.buckets:
            backend.create_bucket(bucket, region)

    def restore_object(
        self, bucket: str, key: str, data: bytes, etag: str, meta: dict[str, str]
    ) -> None:
        backend = self.backend()
        if bucket not in backend.buckets:
            backend.create_bucket(bucket, self.region)
        obj = backend.put_object(bucket, key, data, etag=etag.strip('"') or None)
        if meta:
            obj.set_metadata(dict(meta))

    def list_blobs_with_etags(self) -> list[tuple[str, str, str]]:
        """Every (bucket, key, etag) this instance stores (latest versions)."""
        backend = self.backend()
        out: list[tuple[str, str, str]] = []
        for name, bucket in list(backend.buckets.items()):
            for key in list(bucket.keys.keys()):
                obj = bucket.keys.get(key)
                if obj is not None:
                    out.append((name, key, str(obj.etag)))
        return out

    def presign(self, bucket: str, key: str, expires_in: int) -> str:
        """``Presigner``: a presigned GET URL of this server (SigV4, dummy credentials)."""
        if self._presign_client is None:
            session = get_session()
            self._presign_client = session.create_client(
                "s3",
                region_name=self.region,
                endpoint_url=self.endpoint,
                aws_access_key_id="local",
                aws_secret_access_key="local",
                config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
            )
        url: str = self._presign_client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=int(expires_in)
        )
        return url
