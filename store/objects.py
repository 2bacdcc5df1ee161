"""Object storage behind one interface: a local folder (default) or an S3 bucket through boto3.

Samples name their file by a URI:
- ``store://KEY``          a key in the configured object store (uploads land here);
- ``s3://BUCKET/KEY``      any object in S3 (the configured endpoint and credentials are used);
- ``/absolute/path``       a file on this machine (folders imported in place).
``Locations`` turns such a URI into (ObjectStore, key) so the rest of the code never cares.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator, Protocol

from .errors import NotFound, StorageError, ValidationError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ObjectInfo:
    key: str  # relative to the store's root / prefix, '/'-separated
    size: int


CHUNK_SIZE = 256 * 1024  # a ranged or streamed read yields pieces of at most this many bytes


class ObjectStore(Protocol):
    name: str

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]: ...
    def get(self, key: str) -> bytes: ...
    def put(self, key: str, data: bytes) -> None: ...
    def delete(self, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def uri(self, key: str) -> str: ...
    def local_path(self, key: str) -> Path | None: ...
    def size(self, key: str) -> int: ...
    def iter_range(self, key: str, start: int = 0, stop: int | None = None,
                   chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]: ...


def clean_key(key: str) -> str:
    """A key with no `..`, no leading slash, no empty or dot parts; refuses keys that escape."""
    parts = [p for p in PurePosixPath(key.replace("\\", "/")).parts if p not in ("", ".", "/")]
    if any(p == ".." for p in parts):
        raise ValidationError(f"refused path {key!r}: '..' is not allowed in object keys")
    if not parts:
        raise ValidationError("empty object key")
    return "/".join(parts)


_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")


def safe_file_name(name: str, default: str = "file") -> str:
    """A file name safe to store: no directories, no control or shell-special characters.

    Unicode letters and spaces are kept (people name files in their own language)."""
    name = unicodedata.normalize("NFC", str(name)).replace("\\", "/").split("/")[-1]
    name = _UNSAFE.sub("_", name).strip()
    if name.startswith("."):
        stripped = name.lstrip(".")
        # '..png' or '.png': the dot that went was the extension's; keep the extension
        name = stripped if "." in stripped or not stripped else f"{default}.{stripped}"
    if not name:
        return default
    if len(name.encode()) > 200:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:16] if dot else ""
        name = (stem or name).encode()[: 200 - len(ext) - 1].decode("utf-8", "ignore") + ("." + ext if ext else "")
    return name


class LocalFolderStore:
    """Objects are files under one folder."""

    def __init__(self, root: Path | str, name: str = "local"):
        self.root = Path(root).resolve()
        self.name = name

    def _path(self, key: str) -> Path:
        path = (self.root / clean_key(key)).resolve() if key else self.root
        if path != self.root and self.root not in path.parents:
            raise ValidationError(f"refused path {key!r}: it leaves the storage folder")
        return path

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        base = self._path(prefix) if prefix else self.root
        if not base.exists():
            return
        if base.is_file():
            yield ObjectInfo(clean_key(prefix), base.stat().st_size)
            return
        # os.walk with followlinks: datasets made of symlinked files and folders are common.
        for dirpath, dirnames, filenames in os.walk(base, followlinks=True):
            dirnames.sort()
            for fn in sorted(filenames):
                full = Path(dirpath) / fn
                try:
                    size = full.stat().st_size
                except OSError:
                    continue  # a dangling link
                rel = full.relative_to(self.root).as_posix()
                yield ObjectInfo(rel, size)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"file not found: {key}") from None
        except IsADirectoryError:
            raise NotFound(f"{key} is a folder, not a file") from None

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def delete(self, key: str) -> None:
        path = self._path(key)
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def uri(self, key: str) -> str:
        return str(self._path(key))

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def size(self, key: str) -> int:
        path = self._path(key)
        try:
            if not path.is_file():
                raise NotFound(f"{key} is a folder, not a file" if path.is_dir() else f"file not found: {key}")
            return path.stat().st_size
        except FileNotFoundError:
            raise NotFound(f"file not found: {key}") from None

    def iter_range(self, key: str, start: int = 0, stop: int | None = None,
                   chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """Bytes [start, stop) of the file in pieces: seeks to start and reads only the range.
        The file is opened now (NotFound before anything is sent), closed when the iterator ends
        or is closed."""
        path = self._path(key)
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            raise NotFound(f"file not found: {key}") from None
        except IsADirectoryError:
            raise NotFound(f"{key} is a folder, not a file") from None
        return _file_chunks(f, start, stop, chunk_size)


class S3Store:
    """Objects under a prefix of an S3 bucket (AWS or any S3-compatible server)."""

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str = "", region: str = "",
                 name: str = "s3", connect_timeout: float = 5.0, retries: int = 2, credentials: dict | None = None):
        import boto3
        from botocore.config import Config

        if not bucket:
            raise ValidationError("S3 storage needs a bucket name")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.name = name
        self.endpoint_url = endpoint_url or None
        config = Config(connect_timeout=connect_timeout, read_timeout=30,
                        retries={"max_attempts": retries, "mode": "standard"})
        # credentials: aws_access_key_id, aws_secret_access_key, aws_session_token given by the app
        # (a Ray worker: store/workers.py); without them, boto3's usual chain (AWS_* variables...)
        self.client = boto3.client("s3", endpoint_url=self.endpoint_url, region_name=region or None,
                                   config=config, **(credentials or {}))

    def _key(self, key: str) -> str:
        key = clean_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, what: str, fn, *args, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(*args, **kwargs)
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise NotFound(f"not found in s3://{self.bucket}: {what}") from None
            if code == "NoSuchBucket":
                raise StorageError(f"S3 bucket {self.bucket!r} does not exist") from None
            raise StorageError(f"S3 refused {what}: {code or e}") from None
        except BotoCoreError as e:
            where = self.endpoint_url or "AWS"
            raise StorageError(f"S3 storage at {where} cannot be reached ({what}): {e}") from None

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        full = self._key(prefix) if prefix else self.prefix
        if full and not full.endswith("/"):
            full += "/"
        strip = len(self.prefix) + 1 if self.prefix else 0
        paginator = self.client.get_paginator("list_objects_v2")
        pages = self._call(f"list {full}", lambda: iter(paginator.paginate(Bucket=self.bucket, Prefix=full)))
        while True:
            page = self._call(f"list {full}", next, pages, None)
            if page is None:
                return
            for obj in page.get("Contents", []):
                if obj["Key"].endswith("/"):
                    continue
                yield ObjectInfo(obj["Key"][strip:], obj["Size"])

    def get(self, key: str) -> bytes:
        resp = self._call(f"get {key}", self.client.get_object, Bucket=self.bucket, Key=self._key(key))
        return resp["Body"].read()

    def put(self, key: str, data: bytes) -> None:
        self._call(f"put {key}", self.client.put_object, Bucket=self.bucket, Key=self._key(key), Body=data)

    def delete(self, key: str) -> None:
        self._call(f"delete {key}", self.client.delete_object, Bucket=self.bucket, Key=self._key(key))

    def exists(self, key: str) -> bool:
        try:
            self._call(f"head {key}", self.client.head_object, Bucket=self.bucket, Key=self._key(key))
            return True
        except NotFound:
            return False

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def local_path(self, key: str) -> Path | None:
        return None

    def size(self, key: str) -> int:
        resp = self._call(f"head {key}", self.client.head_object, Bucket=self.bucket, Key=self._key(key))
        return int(resp["ContentLength"])

    def iter_range(self, key: str, start: int = 0, stop: int | None = None,
                   chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """Bytes [start, stop) of the object in pieces, with one ranged GET (Range: bytes=a-b):
        S3 sends only the range. The request is made now (NotFound before anything is sent)."""
        if stop is not None and stop <= start:
            return iter(())
        args = {"Bucket": self.bucket, "Key": self._key(key)}
        if start > 0 or stop is not None:
            args["Range"] = f"bytes={start}-{'' if stop is None else stop - 1}"
        resp = self._call(f"get {key}", self.client.get_object, **args)
        return _body_chunks(resp["Body"], chunk_size)

    def check(self) -> None:
        """Raise StorageError when the bucket cannot be reached."""
        self._call("head bucket", self.client.head_bucket, Bucket=self.bucket)


def _file_chunks(f, start: int, stop: int | None, chunk_size: int) -> Iterator[bytes]:
    with f:
        f.seek(max(0, start))
        left = None if stop is None else max(0, stop - max(0, start))
        while left is None or left > 0:
            piece = f.read(chunk_size if left is None else min(chunk_size, left))
            if not piece:
                return
            if left is not None:
                left -= len(piece)
            yield piece


def _body_chunks(body, chunk_size: int) -> Iterator[bytes]:
    from botocore.exceptions import BotoCoreError

    try:
        for piece in body.iter_chunks(chunk_size):
            if piece:
                yield piece
    except BotoCoreError as e:
        raise StorageError(f"S3 stopped sending a file: {e}") from None
    finally:
        body.close()


def parse_s3_url(url: str) -> tuple[str, str]:
    if not url.startswith("s3://"):
        raise ValidationError(f"not an s3:// URL: {url}")
    bucket, _, key = url[5:].partition("/")
    if not bucket:
        raise ValidationError(f"no bucket in {url}")
    return bucket, key


class Locations:
    """Resolves sample URIs to (store, key): the configured store, S3 buckets, local files."""

    def __init__(self, default: ObjectStore, s3_endpoint: str = "", s3_region: str = "",
                 allow_local_paths: bool = True):
        self.default = default
        self.allow_local_paths = allow_local_paths
        self.s3_endpoint = s3_endpoint
        self.s3_region = s3_region
        self._buckets: dict[str, S3Store] = {}
        self._filesystem = LocalFolderStore("/", name="filesystem")
        # Never read or deleted through a path or an s3:// URL, whatever a sample row says (set by
        # open_store): the app's data folder (DuckDB file, objects, caches) and the mirror's prefix.
        self.private_folders: list[Path] = []
        self.private_s3: list[tuple[str, str]] = []

    def _check_private(self, uri: str, path: Path | None = None, bucket: str = "", key: str = "") -> None:
        if path is not None:  # private_folders[0]: the data folder; [1:]: public parts of it (objects)
            real = path.resolve()

            def inside(root: Path) -> bool:
                return real == root or root in real.parents
            private = bool(self.private_folders) and inside(self.private_folders[0]) and not any(
                inside(root) for root in self.private_folders[1:])
            if private or real.name.endswith((".duckdb", ".wal", "admin.token")):
                raise ValidationError(f"{uri!r}: the app's own files are not served as samples")
        for b, prefix in self.private_s3:
            if bucket == b and (not prefix or key.startswith(prefix)):
                raise ValidationError(f"{uri!r}: the store's mirror is not served as samples")

    def check_local_allowed(self, path: str) -> None:
        if not self.allow_local_paths:
            raise ValidationError(f"{path}: reading folders of the server's disk is turned off here "
                                  "(LABELPORT_ALLOW_LOCAL_PATHS=0); upload the files or use an s3:// prefix")

    def bucket(self, name: str) -> S3Store:
        if name not in self._buckets:
            self._buckets[name] = S3Store(name, endpoint_url=self.s3_endpoint, region=self.s3_region)
        return self._buckets[name]

    def resolve(self, uri: str) -> tuple[ObjectStore, str]:
        if uri.startswith("store://"):
            return self.default, uri[len("store://"):]
        if uri.startswith("s3://"):
            bucket, key = parse_s3_url(uri)
            self._check_private(uri, bucket=bucket, key=key)
            return self.bucket(bucket), key
        if uri.startswith("file://"):
            uri = uri[len("file://"):]
        path = Path(uri)
        if not path.is_absolute():
            raise ValidationError(f"{uri!r} is neither an absolute path nor an s3:// or store:// URI")
        self.check_local_allowed(uri)
        self._check_private(uri, path=path)
        return self._filesystem, path.as_posix().lstrip("/")

    def read(self, uri: str) -> bytes:
        store, key = self.resolve(uri)
        return store.get(key)

    def delete(self, uri: str) -> None:
        store, key = self.resolve(uri)
        store.delete(key)

    def delete_file(self, uri: str) -> None:
        """Delete one file, never a folder (a sample's source whose path is a folder is refused)."""
        store, key = self.resolve(uri)
        path = store.local_path(key)
        if path is not None and path.is_dir():
            raise ValidationError(f"{uri} is a folder: only files are deleted")
        if isinstance(store, S3Store) and (not key or key.endswith("/")):
            raise ValidationError(f"{uri} is a prefix: only files are deleted")
        store.delete(key)

    def local_path(self, uri: str) -> Path | None:
        store, key = self.resolve(uri)
        return store.local_path(key)

    def size(self, uri: str) -> int:
        """The size in bytes of the file a URI names (a stat, or a HEAD in S3): nothing is read."""
        store, key = self.resolve(uri)
        return store.size(key)

    def iter_range(self, uri: str, start: int = 0, stop: int | None = None,
                   chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """Bytes [start, stop) of the file a URI names, in pieces of at most chunk_size, read as
        they are consumed (only the range is read: a seek, or a ranged GET in S3)."""
        store, key = self.resolve(uri)
        return store.iter_range(key, start, stop, chunk_size)

    def public_uri(self, uri: str) -> str:
        """What exports write as `source`: an absolute path or an s3:// URL."""
        if uri.startswith("store://"):
            return self.default.uri(uri[len("store://"):])
        return uri

    def list_source(self, source: str) -> Iterator[tuple[str, str, int]]:
        """Files under a dataset source: yields (uri, path relative to the source, size)."""
        if source.startswith("store://"):
            prefix = source[len("store://"):]
            for obj in self.default.list(prefix):
                yield "store://" + obj.key, obj.key[len(prefix):].lstrip("/"), obj.size
        elif source.startswith("s3://"):
            bucket, prefix = parse_s3_url(source)
            store = self.bucket(bucket)
            for obj in store.list(prefix):
                yield f"s3://{bucket}/{obj.key}", obj.key[len(prefix):].lstrip("/"), obj.size
        else:
            self.check_local_allowed(source)
            root = Path(source).expanduser()
            if not root.is_absolute():
                root = root.absolute()
            if not root.exists():
                raise NotFound(f"folder not found: {source}")
            if root.is_file():
                yield str(root), root.name, root.stat().st_size
                return
            folder = LocalFolderStore(root)
            for obj in folder.list():
                yield str(root / obj.key), obj.key, obj.size


def make_object_store(settings) -> ObjectStore:
    if settings.storage == "s3":
        return S3Store(settings.s3_bucket, settings.s3_prefix, settings.s3_endpoint, settings.s3_region)
    if settings.storage != "local":
        raise ValidationError(f"unknown storage {settings.storage!r}: use 'local' or 's3'")
    root = Path(settings.objects_root)
    root.mkdir(parents=True, exist_ok=True)
    return LocalFolderStore(root)
