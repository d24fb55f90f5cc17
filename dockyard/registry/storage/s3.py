"""The S3 storage driver: objects in an S3-compatible bucket (AWS S3, Ceph RGW, MinIO...).

botocore's low-level client, called from the registry's worker threads (the driver
interface is blocking); measured against aiobotocore in docs/scale.md.

Objects are keys under the location's prefix. A writer buffers what it is given and
uploads 16 MiB parts of a multipart upload, several in flight, while the caller goes
on writing; ``sync``/``commit`` completes the object (a plain PUT when it is small).

An object written in pieces by several requests, possibly on several nodes (a
chunked blob upload), cannot be appended to in S3. ``resume_writer`` continues it
from a *state* (a small dict the registry keeps in its metadata database with the
upload session) that ``suspend`` returns: the multipart upload id, the parts written
with their ETags and sizes, and the bytes below S3's 5 MiB minimum part size, which
are kept as a small object of their own (a new key each time, so a writer that lost a
race never overwrites what the winner's state names). Part boundaries depend only on
the state and the bytes, so a retried request that lands on two nodes at once writes
identical parts. Everything under an upload's directory, the multipart upload
included, goes when the directory is deleted.

Radosgw 16.2 quirks tolerated: CompleteMultipartUpload answers an empty ``<ETag>`` (not
used); ``GET ?partNumber=N`` is ignored (not used).
"""

from __future__ import annotations

import logging
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO

import botocore.config
import botocore.session
from botocore.exceptions import BotoCoreError, ClientError

from dockyard.errors import InvalidArgument
from dockyard.registry.storage.base import FileInfo, StorageDriver, StorageWriter
from dockyard.registry.storage.s3location import S3Location

log = logging.getLogger("dockyard.registry.s3")
logging.getLogger("botocore").setLevel(logging.WARNING)  # not "Found credentials in ..."

MIN_PART = 5 << 20  # S3's minimum size of every part but the last
PART_SIZE = 16 << 20
PARTS_IN_FLIGHT = 4  # per writer
MAX_PARTS = 10000
COPY_LIMIT = 5 << 30  # CopyObject's limit; larger objects are copied part by part
COPY_PART = 512 << 20
DELETE_BATCH = 1000
POOL_CONNECTIONS = 64
_MISSING = ("404", "NoSuchKey", "NotFound", "NoSuchUpload")


class S3Error(OSError):
    """An S3 request failed (the message names the operation, the key and the reason)."""


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _missing(error: ClientError) -> bool:
    return _code(error) in _MISSING


def part_size_for(part_number: int) -> int:
    """Parts grow with the upload so 10000 of them reach 5 TiB (S3's largest object)."""
    return PART_SIZE << min((part_number - 1) // 1000, 6)


class _Reader:
    """A forward-only reader over a streamed GET (what ``open_read`` returns)."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def read(self, size: int = -1) -> bytes:
        return self._body.read() if size is None or size < 0 else self._body.read(size)

    def close(self) -> None:
        self._body.close()

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _EmptyReader(_Reader):
    def __init__(self) -> None:
        pass

    def read(self, size: int = -1) -> bytes:
        return b""

    def close(self) -> None:
        pass


class S3Writer(StorageWriter):
    """Bytes buffered into parts of a multipart upload (see the module's docstring)."""

    def __init__(self, driver: S3Driver, path: str, state: dict | None = None) -> None:
        self._driver = driver
        self._path = path
        self._key = driver.location.key(path)
        self._closed = False
        self._buffer = bytearray()
        self._pending: deque[tuple[int, int, Future]] = deque()
        state = state or {}
        self._upload_id: str | None = state.get("upload")
        self._parts: list[list] = [list(p) for p in state.get("parts", [])]  # [n, etag, size]
        self._tail: str | None = state.get("tail")
        if self._tail:
            self._buffer += driver._get_key(self._tail)
        self.size = sum(p[2] for p in self._parts) + len(self._buffer)
        if int(state.get("size", self.size)) != self.size:
            raise S3Error(f"s3: upload state of {path} does not match its parts")

    # -- writing ------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writev([data])

    def writev(self, buffers: list) -> None:
        if self._closed:
            raise ValueError("write to a closed S3 writer")
        for data in buffers:
            self._buffer += data
            self.size += len(data)
        while len(self._buffer) >= self._next_part_size():
            size = self._next_part_size()
            chunk = bytes(self._buffer[:size])
            del self._buffer[:size]
            self._send_part(chunk)

    def _next_part_size(self) -> int:
        return part_size_for(self._next_number())

    def _next_number(self) -> int:
        return len(self._parts) + len(self._pending) + 1

    def _send_part(self, chunk: bytes) -> None:
        if self._upload_id is None:
            self._upload_id = self._driver._create_multipart(self._key)
        number = self._next_number()
        if number > MAX_PARTS:
            raise S3Error(f"s3: {self._path} needs more than {MAX_PARTS} parts")
        future = self._driver._pool.submit(
            self._driver._upload_part, self._key, self._upload_id, number, chunk
        )
        self._pending.append((number, len(chunk), future))
        while len(self._pending) >= PARTS_IN_FLIGHT:
            self._collect_one()

    def _collect_one(self) -> None:
        number, size, future = self._pending.popleft()
        self._parts.append([number, future.result(), size])

    def _collect_all(self) -> None:
        try:
            while self._pending:
                self._collect_one()
        finally:
            for _number, _size, future in self._pending:  # after a failure: let them end
                future.cancel()
            self._pending.clear()

    # -- ending -------------------------------------------------------------------

    def sync(self) -> None:
        """Complete the object: afterwards it is readable and the writer is closed."""
        if self._closed:
            return
        self._collect_all()
        if self._upload_id is None:
            self._driver._put_key(self._key, bytes(self._buffer))
        else:
            if self._buffer or not self._parts:
                self._send_part(bytes(self._buffer))
                self._collect_all()
            self._driver._complete(self._key, self._upload_id, self._parts)
        self._buffer = bytearray()
        self._closed = True

    def suspend(self) -> dict | None:
        """Stop writing, keeping everything for ``resume_writer``: the state to give it."""
        if self._closed:
            return None
        self._closed = True
        self._collect_all()
        if len(self._buffer) >= MIN_PART:
            self._closed = False
            self._send_part(bytes(self._buffer))
            self._buffer = bytearray()
            self._collect_all()
            self._closed = True
        tail = None
        if self._buffer:
            tail = f"{self._key}.tail-{uuid.uuid4().hex}"
            self._driver._put_key(tail, bytes(self._buffer))
        return {"upload": self._upload_id, "parts": self._parts, "tail": tail, "size": self.size}

    def close(self) -> None:
        """A writer opened to write an object completes it; see ``suspend`` for pieces."""
        if not self._closed:
            self.sync()

    def cancel(self) -> None:
        self._closed = True
        for _number, _size, future in self._pending:
            future.cancel()
        self._pending.clear()
        if self._upload_id is not None:
            self._driver._abort(self._key, self._upload_id)


class S3Driver(StorageDriver):
    """Blocking S3 object storage under ``location`` (see the module's docstring)."""

    needs_upload_state = True

    def __init__(self, location: S3Location, create_bucket: bool = True) -> None:
        self.location = location
        self.bucket = location.bucket
        self.client = _make_client(location)
        self._pool = ThreadPoolExecutor(32, thread_name_prefix="s3-part")
        if create_bucket:
            self.ensure_bucket()

    # -- the bucket ---------------------------------------------------------------------

    def ensure_bucket(self) -> None:
        """Create the bucket when it is absent (nodes starting together may all try)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as error:
            if _code(error) in ("403", "AccessDenied"):
                raise S3Error(
                    f"s3: access to bucket {self.bucket} denied (wrong keys, or another "
                    "account's bucket)"
                ) from None
            if _code(error) not in ("404", "NoSuchBucket", "NotFound"):
                raise self._error("head bucket", "", error) from None
        except BotoCoreError as error:
            raise self._error("head bucket", "", error) from None
        arguments: dict[str, Any] = {"Bucket": self.bucket}
        region = self.location.region
        if region and region != "us-east-1":
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.client.create_bucket(**arguments)
            log.info("created bucket %s", self.bucket)
        except ClientError as error:
            if _code(error) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise self._error("create bucket", "", error) from None
            # another node created it first: usable when it is ours
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError as again:
                raise self._error("create bucket", "", again) from None

    # -- requests ----------------------------------------------------------------------

    def _error(self, operation: str, key: str, error: Exception) -> S3Error:
        reason = str(error)
        if isinstance(error, ClientError):
            detail = error.response.get("Error", {})
            reason = f"{detail.get('Code', '?')}: {detail.get('Message') or reason}"
        where = f" {key}" if key else ""
        return S3Error(f"s3 {operation} s3://{self.bucket}/{where.strip()}: {reason}")

    def _call(self, operation: str, key: str, function, **arguments):
        try:
            return function(Bucket=self.bucket, **arguments)
        except ClientError as error:
            if _missing(error):
                raise FileNotFoundError(key) from None
            raise self._error(operation, key, error) from None
        except BotoCoreError as error:
            raise self._error(operation, key, error) from None

    def _get_key(self, key: str) -> bytes:
        reply = self._call("get", key, self.client.get_object, Key=key)
        with reply["Body"] as body:
            return body.read()

    def _put_key(self, key: str, data: bytes) -> None:
        self._call("put", key, self.client.put_object, Key=key, Body=data)

    def _create_multipart(self, key: str) -> str:
        reply = self._call("create multipart upload", key, self.client.create_multipart_upload,
                           Key=key)  # fmt: skip
        return reply["UploadId"]

    def _upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> str:
        reply = self._call("upload part", key, self.client.upload_part, Key=key,
                           UploadId=upload_id, PartNumber=number, Body=data)  # fmt: skip
        return reply["ETag"]

    def _complete(self, key: str, upload_id: str, parts: list[list]) -> None:
        listing = [{"PartNumber": n, "ETag": etag} for n, etag, _size in parts]
        self._call("complete multipart upload", key, self.client.complete_multipart_upload,
                   Key=key, UploadId=upload_id, MultipartUpload={"Parts": listing})  # fmt: skip

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self._call("abort multipart upload", key, self.client.abort_multipart_upload,
                       Key=key, UploadId=upload_id)  # fmt: skip
        except FileNotFoundError:
            pass

    # -- the interface --------------------------------------------------------------------

    def stat(self, path: str) -> FileInfo | None:
        key = self.location.key(path)
        try:
            reply = self._call("head", key, self.client.head_object, Key=key)
        except FileNotFoundError:
            return None
        return FileInfo(path, int(reply["ContentLength"]), reply["LastModified"].timestamp())

    def get(self, path: str) -> bytes:
        return self._get_key(self.location.key(path))

    def put(self, path: str, data: bytes) -> None:
        self._put_key(self.location.key(path), bytes(data))

    def open_read(self, path: str, offset: int = 0) -> BinaryIO:
        key = self.location.key(path)
        arguments: dict[str, Any] = {"Key": key}
        if offset:
            arguments["Range"] = f"bytes={offset}-"
        try:
            reply = self._call("get", key, self.client.get_object, **arguments)
        except S3Error as error:
            if "InvalidRange" in str(error):  # at or past the end: nothing to read
                return _EmptyReader()  # type: ignore[return-value]
            raise
        return _Reader(reply["Body"])  # type: ignore[return-value]

    def read_range(self, path: str, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        key = self.location.key(path)
        try:
            reply = self._call("get", key, self.client.get_object, Key=key,
                               Range=f"bytes={offset}-{offset + length - 1}")  # fmt: skip
        except S3Error as error:
            if "InvalidRange" in str(error):
                return b""
            raise
        with reply["Body"] as body:
            return body.read()

    def writer(self, path: str, append: bool = False) -> StorageWriter:
        writer = S3Writer(self, path)
        if append:
            self._prepend_existing(writer, path)
        return writer

    def _prepend_existing(self, writer: S3Writer, path: str) -> None:
        """Start a writer with the object's current bytes (server-side when large)."""
        info = self.stat(path)
        if info is None or info.size == 0:
            return
        key = self.location.key(path)
        if info.size < MIN_PART:
            writer.writev([self.get(path)])
            return
        writer._upload_id = self._create_multipart(key)
        etag = self._copy_part(key, key, writer._upload_id, 1, 0, info.size)
        writer._parts.append([1, etag, info.size])
        writer.size = info.size

    def resume_writer(self, path: str, state: dict | None) -> StorageWriter:
        if state is None:
            return self.writer(path, append=True)
        return S3Writer(self, path, state)

    def _copy_part(
        self, source: str, destination: str, upload_id: str, number: int, start: int, size: int
    ) -> str:
        reply = self._call(
            "copy part",
            destination,
            self.client.upload_part_copy,
            Key=destination,
            UploadId=upload_id,
            PartNumber=number,
            CopySource={"Bucket": self.bucket, "Key": source},
            CopySourceRange=f"bytes={start}-{start + size - 1}",
        )
        return reply["CopyPartResult"]["ETag"]

    def copy(self, source: str, destination: str) -> None:
        """Server-side copy (part by part above CopyObject's 5 GiB limit)."""
        source_key = self.location.key(source)
        destination_key = self.location.key(destination)
        info = self.stat(source)
        if info is None:
            raise FileNotFoundError(source)
        if info.size <= COPY_LIMIT:
            self._call("copy", destination_key, self.client.copy_object, Key=destination_key,
                       CopySource={"Bucket": self.bucket, "Key": source_key})  # fmt: skip
            return
        upload_id = self._create_multipart(destination_key)
        try:
            parts = []
            for number, start in enumerate(range(0, info.size, COPY_PART), 1):
                size = min(COPY_PART, info.size - start)
                etag = self._copy_part(source_key, destination_key, upload_id, number, start, size)
                parts.append([number, etag, size])
            self._complete(destination_key, upload_id, parts)
        except BaseException:
            self._abort(destination_key, upload_id)
            raise

    def move(self, source: str, destination: str) -> None:
        self.copy(source, destination)
        key = self.location.key(source)
        self._call("delete", key, self.client.delete_object, Key=key)

    def delete(self, path: str) -> None:
        if not path.strip("/"):
            raise ValueError("refusing to delete the whole storage location")
        key = self.location.key(path.strip("/"))
        keys = [key]
        for item in self._list_keys(key + "/", delimiter=None):
            keys.append(item["Key"])
        for item in self._list_keys(key + ".tail-", delimiter=None):
            keys.append(item["Key"])
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            self._call("delete", key, self.client.delete_objects,
                       Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})  # fmt: skip
        for upload in self._multipart_uploads(key):
            self._abort(upload["Key"], upload["UploadId"])

    def _multipart_uploads(self, key: str) -> list[dict]:
        """Unfinished multipart uploads of ``key`` and of keys under ``key/``."""
        found = []
        paginator = self.client.get_paginator("list_multipart_uploads")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=key):
                for upload in page.get("Uploads", []):
                    if upload["Key"] == key or upload["Key"].startswith(key + "/"):
                        found.append(upload)
        except (ClientError, BotoCoreError) as error:
            raise self._error("list multipart uploads", key, error) from None
        return found

    def _list_keys(self, prefix: str, delimiter: str | None) -> Iterator[dict]:
        paginator = self.client.get_paginator("list_objects_v2")
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            arguments["Delimiter"] = delimiter
        try:
            for page in paginator.paginate(**arguments):
                yield from page.get("Contents", [])
                for common in page.get("CommonPrefixes", []):
                    yield {"Prefix": common["Prefix"]}
        except (ClientError, BotoCoreError) as error:
            raise self._error("list", prefix, error) from None

    def _relative(self, key: str) -> str:
        prefix = self.location.prefix
        return key[len(prefix) + 1 :] if prefix else key

    def _directory(self, path: str) -> str:
        """The key prefix of everything under ``path`` ("" is the whole location)."""
        key = self.location.key(path.strip("/")) if path.strip("/") else self.location.prefix
        return key + "/" if key else ""

    def list(self, prefix: str) -> list[str]:
        base = self._directory(prefix)
        names = set()
        for item in self._list_keys(base, delimiter="/"):
            name = (item.get("Key") or item["Prefix"])[len(base) :].strip("/")
            if name:
                names.add(name)
        return sorted(names)

    def walk(self, prefix: str) -> Iterator[FileInfo]:
        base = self._directory(prefix)
        for item in self._list_keys(base, delimiter=None):
            yield FileInfo(
                self._relative(item["Key"]), int(item["Size"]), item["LastModified"].timestamp()
            )

    def redirect_url(self, path: str) -> str | None:
        """A presigned GET URL when the location asks for redirects (Range works on it)."""
        if not self.location.redirect:
            return None
        return self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self.location.key(path)},
            ExpiresIn=self.location.redirect_ttl,
        )

    def describe(self) -> str:
        return self.location.display()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.client.close()


def _make_client(location: S3Location):
    session = botocore.session.Session(profile=location.profile)
    credentials: dict[str, str] = {}
    if location.access_key or location.secret_key:
        if not (location.access_key and location.secret_key):
            raise InvalidArgument("S3 access key and secret key go together")
        credentials = {
            "aws_access_key_id": location.access_key,
            "aws_secret_access_key": location.secret_key,
        }
        if location.session_token:
            credentials["aws_session_token"] = location.session_token
    else:
        try:
            found = session.get_credentials()
        except BotoCoreError as error:
            raise InvalidArgument(f"cannot read S3 credentials: {error}") from None
        if found is None:
            raise InvalidArgument(
                "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "an AWS profile, or the registry configuration's s3 keys"
            )
    region = location.region or session.get_config_variable("region") or "us-east-1"
    config = botocore.config.Config(
        signature_version="s3v4",
        s3={
            "addressing_style": location.addressing_style,
            # the registry verifies every blob's digest itself; signing each part's
            # SHA-256 over plain HTTP would hash every byte once more
            "payload_signing_enabled": False,
        },
        max_pool_connections=POOL_CONNECTIONS,
        retries={"max_attempts": 5, "mode": "standard"},
        connect_timeout=10,
        read_timeout=120,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        tcp_keepalive=True,
    )
    return session.create_client(
        "s3", endpoint_url=location.endpoint, region_name=region, config=config, **credentials
    )


def open_s3(storage: str, **credentials: str | None) -> S3Driver:
    """The driver for ``s3://BUCKET[/PREFIX]?...`` (the bucket created when absent)."""
    location = S3Location.parse(storage, **credentials)
    try:
        return S3Driver(location)
    except S3Error as error:
        raise InvalidArgument(f"cannot use {location.display()}: {error}") from None
