"""Datasets and their samples: creating, scanning a source, registering files, uploads."""
from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Callable, Iterable

import pyarrow as pa

from .core import Store
from .errors import NotFound, StoreError, ValidationError
from .events import now, record_event
from .media import probe_image
from .objects import safe_file_name

log = logging.getLogger(__name__)
PROBE_THREADS = 8


@dataclass(frozen=True)
class Dataset:
    id: int
    name: str
    media: str
    source: str
    created_at: datetime
    samples: int = 0


@dataclass
class FileEntry:
    """A file found in a listing, before it is a sample."""
    uri: str
    path: str
    size: int | None = None
    meta: dict | None = None
    text: str | None = None  # a text record (its uri is file#L<line>)


@dataclass
class Refused:
    path: str
    reason: str


@dataclass
class Checked:
    accepted: list[FileEntry] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)


def _row(r) -> Dataset:
    return Dataset(r[0], r[1], r[2], r[3], r[4], r[5] if len(r) > 5 else 0)


def get_dataset(store: Store, dataset_id: int) -> Dataset:
    r = store.db.fetchone(
        "SELECT d.id, d.name, d.media, d.source, d.created_at, "
        "(SELECT count(*) FROM samples s WHERE s.dataset_id = d.id) FROM datasets d WHERE d.id = ?", [dataset_id])
    if not r:
        raise NotFound(f"dataset {dataset_id} not found")
    return _row(r)


def list_datasets(store: Store, media: str | None = None, actor: str | None = None) -> list[Dataset]:
    """The datasets the actor may build jobs on (store/access.py: their own; all for an admin)."""
    from .access import visible_dataset_ids

    visible = visible_dataset_ids(store, actor)
    sql = ("SELECT d.id, d.name, d.media, d.source, d.created_at, count(s.id) FROM datasets d "
           "LEFT JOIN samples s ON s.dataset_id = d.id WHERE 1 = 1")
    params: list = []
    if media:
        sql += " AND d.media = ?"
        params.append(media)
    if visible is not None:
        sql += " AND d.id IN (SELECT unnest(?::BIGINT[]))"
        params.append(sorted(visible))
    sql += " GROUP BY ALL ORDER BY d.id"
    return [_row(r) for r in store.db.fetchall(sql, params)]


def normalize_source(source: str) -> str:
    source = (source or "").strip()
    if not source:
        raise ValidationError("dataset location is empty: give a folder path or an s3://bucket/prefix URL")
    if source.startswith(("s3://", "store://")):
        return source.rstrip("/") + "/" if not source.endswith("/") else source
    from pathlib import Path

    path = Path(source).expanduser().absolute()
    if not path.exists():
        raise NotFound(f"folder not found: {source}")
    if not path.is_dir():
        raise ValidationError(f"{source} is a file; a dataset location is a folder or an s3:// prefix")
    return str(path)


def create_dataset(store: Store, name: str, media: str, source: str | None = None,
                   actor: str | None = None) -> Dataset:
    """A dataset reading `source` (folder or s3:// prefix) or, with no source, a managed folder of
    the object store that uploads go to."""
    name = (name or "").strip()[:200] or "dataset"
    if source:
        source = normalize_source(source)
    with store.db.transaction() as cur:
        dataset_id = store.db.next_id(cur, "seq_dataset")
        src = source or f"store://datasets/{dataset_id}/"
        cur.execute("INSERT INTO datasets VALUES (?, ?, ?, ?, ?, ?)", [dataset_id, name, media, src, now(), actor])
        record_event(cur, actor, "create_dataset", None, dataset_id=dataset_id, source=src)
    return get_dataset(store, dataset_id)


def find_dataset_by_source(store: Store, source: str, media: str) -> Dataset | None:
    r = store.db.fetchone("SELECT id FROM datasets WHERE source = ? AND media = ? ORDER BY id LIMIT 1",
                          [source, media])
    return get_dataset(store, r[0]) if r else None


def list_source_files(store: Store, source: str, extensions: Iterable[str]) -> list[FileEntry]:
    """Every file under a dataset source whose extension fits the type."""
    exts = tuple(e.lower() for e in extensions)
    return [FileEntry(uri, path, size) for uri, path, size in store.locations.list_source(source)
            if path.lower().endswith(exts) and not PurePosixPath(path).name.startswith(".")]


def check_files(store: Store, entries: list[FileEntry], media: str) -> Checked:
    """Read and check each file (images: format, corruption, size); refused files get a reason."""
    out = Checked()
    if media == "text":
        return _check_text_files(store, entries)
    if media == "audio":  # header only (media/audio.py): a 2-hour file costs nothing
        from .audio import probe_audio

        return _check_media_files(store, entries, probe_audio, "duration")
    if media == "video":  # MP4 (H.264): boxes, movie header and first frame (media/video.py)
        from .video import probe_video

        return _check_media_files(store, entries, probe_video, "frame_count")
    if media != "image":
        out.accepted = list(entries)
        return out

    def probe(entry: FileEntry):
        try:
            if entry.size is not None and entry.size > store.settings.max_upload_bytes:
                raise ValidationError(f"{entry.path}: {entry.size / 2**20:.0f} MB is above the file size limit")
            data = store.locations.read(entry.uri)
            info = probe_image(data, entry.path, store.settings.max_image_pixels)
            return FileEntry(entry.uri, entry.path, len(data), info.as_meta()), None
        except StoreError as e:
            return None, Refused(entry.path, str(e))
        except OSError as e:
            return None, Refused(entry.path, f"{entry.path}: cannot be read ({e.strerror or e})")

    with ThreadPoolExecutor(PROBE_THREADS) as pool:
        for ok, refused in pool.map(probe, entries):
            if ok:
                out.accepted.append(ok)
            else:
                out.refused.append(refused)
    return out


def _check_media_files(store: Store, entries: list[FileEntry], probe: Callable[..., dict], probed_key: str
                       ) -> Checked:
    """check_files for audio and video: probe each file (``probe(source, name)``, a path or the
    bytes); local files in place (only what the probe needs is read), objects (S3, the store) read
    whole. An entry whose meta has ``probed_key`` was probed already (an upload). Refused files get
    a reason; accepted ones get their meta."""
    def check(entry: FileEntry):
        try:
            if entry.meta and probed_key in entry.meta:  # already probed (upload)
                return entry, None
            local = store.locations.local_path(entry.uri)
            if local is not None:  # read in place: no size limit
                if not local.is_file():
                    raise NotFound(f"{entry.path}: file not found")
                meta, size = probe(local, entry.path), local.stat().st_size
            else:
                if entry.size is not None and entry.size > store.settings.max_upload_bytes:
                    raise ValidationError(f"{entry.path}: {entry.size / 2**20:.0f} MB is above the file size limit")
                data = store.locations.read(entry.uri)
                meta, size = probe(data, entry.path), len(data)
            return FileEntry(entry.uri, entry.path, size, meta), None
        except StoreError as e:
            return None, Refused(entry.path, str(e))
        except OSError as e:
            return None, Refused(entry.path, f"{entry.path}: cannot be read ({e.strerror or e})")

    out = Checked()
    with ThreadPoolExecutor(PROBE_THREADS) as pool:
        for ok, refused in pool.map(check, entries):
            if ok:
                out.accepted.append(ok)
            else:
                out.refused.append(refused)
    return out


def _check_text_files(store: Store, entries: list[FileEntry]) -> Checked:
    """Text: an entry that is already a record (has its text) is checked; a whole .txt/.csv/.jsonl
    file is read and becomes one entry per record (store/texts.py)."""
    from .texts import check_text, parse_text_file, record_path, record_uri

    out = Checked()
    for entry in entries:
        if entry.text is not None:
            try:
                check_text(entry.text, entry.path)
                out.accepted.append(entry)
            except StoreError as e:
                out.refused.append(Refused(entry.path, str(e)))
            continue
        try:
            if entry.size is not None and entry.size > store.settings.max_upload_bytes:
                raise ValidationError(f"{entry.path}: {entry.size / 2**20:.0f} MB is above the file size limit")
            parsed = parse_text_file(store.locations.read(entry.uri), entry.path)
        except StoreError as e:
            out.refused.append(Refused(entry.path, str(e)))
            continue
        except OSError as e:
            out.refused.append(Refused(entry.path, f"{entry.path}: cannot be read ({e.strerror or e})"))
            continue
        out.refused += [Refused(entry.path, p) for p in parsed.problems]
        out.accepted += [FileEntry(record_uri(entry.uri, r.line), record_path(entry.path, r.line),
                                   len(r.text.encode("utf-8")), None, r.text) for r in parsed.records]
    return out


def register_samples(store: Store, dataset_id: int, entries: Iterable[FileEntry] | pa.Table,
                     texts: bool = False) -> dict[str, int]:
    """Add files to a dataset in one statement; files already there (same uri) are skipped.

    Returns {uri: sample_id} for every entry, new or not. `entries` may be an Arrow table with
    columns uri, path, size (and optionally meta) for bulk registration from a listing."""
    table = entries if isinstance(entries, pa.Table) else _entries_table(entries)
    if table.num_rows == 0:
        return {}
    with store.db.transaction() as cur:
        cur.register("incoming", table)
        try:
            has_meta = "meta" in table.column_names
            meta_col = "i.meta" if has_meta else "NULL"
            text_col = "i.text" if "text" in table.column_names else "NULL"
            # A listing may name the same file twice: keep the first.
            cur.execute(f"""
                INSERT INTO samples (id, dataset_id, uri, path, size, text, meta, created_at, path_lower)
                SELECT greatest((SELECT coalesce(max(id), 0) FROM samples), (SELECT coalesce(max(
                           CAST(value AS BIGINT)), 0) FROM meta WHERE key = 'sample_id_high_water'))
                       + row_number() OVER (ORDER BY first_pos),
                       ?, uri, path, size, text, meta, ?, lower(path)
                FROM (SELECT i.uri, any_value(i.path) AS path, any_value(i.size) AS size,
                             any_value({meta_col}) AS meta, any_value({text_col}) AS text, min(i.pos) AS first_pos
                      FROM (SELECT *, row_number() OVER () AS pos FROM incoming) i
                      WHERE NOT EXISTS (SELECT 1 FROM samples s WHERE s.dataset_id = ? AND s.uri = i.uri)
                      GROUP BY i.uri)
            """, [dataset_id, now(), dataset_id])
            # ids of deleted samples are never given again (thumbnails are cached by id)
            cur.execute("INSERT OR REPLACE INTO meta SELECT 'sample_id_high_water', CAST(greatest(max(s.id), "
                        "(SELECT coalesce(max(CAST(value AS BIGINT)), 0) FROM meta WHERE key = 'sample_id_high_water')"
                        ") AS VARCHAR) FROM samples s HAVING max(s.id) IS NOT NULL")
            rows = cur.execute(
                "SELECT s.uri, s.id FROM samples s SEMI JOIN incoming i ON s.uri = i.uri WHERE s.dataset_id = ?",
                [dataset_id]).fetchall()
        finally:
            cur.unregister("incoming")
    return dict(rows)


def _entries_table(entries: Iterable[FileEntry]) -> pa.Table:
    entries = list(entries)
    return pa.table({
        "uri": pa.array([e.uri for e in entries], pa.string()),
        "path": pa.array([e.path for e in entries], pa.string()),
        "size": pa.array([e.size for e in entries], pa.int64()),
        "meta": pa.array([json.dumps(e.meta) if e.meta else None for e in entries], pa.string()),
        **({"text": pa.array([e.text for e in entries], pa.string())} if any(e.text is not None for e in entries)
           else {}),
    })


def unique_upload_key(store: Store, dataset: Dataset, file_name: str, taken: set[str]) -> str:
    """A key under the dataset's managed folder for an uploaded file; never overwrites a file."""
    prefix = dataset.source[len("store://"):]
    name = safe_file_name(file_name)
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    candidate, n = name, 1
    while (prefix + candidate) in taken or store.objects.exists(prefix + candidate):
        n += 1
        candidate = f"{stem}-{n}.{ext}" if ext else f"{stem}-{n}"
    taken.add(prefix + candidate)
    return prefix + candidate
