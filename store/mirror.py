"""The mirror (DESIGN "Store"): the store's tables as Parquet plus a JSON manifest in a bucket, so a
Space (or any machine) whose disk is wiped gets its store back on the next start.

Layout under the mirror target ``s3://BUCKET/PREFIX`` (LABELPORT_MIRROR):

- ``mirror/<UTC time>-<random>/<table>.parquet``   one file per table (a consistent snapshot)
- ``mirror/<UTC time>-<random>/objects.parquet``   the local uploads (key, size) at that time
- ``mirror/<UTC time>-<random>/manifest.json``     tables, rows, sha256 per file, schema version,
                                                   sequence values, created_at — written last
- ``mirror/LATEST.json``                           {"prefix", "created_at"}: the pointer, switched
                                                   only after a complete mirror
- ``objects/<key>``                                the local object folder, uploaded incrementally

A mirror is never taken before it is complete: files go to a new prefix, the manifest after them,
and only then the pointer. The last few mirrors are kept; older ones are deleted after the switch.

``restore_store`` reads the pointer and the manifest, checks every file's sha256, builds a new
DuckDB file in a temporary name (migrations up to the mirrored schema version, then the rows,
then the sequences), downloads the objects and only then moves the file into place.

``MirrorScheduler`` mirrors in a background thread once writes have been quiet for
``mirror_debounce_s`` (at least every few minutes under constant writes), retries failures with a
backoff, never blocks requests, and mirrors once more on shutdown.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import NotFound, StorageError, StoreError, ValidationError

log = logging.getLogger(__name__)

KEEP_MIRRORS = 3
POINTER = "mirror/LATEST.json"
MANIFEST = "manifest.json"
OBJECTS_LIST = "objects.parquet"
STATUS_KEY = "mirror_status"
MAX_RETRY_S = 300.0
TRANSFER_THREADS = 8
MANIFEST_FORMAT = 1


# -- the target ------------------------------------------------------------------------------------

class MirrorTarget:
    """The mirror's bucket and prefix, through the S3 object store's client (endpoint, region and
    credentials as for S3 object storage: LABELPORT_S3_ENDPOINT, AWS_* variables)."""

    def __init__(self, url: str, endpoint: str = "", region: str = ""):
        from .objects import S3Store, parse_s3_url

        if not url.startswith("s3://"):
            raise ValidationError(f"LABELPORT_MIRROR must be s3://BUCKET/PREFIX, not {url!r}")
        bucket, prefix = parse_s3_url(url.rstrip("/"))
        self.url = url
        self.s3 = S3Store(bucket, prefix, endpoint_url=endpoint, region=region, name="mirror")

    @classmethod
    def of(cls, settings) -> "MirrorTarget":
        if not settings.mirror:
            raise ValidationError("no mirror is configured: set LABELPORT_MIRROR=s3://BUCKET/PREFIX")
        return cls(settings.mirror, settings.s3_endpoint, settings.s3_region)

    def full_key(self, key: str) -> str:
        return self.s3._key(key)

    def put_bytes(self, key: str, data: bytes) -> None:
        self.s3.put(key, data)

    def get_bytes(self, key: str) -> bytes:
        return self.s3.get(key)

    def _transfer(self, what: str, fn, *args) -> None:
        from boto3.exceptions import Boto3Error

        try:
            self.s3._call(what, fn, *args)
        except Boto3Error as e:  # S3UploadFailedError and friends: not botocore errors
            raise StorageError(f"S3 at {self.s3.endpoint_url or 'AWS'} failed ({what}): {e}") from None

    def upload_file(self, key: str, path: Path) -> None:
        self._transfer(f"upload {key}", self.s3.client.upload_file, str(path), self.s3.bucket, self.full_key(key))

    def download_file(self, key: str, path: Path) -> None:
        self._transfer(f"download {key}", self.s3.client.download_file, self.s3.bucket, self.full_key(key), str(path))

    def list(self, prefix: str) -> dict[str, int]:
        return {o.key: o.size for o in self.s3.list(prefix)}

    def delete_many(self, keys: list[str]) -> None:
        for i in range(0, len(keys), 1000):
            batch = [{"Key": self.full_key(k)} for k in keys[i:i + 1000]]
            self.s3._call("delete old mirror", self.s3.client.delete_objects, Bucket=self.s3.bucket,
                          Delete={"Objects": batch, "Quiet": True})

    def pointer(self) -> dict | None:
        """LATEST.json, or None when nothing was ever mirrored here (StorageError: unreachable)."""
        try:
            return json.loads(self.get_bytes(POINTER))
        except NotFound:
            return None
        except ValueError as e:
            raise StorageError(f"{self.url}/{POINTER} is not valid JSON: {e}") from None


# -- results and status ---------------------------------------------------------------------------

@dataclass
class MirrorResult:
    prefix: str
    tables: int
    rows: int
    bytes: int
    seconds: float
    objects_uploaded: int = 0
    objects_bytes: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class RestoreResult:
    prefix: str
    created_at: str
    tables: int
    rows: int
    bytes: int
    objects: int
    seconds: float
    database: str = ""
    moved_aside: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _state(store):
    """This store's mirror state (store/caches.py MirrorState): one mirror at a time, the last
    status in memory, the running scheduler."""
    return store.caches.mirror


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def mirror_status(store) -> dict:
    """What the last mirror did: configured, target, result (never/ok/failed), error, times, bytes."""
    state = _state(store)
    with state.status_lock:
        current = state.status
    if current is None:
        current = {}
        try:
            raw = store.db.get_meta(STATUS_KEY)
            current = json.loads(raw) if raw else {}
        except Exception:  # noqa: BLE001 - the status is informative; never fail a request over it
            current = {}
    out = {"configured": bool(store.settings.mirror), "target": store.settings.mirror,
           "debounce_s": store.settings.mirror_debounce_s, "result": "never", "error": "",
           "last_attempt_at": None, "last_ok_at": None, "prefix": None, "bytes": 0, "seconds": None,
           "failures": 0}
    out.update(current)
    out["configured"] = bool(store.settings.mirror)
    out["target"] = store.settings.mirror
    return out


def _record_status(store, **changes) -> dict:
    status = {k: v for k, v in mirror_status(store).items() if k not in ("configured", "target", "debounce_s")}
    status.update(changes)
    state = _state(store)
    with state.status_lock:
        state.status = status
    state.quiet.on = True
    try:
        store.db.set_meta(STATUS_KEY, json.dumps(status, default=str))
    except Exception:  # noqa: BLE001 - a closed store at shutdown: the memory copy stays
        log.debug("could not write the mirror status to the meta table", exc_info=True)
    finally:
        state.quiet.on = False
    return status


# -- mirroring ------------------------------------------------------------------------------------

def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _tables(cur) -> list[str]:
    return [r[0] for r in cur.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
        "AND table_type = 'BASE TABLE' ORDER BY table_name").fetchall()]


def _sequences(cur) -> dict[str, int]:
    rows = cur.execute("SELECT sequence_name, last_value FROM duckdb_sequences() "
                       "WHERE schema_name = 'main' AND NOT temporary").fetchall()
    return {name: int(value or 0) for name, value in rows}


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _snapshot(store, folder: Path) -> dict:
    """Every table to folder/<table>.parquet from one read transaction (a consistent snapshot
    that never holds the write lock), then the sequences (read after: never behind the rows)."""
    con = store.db._con.cursor()
    try:
        con.begin()
        try:
            version = int(next(iter(con.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'").fetchall()), ("0",))[0])
            tables: dict[str, dict] = {}
            for table in _tables(con):
                path = folder / f"{table}.parquet"
                rows = con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0]
                con.execute(f"COPY (SELECT * FROM \"{table}\") TO '{_sql_path(path)}' "
                            "(FORMAT parquet, COMPRESSION zstd)")
                tables[table] = {"file": path.name, "rows": int(rows)}
        finally:
            con.rollback()  # read only: nothing to commit
        sequences = _sequences(con)
    finally:
        con.close()
    return {"schema_version": version, "tables": tables, "sequences": sequences}


def _local_objects_root(store) -> Path | None:
    settings = store.settings
    if settings.storage != "local":
        return None
    root = Path(settings.objects_root)
    return root if root.is_dir() else None


_remote_objects: dict[tuple, dict[str, int]] = {}  # (endpoint, target) -> {key: size} under objects/


def _mirror_objects(store, target: MirrorTarget, folder: Path) -> tuple[int, int, int, int]:
    """Upload local objects the bucket lacks (same key and size = already there); write the list
    of objects of this moment to folder/objects.parquet. Returns (count, bytes, uploaded, uploaded bytes)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .objects import LocalFolderStore

    root = _local_objects_root(store)
    local: dict[str, int] = {}
    if root is not None:
        local = {o.key: o.size for o in LocalFolderStore(root).list() if not o.key.endswith(".part")}
    todo = []
    cache_key = (target.s3.endpoint_url, target.url)
    if local:
        remote = _remote_objects.pop(cache_key, None)  # put back only after a complete upload
        if remote is None:  # the bucket's listing once per process, then kept up to date here
            remote = {k[len("objects/"):]: size for k, size in target.list("objects").items()}
        todo = [k for k, size in local.items() if remote.get(k) != size]
    uploaded = 0

    def up(key: str) -> int:
        target.upload_file("objects/" + key, root / key)
        return local[key]

    if todo:
        with ThreadPoolExecutor(TRANSFER_THREADS) as pool:
            uploaded = sum(pool.map(up, todo))
    if local:
        remote.update({k: local[k] for k in todo})
        _remote_objects[cache_key] = remote
    keys = sorted(local)
    pq.write_table(pa.table({"key": pa.array(keys, pa.string()),
                             "size": pa.array([local[k] for k in keys], pa.int64())}), folder / OBJECTS_LIST)
    return len(local), sum(local.values()), len(todo), uploaded


def _new_prefix() -> str:
    return "mirror/" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(4)


def mirror_store(store, target: MirrorTarget | None = None) -> MirrorResult:
    """Mirror the store now (one mirror at a time per store); records the status (ok or failed)."""
    target = target or MirrorTarget.of(store.settings)
    with _state(store).lock:
        attempt = _now()
        try:
            result = _mirror(store, target)
        except Exception as e:
            failures = int(mirror_status(store).get("failures") or 0) + 1
            _record_status(store, result="failed", error=f"{type(e).__name__}: {e}" if not isinstance(e, StoreError)
                           else str(e), last_attempt_at=attempt, failures=failures)
            raise
        _record_status(store, result="ok", error="", last_attempt_at=attempt, last_ok_at=_now(),
                       prefix=result.prefix, bytes=result.bytes, seconds=result.seconds, failures=0,
                       tables=result.tables, rows=result.rows)
        return result


def _mirror(store, target: MirrorTarget) -> MirrorResult:
    started = time.perf_counter()
    prefix = _new_prefix()
    with tempfile.TemporaryDirectory(prefix="labelport-mirror-") as tmp:
        folder = Path(tmp)
        snap = _snapshot(store, folder)
        n_objects, objects_bytes, n_uploaded, uploaded_bytes = _mirror_objects(store, target, folder)
        files: dict[str, dict] = {}
        for path in sorted(folder.iterdir()):
            files[path.name] = {"sha256": _sha256(path), "bytes": path.stat().st_size}

        def up(name: str) -> None:
            target.upload_file(f"{prefix}/{name}", folder / name)

        with ThreadPoolExecutor(min(TRANSFER_THREADS, max(1, len(files)))) as pool:
            list(pool.map(up, files))
        created_at = _now()
        manifest = {
            "format": MANIFEST_FORMAT, "created_at": created_at, "prefix": prefix,
            "schema_version": snap["schema_version"], "database": store.settings.database.name,
            "tables": {t: {**info, **files[info["file"]]} for t, info in snap["tables"].items()},
            "sequences": snap["sequences"],
            "objects": {"file": OBJECTS_LIST, "count": n_objects, "bytes": objects_bytes,
                        "root": "objects/", **files[OBJECTS_LIST]},
        }
        target.put_bytes(f"{prefix}/{MANIFEST}", json.dumps(manifest, indent=1).encode())
        # the mirror is complete: only now does the pointer name it
        target.put_bytes(POINTER, json.dumps({"prefix": prefix, "created_at": created_at}).encode())
    try:
        _prune(target, keep=prefix)
    except StoreError as e:
        log.warning("mirror %s written, but older mirrors could not be deleted: %s", prefix, e)
    total = sum(f["bytes"] for f in files.values()) + uploaded_bytes
    result = MirrorResult(prefix=prefix, tables=len(snap["tables"]),
                          rows=sum(t["rows"] for t in snap["tables"].values()), bytes=total,
                          seconds=round(time.perf_counter() - started, 3), objects_uploaded=n_uploaded,
                          objects_bytes=objects_bytes)
    log.info("mirrored the store to %s/%s: %d tables, %d rows, %d bytes in %.1f s", target.url, prefix,
             result.tables, result.rows, result.bytes, result.seconds)
    return result


def _prune(target: MirrorTarget, keep: str, n: int = KEEP_MIRRORS) -> None:
    """Delete mirror prefixes older than the newest n complete ones (never the one pointed to)."""
    keys = target.list("mirror")
    by_prefix: dict[str, list[str]] = {}
    for key in keys:
        parts = key.split("/")
        if len(parts) >= 3:
            by_prefix.setdefault("/".join(parts[:2]), []).append(key)
    complete = sorted(p for p, ks in by_prefix.items() if f"{p}/{MANIFEST}" in ks)
    kept = set(complete[-n:]) | {keep}
    newest_kept = max(kept)
    # incomplete prefixes older than the newest kept one are failed attempts: delete them too
    stale = [k for p, ks in by_prefix.items() if p not in kept and p < newest_kept for k in ks]
    if stale:
        target.delete_many(stale)


# -- restoring ------------------------------------------------------------------------------------

def read_manifest(target: MirrorTarget) -> dict:
    pointer = target.pointer()
    if pointer is None:
        raise NotFound(f"no mirror at {target.url} (no {POINTER})")
    try:
        manifest = json.loads(target.get_bytes(f"{pointer['prefix']}/{MANIFEST}"))
    except NotFound:
        raise StorageError(f"the mirror {target.url}/{pointer['prefix']} named by {POINTER} has no manifest") from None
    except ValueError as e:
        raise StorageError(f"the manifest of {target.url}/{pointer['prefix']} is not valid JSON: {e}") from None
    return manifest


def _apply_migrations(con, upto: int) -> None:
    from .db import MIGRATIONS, SCHEMA_VERSION

    if upto > SCHEMA_VERSION:
        raise StoreError(f"the mirror has schema version {upto}, newer than this code ({SCHEMA_VERSION}): "
                         "upgrade the application before restoring")
    for version in range(1, upto + 1):
        con.begin()
        for statement in MIGRATIONS[version - 1]:
            con.execute(statement)
        con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(version)])
        con.commit()


def _load(db_file: Path, folder: Path, manifest: dict) -> int:
    """Build db_file from the Parquet files: schema at the mirrored version, rows, sequences."""
    import duckdb

    con = duckdb.connect(str(db_file))
    try:
        _apply_migrations(con, int(manifest["schema_version"]))
        existing = set(_tables(con))
        rows = 0
        con.begin()
        for table, info in manifest["tables"].items():
            path = _sql_path(folder / info["file"])
            if table not in existing:
                # a table outside the migrations (made by hand): keep it as it was
                con.execute(f"CREATE TABLE \"{table}\" AS SELECT * FROM read_parquet('{path}')")
            else:
                cols = [r[0] for r in con.execute(
                    f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()]
                names = ", ".join(f'"{c}"' for c in cols)
                if table == "meta":
                    con.execute(f"INSERT OR REPLACE INTO meta ({names}) SELECT {names} FROM read_parquet('{path}')")
                else:
                    con.execute(f"INSERT INTO \"{table}\" ({names}) SELECT {names} FROM read_parquet('{path}')")
            got = con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0]
            if table != "meta" and got != info["rows"]:
                raise StorageError(f"restore of {table}: {got} rows loaded, the manifest says {info['rows']}")
            rows += got
        # the mirrored meta row must not claim another version than the schema built here
        con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(manifest["schema_version"])])
        con.commit()
        current = _sequences(con)
        for name, value in manifest.get("sequences", {}).items():
            if value <= 0:
                continue
            if name in current:
                con.execute(f'DROP SEQUENCE "{name}"')
            con.execute(f'CREATE SEQUENCE "{name}" START {int(value) + 1}')
        con.execute("CHECKPOINT")
        return rows
    finally:
        con.close()


def _download_objects(target: MirrorTarget, manifest: dict, folder: Path, objects_root: Path) -> int:
    import pyarrow.parquet as pq

    info = manifest.get("objects") or {}
    listing = folder / info.get("file", OBJECTS_LIST)
    if not info or not listing.exists():
        return 0
    table = pq.read_table(listing)
    wanted = dict(zip(table.column("key").to_pylist(), table.column("size").to_pylist()))
    root = info.get("root", "objects/")

    def down(key: str) -> int:
        from .objects import clean_key

        dest = objects_root / clean_key(key)
        if dest.is_file() and dest.stat().st_size == wanted[key]:
            return 0
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        target.download_file(root + key, part)
        os.replace(part, dest)
        return 1

    if not wanted:
        return 0
    objects_root.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(TRANSFER_THREADS) as pool:
        return sum(pool.map(down, wanted))


def store_exists(settings) -> bool:
    return Path(settings.database).exists()


def restore_store(settings, force: bool = False, target: MirrorTarget | None = None) -> RestoreResult:
    """Restore the newest complete mirror into settings.database (and the local objects).

    Refuses to replace an existing store unless force; then the old file is moved aside (kept as
    <name>.before-restore-<time>), never deleted. Nothing is half-made: the new file is built in
    a temporary name and moved into place last."""
    started = time.perf_counter()
    target = target or MirrorTarget.of(settings)
    db_file = Path(settings.database)
    if db_file.exists() and not force:
        raise StoreError(f"the store {db_file} exists: restoring would replace it; use --force "
                         "(the old file is kept beside it)")
    manifest = read_manifest(target)
    prefix = manifest["prefix"]
    db_file.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=db_file.parent) as tmp:
        folder = Path(tmp)
        files = {info["file"]: info for info in manifest["tables"].values()}
        if manifest.get("objects", {}).get("file"):
            files[manifest["objects"]["file"]] = manifest["objects"]

        def down(name: str) -> None:
            target.download_file(f"{prefix}/{name}", folder / name)
            digest = _sha256(folder / name)
            if digest != files[name]["sha256"]:
                raise StorageError(f"the mirror file {target.url}/{prefix}/{name} is damaged "
                                   f"(sha256 {digest[:12]}… differs from the manifest)")

        with ThreadPoolExecutor(TRANSFER_THREADS) as pool:
            list(pool.map(down, files))
        new_db = folder / db_file.name
        rows = _load(new_db, folder, manifest)
        n_objects = _download_objects(target, manifest, folder, Path(settings.objects_root)) \
            if settings.storage == "local" else 0
        moved = ""
        if db_file.exists():
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            aside = db_file.with_name(f"{db_file.name}.before-restore-{stamp}")
            os.replace(db_file, aside)
            moved = str(aside)
        wal = db_file.with_name(db_file.name + ".wal")
        if wal.exists():  # the old file's log must never be replayed onto the restored one
            os.replace(wal, Path(moved + ".wal") if moved else wal.with_name(wal.name + ".orphan"))
        shutil.move(str(new_db), db_file)
    result = RestoreResult(prefix=prefix, created_at=manifest.get("created_at", ""), tables=len(manifest["tables"]),
                           rows=rows, bytes=sum(f["bytes"] for f in files.values()), objects=n_objects,
                           seconds=round(time.perf_counter() - started, 3), database=str(db_file), moved_aside=moved)
    log.info("restored %s from the mirror %s/%s (%s): %d tables, %d rows, %d objects downloaded", db_file,
             target.url, prefix, result.created_at, result.tables, result.rows, result.objects)
    return result


def restore_if_missing(settings) -> RestoreResult | None:
    """On open: no local store and a mirror configured -> restore the newest mirror first.
    Nothing mirrored yet -> None (a fresh store). An unreachable mirror -> StoreError, so the app
    never starts empty while a mirror holds its data."""
    if not settings.mirror or store_exists(settings):
        return None
    try:
        result = restore_store(settings)
    except NotFound:
        log.info("no store at %s and nothing mirrored yet at %s: starting a new store", settings.database,
                 settings.mirror)
        return None
    except StoreError as e:
        raise StoreError(f"there is no store at {settings.database} and it could not be restored from the mirror "
                         f"{settings.mirror}: {e}. Fix the mirror's settings (or reach the bucket) and start "
                         "again; unset LABELPORT_MIRROR to start with an empty store") from None
    log.warning("no store at %s: restored it from the mirror %s (%s, %d rows)", settings.database,
                settings.mirror, result.created_at, result.rows)
    return result


# -- the background scheduler ---------------------------------------------------------------------

class MirrorScheduler:
    """Mirrors after writes, debounced, in one daemon thread; requests never wait for it."""

    def __init__(self, store, debounce_s: float | None = None, max_wait_s: float | None = None):
        self.store = store
        self.debounce_s = max(0.1, float(store.settings.mirror_debounce_s if debounce_s is None else debounce_s))
        self.max_wait_s = max_wait_s if max_wait_s is not None else max(60.0, 6 * self.debounce_s)
        self._cv = threading.Condition()
        now = time.monotonic()
        self._dirty_since: float | None = now  # mirror once after start
        self._last_change = now
        self._retry_at = 0.0
        self._failures = 0
        self._stopping = False
        self._thread: threading.Thread | None = None

    # called by Database.transaction after each commit, under the write lock: keep it tiny
    def note_commit(self) -> None:
        if getattr(_state(self.store).quiet, "on", False):
            return
        with self._cv:
            now = time.monotonic()
            if self._dirty_since is None:
                self._dirty_since = now
            self._last_change = now
            self._cv.notify()

    def start(self) -> "MirrorScheduler":
        self.store.db.on_commit = self.note_commit
        self._thread = threading.Thread(target=self._loop, name="labelport-mirror", daemon=True)
        self._thread.start()
        _state(self.store).scheduler = self
        log.info("mirroring the store to %s (after %.0f s without writes)", self.store.settings.mirror,
                 self.debounce_s)
        return self

    def _due(self) -> float | None:
        if self._dirty_since is None:
            return None
        due = min(self._last_change + self.debounce_s, self._dirty_since + self.max_wait_s)
        return max(due, self._retry_at)

    def _loop(self) -> None:
        while True:
            with self._cv:
                if self._stopping:
                    return
                due = self._due()
                now = time.monotonic()
                if due is None or now < due:
                    self._cv.wait(timeout=5.0 if due is None else min(5.0, due - now))
                    continue
                dirty_since, self._dirty_since = self._dirty_since, None
            self._run_once(dirty_since)

    def _run_once(self, dirty_since: float | None) -> bool:
        try:
            mirror_store(self.store)
        except Exception as e:  # noqa: BLE001 - a failed mirror never stops the app; retried
            with self._cv:
                self._failures += 1
                delay = min(MAX_RETRY_S, max(1.0, min(self.debounce_s, 30.0)) * 2 ** (self._failures - 1))
                self._retry_at = time.monotonic() + delay
                if self._dirty_since is None:
                    self._dirty_since = dirty_since or time.monotonic()
            log.warning("mirror to %s failed (retry in %.0f s): %s", self.store.settings.mirror, delay, e)
            return False
        with self._cv:
            self._failures = 0
            self._retry_at = 0.0
        return True

    def mirror_now(self) -> MirrorResult:
        """Mirror at once (the Mirror now button); raises on failure, which is also recorded."""
        with self._cv:
            dirty_since, self._dirty_since = self._dirty_since, None
        try:
            result = mirror_store(self.store)
        except Exception:
            with self._cv:
                if self._dirty_since is None:
                    self._dirty_since = dirty_since or time.monotonic()
            raise
        with self._cv:
            self._failures, self._retry_at = 0, 0.0
        return result

    def stop(self, flush: bool = True, timeout: float = 300.0) -> None:
        """Stop the thread (after a mirror in progress) and mirror once more if anything changed."""
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.store.db.on_commit == self.note_commit:
            self.store.db.on_commit = None
        if _state(self.store).scheduler is self:
            _state(self.store).scheduler = None
        if flush and self._dirty_since is not None:
            log.info("mirroring the store before shutdown")
            try:
                mirror_store(self.store)
            except Exception as e:  # noqa: BLE001
                log.error("the mirror before shutdown failed: %s (the local store is intact)", e)


def start_scheduler(store) -> MirrorScheduler | None:
    """The server's scheduler when a mirror is configured, else None."""
    if not store.settings.mirror:
        return None
    MirrorTarget.of(store.settings)  # a bad LABELPORT_MIRROR is refused at start
    return MirrorScheduler(store).start()


def mirror_now(store, actor: str | None = None) -> MirrorResult:
    """Mirror at once through the running scheduler (if any), else directly (an admin's action)."""
    from .access import require_admin

    require_admin(store, actor, "mirroring the store")
    scheduler = _state(store).scheduler
    return scheduler.mirror_now() if scheduler is not None else mirror_store(store)


def unusable_store_message(settings, error: Any) -> str:
    db = Path(settings.database)
    data_dir = Path(settings.data_dir)
    return (f"the store {db} cannot be used: it is damaged or not a DuckDB file ({error}). The app does not start "
            f"with an empty store in its place. Either move the file aside (mv {db} {db}.broken) and start "
            f"again{' (it is then restored from the mirror ' + settings.mirror + ')' if settings.mirror else ''}, "
            f"or run `python app.py restore --force --data-dir {data_dir}` to replace it with the newest mirror "
            "(LABELPORT_MIRROR).")


__all__ = ["MirrorResult", "MirrorScheduler", "MirrorTarget", "RestoreResult", "mirror_now", "mirror_status",
           "mirror_store", "restore_if_missing", "restore_store", "start_scheduler", "unusable_store_message"]
