"""Storage in an S3 bucket: AWS or any S3-compatible service.

A path ``/a/b`` is the key ``<prefix>/a/b``. An uncommitted writer lives beside its key::

    <prefix>/uploads/<id>/data              the object, once committed
    (multipart upload on that same key)     full parts, invisible until completed
    <prefix>/uploads/<id>/data!writer       JSON saved by close(): upload id, parts, tail segments
    <prefix>/uploads/<id>/data!tail.<n>     bytes one session closed before they filled a part

S3 accepts a part under 5 MiB only as the last one and cannot read back the parts of an incomplete
upload, so bytes that do not fill a part when a writer closes are saved as a small tail segment
instead. The next session folds the segments into a part once part_size bytes are pending: every
byte is read back at most once, so many small chunked PATCHes across replicas cost traffic in
proportion to the data, and memory stays under two parts. ``!`` is never valid in a path, so these
keys cannot collide with stored objects; list and walk hide them.
"""

from __future__ import annotations

import asyncio
import builtins
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, ParamSpec, TypeVar, cast

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from registry.storage.base import (
    FileInfo,
    FileWriter,
    InvalidOffsetError,
    InvalidPathError,
    PathNotFoundError,
    StorageError,
    check_path,
)
from registry.storage.settings import S3StorageSettings

if TYPE_CHECKING:
    from botocore.response import StreamingBody
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.literals import BucketLocationConstraintType
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

_P = ParamSpec("_P")
_T = TypeVar("_T")

CHUNK_SIZE = 1024 * 1024
# DeleteObjects takes at most this many keys per request.
_DELETE_BATCH = 1000
# CopyObject copies at most 5 GiB; above that the managed copy switches to part copies.
_COPY_CONFIG = TransferConfig(
    multipart_threshold=5 * 1024**3, multipart_chunksize=256 * 1024**2, max_concurrency=4
)
_PRESIGN_SECONDS = 20 * 60
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_EPOCH = datetime.fromtimestamp(0, UTC)


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _blob(data: bytearray) -> bytes:
    # botocore takes a bytearray body as it is (its validator lists the type); the stubs say only
    # bytes, and converting would copy a whole part.
    return cast("bytes", data)


def _visible(relative: str) -> bool:
    if not relative:
        return False
    try:
        check_path(f"/{relative}")
    except InvalidPathError:
        return False
    return True


def _client(settings: S3StorageSettings) -> S3Client:
    config = Config(
        s3={"addressing_style": "path"} if settings.path_style else None,
        retries={"mode": "standard"},
        # Newer botocore adds CRC checksums to every upload by default, which several
        # S3-compatible stores reject; send one only where S3 demands it.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    # A session of its own: boto3's default session is shared module state and not thread-safe.
    session = boto3.session.Session()
    return session.client(
        "s3",
        region_name=settings.region,
        endpoint_url=settings.endpoint_url,
        aws_access_key_id=settings.access_key.get_secret_value() if settings.access_key else None,
        aws_secret_access_key=(
            settings.secret_key.get_secret_value() if settings.secret_key else None
        ),
        config=config,
    )


@dataclass
class _WriterState:
    """What a writer's close() saves; parts and segments beyond it belong to a lost session."""

    upload_id: str | None = None
    parts: int = 0
    parts_size: int = 0
    segments: list[tuple[int, int]] = field(default_factory=list)  # (number, size), in order
    next_segment: int = 1

    @property
    def size(self) -> int:
        return self.parts_size + sum(size for _, size in self.segments)

    def cut_back(self, offset: int, path: str, driver: str) -> list[int]:
        """Forget the tail segments stored beyond ``offset``; return their numbers.

        Each close() ends on a segment, so a session closed but never recorded by its caller
        ends exactly on one; parts cannot be shortened, so an offset inside them is refused.
        """
        size = self.size
        if offset > size:
            raise InvalidOffsetError(path, driver, f"offset {offset} > stored {size}")
        dropped: list[int] = []
        while size > offset and self.segments and size - self.segments[-1][1] >= offset:
            number, segment_size = self.segments.pop()
            dropped.append(number)
            size -= segment_size
        if size != offset:
            raise InvalidOffsetError(path, driver, f"cannot cut back from {size} to {offset}")
        return dropped

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "upload_id": self.upload_id,
                "parts": self.parts,
                "parts_size": self.parts_size,
                "segments": self.segments,
                "next_segment": self.next_segment,
            }
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> _WriterState:
        data = json.loads(raw)
        return cls(
            upload_id=data["upload_id"],
            parts=int(data["parts"]),
            parts_size=int(data["parts_size"]),
            segments=[(int(number), int(size)) for number, size in data["segments"]],
            next_segment=int(data["next_segment"]),
        )


class S3Driver:
    """A :class:`~registry.storage.base.StorageDriver` over a bucket, optionally below a prefix."""

    name = "s3"

    def __init__(self, settings: S3StorageSettings) -> None:
        if not settings.bucket:
            raise ValueError("the s3 storage driver needs a bucket")
        prefix = settings.prefix.strip("/")
        self._root = f"{prefix}/" if prefix else ""
        self._bucket = settings.bucket
        self._region = settings.region
        self._redirect = settings.redirect
        self.part_size = settings.part_size
        self._client = _client(settings)
        self._bucket_ready = not settings.create_bucket

    def _key(self, path: str) -> str:
        return self._root + path[1:]

    def _dir_prefix(self, path: str) -> str:
        return self._root if path == "/" else f"{self._key(path)}/"

    async def _io(self, call: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """Run a blocking boto3 call in a worker thread, creating the bucket first if asked to."""
        if not self._bucket_ready:
            await asyncio.to_thread(self._ensure_bucket)
            self._bucket_ready = True
        return await asyncio.to_thread(call, *args, **kwargs)

    def _ensure_bucket(self) -> None:
        try:
            self._client.head_bucket(Bucket=self._bucket)
            return
        except ClientError as exc:
            if _code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
                raise
        try:
            if self._region == "us-east-1":
                self._client.create_bucket(Bucket=self._bucket)
            else:
                self._client.create_bucket(
                    Bucket=self._bucket,
                    # The stubs list the regions known when they were built; S3-compatible
                    # services have their own names.
                    CreateBucketConfiguration={
                        "LocationConstraint": cast("BucketLocationConstraintType", self._region)
                    },
                )
        except ClientError as exc:
            # Another replica created it first.
            if _code(exc) != "BucketAlreadyOwnedByYou":
                raise

    async def get_content(self, path: str) -> bytes:
        return await self._io(self._get_content, path)

    def _get_content(self, path: str) -> bytes:
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=self._key(path))
        except ClientError as exc:
            if _code(exc) in _MISSING_CODES:
                raise PathNotFoundError(path, self.name) from None
            raise
        with response["Body"] as body:
            return body.read()

    async def put_content(self, path: str, content: bytes) -> None:
        await self._io(
            self._client.put_object, Bucket=self._bucket, Key=self._key(path), Body=content
        )

    async def reader(
        self, path: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        body = await self._io(self._open_range, path, offset, length)
        if body is None:
            return
        try:
            while chunk := await asyncio.to_thread(body.read, CHUNK_SIZE):
                yield chunk
        finally:
            body.close()

    def _open_range(self, path: str, offset: int, length: int | None) -> StreamingBody | None:
        if length == 0:
            self._check_offset(path, offset)
            return None
        try:
            if offset == 0 and length is None:
                response = self._client.get_object(Bucket=self._bucket, Key=self._key(path))
            else:
                end = "" if length is None else str(offset + length - 1)
                response = self._client.get_object(
                    Bucket=self._bucket, Key=self._key(path), Range=f"bytes={offset}-{end}"
                )
        except ClientError as exc:
            if _code(exc) in _MISSING_CODES:
                raise PathNotFoundError(path, self.name) from None
            if _code(exc) != "InvalidRange":
                raise
            # S3 refuses a range starting at the end; reading from there is valid and empty.
            self._check_offset(path, offset)
            return None
        return response["Body"]

    def _check_offset(self, path: str, offset: int) -> None:
        size = self._head(path).size
        if offset > size:
            raise InvalidOffsetError(path, self.name, f"offset {offset} > size {size}")

    def _head(self, path: str) -> FileInfo:
        try:
            response = self._client.head_object(Bucket=self._bucket, Key=self._key(path))
        except ClientError as exc:
            if _code(exc) in _MISSING_CODES:
                raise PathNotFoundError(path, self.name) from None
            raise
        return FileInfo(path, response["ContentLength"], response["LastModified"].astimezone(UTC))

    async def writer(
        self, path: str, append: bool = False, offset: int | None = None
    ) -> FileWriter:
        key = self._key(path)
        if append:
            state = await self._io(self._load_writer_state, path, key)
            dropped = [] if offset is None else state.cut_back(offset, path, self.name)
            return _S3Writer(self, path, key, state, resumed=True, stale=dropped)
        await self._io(self._discard_writer, path, key)
        return _S3Writer(self, path, key, _WriterState(), resumed=False)

    def _load_writer_state(self, path: str, key: str) -> _WriterState:
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=f"{key}!writer")
        except ClientError as exc:
            if _code(exc) in _MISSING_CODES:
                raise PathNotFoundError(path, self.name, "no writer to resume") from None
            raise
        with response["Body"] as body:
            return _WriterState.from_json(body.read())

    def _discard_writer(self, path: str, key: str) -> None:
        """Abort the uploads and delete the bookkeeping of any earlier writer for ``key``."""
        for page in self._client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self._bucket, Prefix=key
        ):
            for upload in page.get("Uploads", []):
                if upload["Key"] == key:
                    self._abort(key, upload["UploadId"])
        self._delete_keys(path, self._keys_under(f"{key}!"))

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if _code(exc) != "NoSuchUpload":
                raise

    def _keys_under(self, prefix: str) -> builtins.list[str]:
        return [
            item["Key"]
            for page in self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=prefix
            )
            for item in page.get("Contents", [])
        ]

    def _delete_keys(self, path: str, keys: builtins.list[str]) -> None:
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = keys[start : start + _DELETE_BATCH]
            response = self._client.delete_objects(
                Bucket=self._bucket,
                Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
            )
            if errors := response.get("Errors", []):
                first = errors[0]
                raise StorageError(
                    path,
                    self.name,
                    f"{len(errors)} keys not deleted, first {first.get('Key')}: "
                    f"{first.get('Code')} {first.get('Message')}",
                )

    def _read_key(self, path: str, key: str) -> bytes:
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _MISSING_CODES:
                raise StorageError(path, self.name, f"writer data {key} is missing") from None
            raise
        with response["Body"] as body:
            return body.read()

    async def stat(self, path: str) -> FileInfo:
        return await self._io(self._stat, path)

    def _stat(self, path: str) -> FileInfo:
        if path == "/":
            return FileInfo(path, 0, _EPOCH, is_dir=True)
        try:
            return self._head(path)
        except PathNotFoundError:
            pass
        response = self._client.list_objects_v2(
            Bucket=self._bucket, Prefix=self._dir_prefix(path), MaxKeys=1
        )
        contents = response.get("Contents", [])
        if not contents:
            raise PathNotFoundError(path, self.name)
        return FileInfo(path, 0, contents[0]["LastModified"].astimezone(UTC), is_dir=True)

    async def list(self, path: str) -> builtins.list[str]:
        return await self._io(self._list, path)

    def _list(self, path: str) -> builtins.list[str]:
        prefix = self._dir_prefix(path)
        names: set[str] = set()
        found = False
        for page in self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=prefix, Delimiter="/"
        ):
            for common in page.get("CommonPrefixes", []):
                names.add(common["Prefix"][len(prefix) :].rstrip("/"))
                found = True
            for item in page.get("Contents", []):
                names.add(item["Key"][len(prefix) :])
                found = True
        if not found and path != "/":
            raise PathNotFoundError(path, self.name)
        base = "" if path == "/" else path
        return sorted(f"{base}/{name}" for name in names if "/" not in name and _visible(name))

    async def move(self, source: str, dest: str) -> None:
        await self._io(self._move, source, dest)

    def _move(self, source: str, dest: str) -> None:
        if source == dest:
            self._head(source)
            return
        source_key = self._key(source)
        try:
            # The managed copy is server-side and also handles objects over CopyObject's 5 GiB.
            self._client.copy(
                {"Bucket": self._bucket, "Key": source_key},
                self._bucket,
                self._key(dest),
                Config=_COPY_CONFIG,
            )
        except ClientError as exc:
            if _code(exc) in _MISSING_CODES:
                raise PathNotFoundError(source, self.name) from None
            raise
        self._client.delete_object(Bucket=self._bucket, Key=source_key)

    async def delete(self, path: str) -> None:
        await self._io(self._delete, path)

    async def delete_objects(self, paths: Sequence[str]) -> None:
        # DeleteObjects skips keys that are not there, so no listing is needed.
        keys = [self._key(path) for path in paths]
        await self._io(self._delete_keys, paths[0] if paths else "/", keys)

    def _delete(self, path: str) -> None:
        key = self._key(path)
        keys: builtins.list[str] = []
        has_tree = False
        # The delimiter keeps neighbours that merely share the name's prefix (/a vs /ab/…) to one
        # entry each; the subtree is listed only when it exists.
        for page in self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=key, Delimiter="/"
        ):
            for item in page.get("Contents", []):
                if item["Key"] == key or item["Key"].startswith(f"{key}!"):
                    keys.append(item["Key"])
            has_tree = has_tree or any(
                common["Prefix"] == f"{key}/" for common in page.get("CommonPrefixes", [])
            )
        if has_tree:
            keys.extend(self._keys_under(f"{key}/"))
        uploads = [
            (upload["Key"], upload["UploadId"])
            for page in self._client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self._bucket, Prefix=key
            )
            for upload in page.get("Uploads", [])
            if upload["Key"] == key or upload["Key"].startswith(f"{key}/")
        ]
        if not keys and not uploads:
            raise PathNotFoundError(path, self.name)
        for upload_key, upload_id in uploads:
            self._abort(upload_key, upload_id)
        self._delete_keys(path, keys)

    async def redirect_url(self, path: str, method: str = "GET") -> str | None:
        operations = {"GET": "get_object", "HEAD": "head_object"}
        if not self._redirect or method not in operations:
            return None
        return await self._io(
            self._client.generate_presigned_url,
            operations[method],
            Params={"Bucket": self._bucket, "Key": self._key(path)},
            ExpiresIn=_PRESIGN_SECONDS,
        )

    async def open_file(self, path: str) -> IO[bytes] | None:
        return None

    async def walk(self, path: str) -> AsyncIterator[FileInfo]:
        pages = iter(
            self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=self._dir_prefix(path)
            )
        )
        found = False
        while page := await self._io(lambda: next(pages, None)):
            for item in page.get("Contents", []):
                found = True
                relative = item["Key"][len(self._root) :]
                if _visible(relative):
                    modified = item["LastModified"].astimezone(UTC)
                    yield FileInfo(f"/{relative}", item["Size"], modified)
        if not found and path != "/":
            raise PathNotFoundError(path, self.name)


class _S3Writer:
    def __init__(
        self,
        driver: S3Driver,
        path: str,
        key: str,
        state: _WriterState,
        *,
        resumed: bool,
        stale: list[int] | None = None,
    ) -> None:
        self._driver = driver
        self._client = driver._client
        self._bucket = driver._bucket
        self._path = path
        self._key = key
        self._state = state
        self._resumed = resumed
        # Bytes of this session not yet in a part or a tail segment.
        self._buffer = bytearray()
        self._segments_size = sum(size for _, size in state.segments)
        # ETags of parts uploaded by this session; earlier ones come from ListParts at commit.
        self._etags: dict[int, str] = {}
        # Segments already folded into a part, deleted once close() saved a state without them.
        self._stale: list[int] = list(stale or [])
        self._size = state.parts_size + self._segments_size
        self._closed = False
        self._committed = False

    @property
    def size(self) -> int:
        return self._size

    @property
    def _pending(self) -> int:
        return self._segments_size + len(self._buffer)

    async def write(self, data: bytes) -> None:
        self._ensure_open()
        part_size = self._driver.part_size
        view = memoryview(data)
        while True:
            if self._pending >= part_size:
                await self._driver._io(self._upload_pending)
            if not view:
                return
            taken = view[: part_size - self._pending]
            self._buffer += taken
            self._size += len(taken)
            view = view[len(taken) :]

    def _pending_bytes(self) -> bytearray:
        if not self._state.segments:
            return self._buffer
        data = bytearray()
        for number, _ in self._state.segments:
            data += self._driver._read_key(self._path, self._segment_key(number))
        data += self._buffer
        return data

    def _upload_pending(self) -> None:
        state = self._state
        body = self._pending_bytes()
        if state.upload_id is None:
            upload = self._client.create_multipart_upload(Bucket=self._bucket, Key=self._key)
            state.upload_id = upload["UploadId"]
        number = state.parts + 1
        response = self._client.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=state.upload_id,
            PartNumber=number,
            Body=_blob(body),
        )
        # State changes only once the part is stored, so a failed upload loses nothing.
        self._etags[number] = response["ETag"]
        state.parts = number
        state.parts_size += len(body)
        self._stale.extend(number for number, _ in state.segments)
        state.segments = []
        self._segments_size = 0
        self._buffer = bytearray()

    def _segment_key(self, number: int) -> str:
        return f"{self._key}!tail.{number}"

    async def close(self) -> None:
        if self._closed:
            return
        await self._driver._io(self._save)
        self._closed = True

    def _save(self) -> None:
        state = self._state
        if self._buffer:
            number = state.next_segment
            self._client.put_object(
                Bucket=self._bucket, Key=self._segment_key(number), Body=_blob(self._buffer)
            )
            state.segments.append((number, len(self._buffer)))
            state.next_segment += 1
            self._segments_size += len(self._buffer)
            self._buffer = bytearray()
        self._client.put_object(
            Bucket=self._bucket, Key=f"{self._key}!writer", Body=state.to_json()
        )
        if self._stale:
            self._driver._delete_keys(self._path, [self._segment_key(n) for n in self._stale])
            self._stale = []

    async def rollback(self) -> None:
        # Nothing is saved: the state an earlier close() stored still describes the object, and
        # parts or segments this writer uploaded beyond it are overwritten by the next writer or
        # deleted with the upload.
        if self._closed:
            return
        self._closed = True
        self._buffer = bytearray()

    async def commit(self) -> None:
        self._ensure_open()
        await self._driver._io(self._complete)
        self._closed = self._committed = True

    def _complete(self) -> None:
        state = self._state
        tail = self._pending_bytes()
        if state.upload_id is None:
            self._client.put_object(Bucket=self._bucket, Key=self._key, Body=_blob(tail))
        else:
            parts = self._uploaded_parts(state.upload_id)
            if tail:
                number = state.parts + 1
                response = self._client.upload_part(
                    Bucket=self._bucket,
                    Key=self._key,
                    UploadId=state.upload_id,
                    PartNumber=number,
                    Body=_blob(tail),
                )
                parts.append({"PartNumber": number, "ETag": response["ETag"]})
            self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=state.upload_id,
                MultipartUpload={"Parts": parts},
            )
        self._buffer = bytearray()
        if self._resumed:
            self._driver._delete_keys(self._path, self._driver._keys_under(f"{self._key}!"))

    def _uploaded_parts(self, upload_id: str) -> list[CompletedPartTypeDef]:
        etags = dict(self._etags)
        if len(etags) < self._state.parts:
            # Parts beyond the saved count are leftovers of a session that died before close().
            for page in self._client.get_paginator("list_parts").paginate(
                Bucket=self._bucket, Key=self._key, UploadId=upload_id
            ):
                for part in page.get("Parts", []):
                    number = part["PartNumber"]
                    if number <= self._state.parts:
                        etags.setdefault(number, part["ETag"])
        if len(etags) < self._state.parts:
            raise StorageError(self._path, self._driver.name, "multipart upload lost parts")
        return [
            {"PartNumber": number, "ETag": etags[number]}
            for number in range(1, self._state.parts + 1)
        ]

    async def cancel(self) -> None:
        if self._committed:
            return
        self._closed = True
        self._buffer = bytearray()
        await self._driver._io(self._driver._discard_writer, self._path, self._key)

    def _ensure_open(self) -> None:
        if self._closed:
            raise StorageError(self._path, self._driver.name, "writer is closed")
