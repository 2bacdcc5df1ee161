"""Views of a job's samples: tabs, filters, paging, counts, one sample; deleting samples
(SPEC F2.3-F2.5)."""
from __future__ import annotations

import json
import secrets
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from .core import Store
from .errors import NotFound, StoreError, ValidationError
from .events import record_event
from .jobs import get_job
from .media import display_png, make_thumbnail
from .access import require_job, require_sample_file

log = logging.getLogger(__name__)
STATUSES = ("unlabeled", "labeled", "to_be_confirmed")
TABS = {"all": "All statuses", "unlabeled": "Unlabeled", "labeled": "Labeled", "to_be_confirmed": "To Be Confirmed"}
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class SampleQuery:
    status: str = "all"  # all | unlabeled | labeled | to_be_confirmed
    labels: tuple[str, ...] = ()  # any of these labels
    name: str = ""  # substring of the file name or path
    labeled_by: str = ""
    hard: bool | None = None  # True: hard examples only; False: not hard
    cluster: str = ""  # sample attribute (auto grouping)
    from_inference: bool | None = None  # data attribute: True = came from inference
    hard_first: bool = False
    page: int = 1
    page_size: int = 50


@dataclass(frozen=True)
class SampleView:
    id: int
    path: str
    uri: str
    status: str
    labels: list[str]
    annotation: dict | None
    labeled_by: str | None
    labeled_at: datetime | None
    hard: bool
    hard_coefficient: float | None
    hard_reason: str | None
    cluster: str | None
    from_inference: bool
    confidence: float | None
    meta: dict = field(default_factory=dict)
    text: str | None = None
    model: str | None = None  # the model that proposed a To Be Confirmed annotation
    version: int = 0  # each save adds 1 (store/history.py); the API's ETag

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Page:
    items: list[SampleView]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _where(job_id: int, q: SampleQuery) -> tuple[str, list, bool]:
    """SQL conditions on job_samples (alias js); the bool says whether samples (s) is needed."""
    conds, params, needs_samples = ["js.job_id = ?"], [job_id], False
    if q.status != "all":
        if q.status not in STATUSES:
            raise ValidationError(f"unknown tab {q.status!r}")
        conds.append("js.status = ?")
        params.append(q.status)
    if q.labels:
        # one list_contains per label: the rows of list_has_any(js.labels, ?), ~6x faster
        conds.append("(" + " OR ".join(["list_contains(js.labels, ?)"] * len(q.labels)) + ")")
        params.extend(q.labels)
    if q.labeled_by:
        conds.append("js.labeled_by = ?")
        params.append(q.labeled_by)
    if q.hard is not None:
        conds.append("js.hard = ?")
        params.append(q.hard)
    if q.cluster:
        conds.append("js.cluster = ?")
        params.append(q.cluster)
    if q.from_inference is not None:
        conds.append("js.from_inference = ?")
        params.append(q.from_inference)
    if q.name.strip():
        # path_lower is lower(path), stored (migration 2); rows written without it still match
        conds.append("contains(coalesce(s.path_lower, lower(s.path)), lower(?))")
        params.append(q.name.strip())
        needs_samples = True
    return " AND ".join(conds), params, needs_samples


_VIEW_COLUMNS = ("s.id, s.path, s.uri, js.status, js.labels, js.annotation, js.labeled_by, js.labeled_at, js.hard, "
                 "js.hard_coefficient, js.hard_reason, js.cluster, js.from_inference, js.confidence, s.meta, s.text, js.model, "
                 "js.version")


def _view(r) -> SampleView:
    return SampleView(r[0], r[1], r[2], r[3], list(r[4]), json.loads(r[5]) if r[5] else None, r[6], r[7], r[8],
                      r[9], r[10], r[11], r[12], r[13], json.loads(r[14]) if r[14] else {}, r[15], r[16], r[17])


_BUCKET_BITS = 14  # deep pages are found from counts per 16,384 sample ids
_SHALLOW = 5_000  # up to this offset a plain ORDER BY ... LIMIT/OFFSET is cheapest


def _count_by_bucket(store: Store, job_id: int, q: SampleQuery, where: str, params: list,
                     needs_samples: bool) -> tuple[list[tuple[int, int]], str, str, list]:
    """[(sample_id >> _BUCKET_BITS, rows)] in order: the total and where any page lies, in one pass;
    with the id column, FROM ... WHERE ... and parameters that select the matching sample ids.

    A filter on the file name alone reads samples only when the job holds every sample of its
    dataset (the usual case): a job's samples are samples of its dataset, so equal counts mean the
    same set, and the join with job_samples is spared."""
    if needs_samples:
        prefix = "js.job_id = ? AND "
        rest = where[len(prefix):]
        if (where.startswith(prefix) and "js." not in rest
                and _where(job_id, replace(q, name=""))[0] == "js.job_id = ?"):
            dataset_id = store.db.scalar("SELECT dataset_id FROM jobs WHERE id = ?", [job_id])
            if store.db.scalar("SELECT (SELECT count(*) FROM job_samples WHERE job_id = ?) "
                               "= (SELECT count(*) FROM samples WHERE dataset_id = ?)", [job_id, dataset_id]):
                matching = f"samples s WHERE s.dataset_id = ? AND {rest}"
                matching_params = [dataset_id, *params[1:]]
                return store.db.fetchall(
                    f"SELECT s.id >> {_BUCKET_BITS} AS bucket, count(*) FROM {matching} GROUP BY bucket ORDER BY bucket",
                    matching_params), "s.id", matching, matching_params
    source = "job_samples js JOIN samples s ON s.id = js.sample_id" if needs_samples else "job_samples js"
    matching = f"{source} WHERE {where}"
    return store.db.fetchall(f"SELECT js.sample_id >> {_BUCKET_BITS} AS bucket, count(*) FROM {matching} "
                             "GROUP BY bucket ORDER BY bucket", params), "js.sample_id", matching, params


def _views_by_id(store: Store, job_id: int, ids: list[int]) -> list[SampleView]:
    """The rows of these samples of the job, in the order given. No job_id filter in SQL: DuckDB
    uses the sample_id indexes only for a filter on that column alone; other jobs' rows are dropped here."""
    if not ids:
        return []
    rows = store.db.fetchall(f"SELECT {_VIEW_COLUMNS}, js.job_id FROM job_samples js JOIN samples s ON s.id = js.sample_id "
                             "WHERE js.sample_id IN (SELECT unnest(?::BIGINT[]))", [ids])
    by_id = {r[0]: r for r in rows if r[-1] == job_id}
    return [_view(by_id[i]) for i in ids if i in by_id]


def query_samples(store: Store, job_id: int, q: SampleQuery, actor: str | None = None) -> Page:
    """One page of a tab with filters. The page's sample ids are picked first, then their rows read.

    A deep page is not found by sorting every row before it: counts per range of sample ids (one
    pass) say which range holds it, and only that range is sorted."""
    require_job(store, actor, job_id, "read")
    if not 1 <= q.page_size <= MAX_PAGE_SIZE:
        raise ValidationError(f"page size must be between 1 and {MAX_PAGE_SIZE}")
    where, params, needs_samples = _where(job_id, q)
    source = "job_samples js JOIN samples s ON s.id = js.sample_id" if needs_samples else "job_samples js"
    buckets = None
    # A file-name filter (a scan) or a deep page: the counts per bucket give the total too.
    if not q.hard_first and (needs_samples or (max(1, q.page) - 1) * q.page_size > _SHALLOW):
        buckets, id_col, matching, matching_params = _count_by_bucket(store, job_id, q, where, params, needs_samples)
        total = sum(n for _, n in buckets)
    else:
        total = store.db.scalar(f"SELECT count(*) FROM {source} WHERE {where}", params)
    if total == 0:
        get_job(store, job_id)  # an empty view of a job that does not exist is an error
    pages = max(1, -(-total // q.page_size))
    page = min(max(1, q.page), pages)
    offset = (page - 1) * q.page_size
    if buckets is None:
        order = "js.hard DESC, js.hard_coefficient DESC NULLS LAST, js.sample_id" if q.hard_first else "js.sample_id"
        ids = [r[0] for r in store.db.fetchall(
            f"SELECT js.sample_id FROM {source} WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, q.page_size, offset])]
    else:
        lo = hi = None
        skip = before = 0
        for bucket, n in buckets:  # the buckets holding rows offset .. offset + page_size - 1
            if before >= offset + q.page_size:
                break
            if before + n > offset:
                if lo is None:
                    lo, skip = bucket, offset - before
                hi = bucket
            before += n
        ids = [] if lo is None else [r[0] for r in store.db.fetchall(
            f"SELECT {id_col} FROM {matching} AND {id_col} BETWEEN ? AND ? ORDER BY {id_col} LIMIT ? OFFSET ?",
            [*matching_params, lo << _BUCKET_BITS, ((hi + 1) << _BUCKET_BITS) - 1, q.page_size, skip])]
    return Page(_views_by_id(store, job_id, ids), total, page, q.page_size)


def page_sample_ids(store: Store, job_id: int, q: SampleQuery, actor: str | None = None) -> list[int]:
    require_job(store, actor, job_id, "read")
    return [item.id for item in query_samples(store, job_id, q).items]


def get_sample(store: Store, job_id: int, sample_id: int, actor: str | None = None) -> SampleView:
    require_job(store, actor, job_id, "read")
    r = store.db.fetchone(f"SELECT {_VIEW_COLUMNS} FROM job_samples js JOIN samples s ON s.id = js.sample_id "
                          "WHERE js.job_id = ? AND js.sample_id = ?", [job_id, sample_id])
    if not r:
        raise NotFound(f"sample {sample_id} is not in this job (deleted?)")
    return _view(r)


@dataclass(frozen=True)
class Counts:
    total: int
    by_status: dict[str, int]
    by_label: dict[str, int]


def status_counts(store: Store, job_id: int, actor: str | None = None) -> dict[str, int]:
    require_job(store, actor, job_id, "view")
    rows = dict(store.db.fetchall("SELECT status, count(*) FROM job_samples WHERE job_id = ? GROUP BY status",
                                  [job_id]))
    return {s: rows.get(s, 0) for s in STATUSES}


def label_counts(store: Store, job_id: int, actor: str | None = None) -> dict[str, int]:
    require_job(store, actor, job_id, "view")
    from .annotations import label_usage

    return label_usage(store, job_id)


def counts(store: Store, job_id: int, actor: str | None = None) -> Counts:
    require_job(store, actor, job_id, "view")
    by_status = status_counts(store, job_id)
    return Counts(sum(by_status.values()), by_status, label_counts(store, job_id))


def labelers(store: Store, job_id: int, actor: str | None = None) -> list[str]:
    require_job(store, actor, job_id, "read")
    return [r[0] for r in store.db.fetchall(
        "SELECT DISTINCT labeled_by FROM job_samples WHERE job_id = ? AND labeled_by IS NOT NULL ORDER BY 1",
        [job_id])]


def clusters(store: Store, job_id: int, actor: str | None = None) -> list[str]:
    require_job(store, actor, job_id, "read")
    return [r[0] for r in store.db.fetchall(
        "SELECT DISTINCT cluster FROM job_samples WHERE job_id = ? AND cluster IS NOT NULL ORDER BY 1", [job_id])]


def set_hard(store: Store, job_id: int, sample_ids: list[int], hard: bool, coefficient: float | None = None,
             reason: str | None = None, actor: str | None = None) -> int:
    """Mark or unmark hard examples by hand, in bulk (F4.6)."""
    require_job(store, actor, job_id, "label")  # store/access.py decides
    if coefficient is not None and not 0 <= coefficient <= 1:
        raise ValidationError("a hard-example coefficient lies between 0 and 1")
    ids = [int(s) for s in sample_ids]
    if not ids:
        raise ValidationError("select at least one sample first")
    with store.db.transaction() as cur:
        n = cur.execute(
            "UPDATE job_samples SET hard = ?, hard_coefficient = ?, hard_reason = ? "
            "WHERE job_id = ? AND sample_id IN (SELECT unnest(?::BIGINT[]))",
            [hard, coefficient if hard else None, (reason or "marked by hand") if hard else None, job_id, ids]
        ).fetchall()[0][0]
        record_event(cur, actor, "mark_hard" if hard else "unmark_hard", job_id, samples=n)
    return n


def set_cluster(store: Store, job_id: int, assignments: dict[int, str]) -> None:
    """Sample attribute from auto grouping (F4.7)."""
    with store.db.transaction() as cur:
        cur.executemany("UPDATE job_samples SET cluster = ? WHERE job_id = ? AND sample_id = ?",
                        [[c, job_id, s] for s, c in assignments.items()])


@dataclass
class DeleteResult:
    removed: int
    files_deleted: int
    errors: list[str]


def delete_samples(store: Store, job_id: int, sample_ids: list[int], delete_source: bool = False,
                   actor: str | None = None) -> DeleteResult:
    """Remove samples from the job into the trash (store/trash.py), with their labels, history and
    team work (assignments, reviews, acceptance items): restorable for Settings.trash_days.
    With delete_source their files are deleted from storage too (and the samples leave the dataset
    and every job on it): this cannot be undone. Only files, never folders; only the dataset's own
    uploaded files unless an admin asks (store/access.py); a file that may not go stays, named in
    the result's errors, and its sample is only removed from this job."""
    from .access import deletable_source, parse_ids
    from .trash import trash_samples

    require_job(store, actor, job_id, "manage")  # store/access.py decides
    job = get_job(store, job_id)
    ids = list(dict.fromkeys(parse_ids(sample_ids, "sample id")))
    if not ids:
        raise ValidationError("select at least one sample to delete")
    uris: list[tuple[int, str]] = []
    errors: list[str] = []
    with store.db.transaction() as cur:
        # only samples of this job: ids of another job's dataset are never touched through this one
        ids = [r[0] for r in cur.execute(
            "SELECT sample_id FROM job_samples WHERE job_id = ? AND sample_id IN (SELECT unnest(?::BIGINT[]))",
            [job_id, ids]).fetchall()]
        gone_everywhere: list[int] = []
        if delete_source and ids:
            for sid, uri in cur.execute("SELECT id, uri FROM samples WHERE id IN (SELECT unnest(?::BIGINT[]))",
                                        [ids]).fetchall():
                why = deletable_source(store, actor, uri, job.dataset_id)
                if why:
                    errors.append(f"{uri}: not deleted ({why})")
                else:
                    uris.append((sid, uri))
            gone_everywhere = [sid for sid, _ in uris]
        # the others go to the trash with their labels, history and team work (store/trash.py)
        gone = set(gone_everywhere)
        removed = trash_samples(store, cur, job, [i for i in ids if i not in gone], actor)
        if gone_everywhere:  # deleting the files is final: the samples leave every job and the dataset
            for table in ("job_samples", "assignments", "acceptance_items", "annotation_history"):
                cur.execute(f"DELETE FROM {table} WHERE sample_id IN (SELECT unnest(?::BIGINT[]))", [gone_everywhere])
            cur.execute("DELETE FROM samples WHERE id IN (SELECT unnest(?::BIGINT[]))", [gone_everywhere])
            removed += len(gone_everywhere)
        record_event(cur, actor, "delete_samples", job_id, samples=removed, delete_source=delete_source)
    deleted = 0
    for sid, uri in uris:  # files go after the rows are gone: a failure leaves no dangling sample
        try:
            store.locations.delete_file(uri)
            _thumb_path(store, sid).unlink(missing_ok=True)
            (store.cache_dir / "display" / f"{sid // 1000}" / f"{sid}.webp").unlink(missing_ok=True)
            deleted += 1
        except (StoreError, OSError) as e:
            errors.append(f"{uri}: {e}")
    return DeleteResult(removed, deleted, errors)


# -- sample files for display ------------------------------------------------------------------

def _thumb_path(store: Store, sample_id: int) -> Path:
    return store.cache_dir / "thumbs" / f"{sample_id // 1000}" / f"{sample_id}.webp"


def _sample_uri(store: Store, sample_id: int) -> str:
    uri = store.db.scalar("SELECT uri FROM samples WHERE id = ?", [sample_id])
    if uri is None:
        raise NotFound(f"sample {sample_id} not found")
    return uri


THUMB_SIZE_VIDEO = 256


def _image_input(store: Store, sample_id: int):
    """What an image decode reads: the path of a local file (the decoder reads only what it
    needs: a file padded after the image's end is not read whole), else the bytes (S3, text)."""
    text = store.db.scalar("SELECT text FROM samples WHERE id = ?", [sample_id])
    if text is not None:
        return text.encode("utf-8")
    uri = _sample_uri(store, sample_id)
    local = store.locations.local_path(uri)
    if local is not None:
        if not local.is_file():
            raise NotFound(f"file not found: {uri}")
        return local
    return store.locations.read(uri)


def _display_key(store: Store, sample_id: int) -> tuple[str, int]:
    """A sample's key in the store's display cache (store/media.py): its store and id."""
    return (str(store.settings.database), int(sample_id))


def sample_thumbnail(store: Store, sample_id: int, actor: str | None = None) -> bytes:
    """A cached WebP thumbnail of an image sample (at most Settings.max_decodes decodes at once)."""
    require_sample_file(store, actor, sample_id)
    from .media import decode_slot

    path = _thumb_path(store, sample_id)
    if path.exists():
        return path.read_bytes()
    uri = _sample_uri(store, sample_id)
    with decode_slot(store):
        if uri.lower().endswith(".mp4"):  # a video: its first frame (store/video.py)
            from .video import video_frame

            thumb = video_frame(store, sample_id, 0, THUMB_SIZE_VIDEO, "webp")
        else:
            data = _image_input(store, sample_id)
            try:
                thumb = make_thumbnail(data, max_pixels=store.settings.max_image_pixels)
            except StoreError:
                raise
            except Exception as e:
                raise ValidationError(f"sample {sample_id} cannot be shown: {e}") from None
            del data
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.part")  # a request and the prefetch may race
    tmp.write_bytes(thumb)
    tmp.replace(path)
    return thumb


def prefetch_next_thumbnails(store: Store, job_id: int, query: SampleQuery, actor: str | None = None) -> None:
    """Make the thumbnails of the page after `query`'s in the background (Store.caches.prefetch),
    so that paging forward shows a page whose thumbnails exist: a labeler pages forward. The next
    page is read as `actor` (store/access.py) when the job runs, not now: the click that showed
    this page does not wait for it."""
    def run():
        nxt = query_samples(store, job_id, replace(query, page=query.page + 1), actor=actor)
        if nxt.page != query.page + 1:
            return  # this was the last page
        for s in nxt.items:
            if store.caches.prefetch.closed:
                return
            if not _thumb_path(store, s.id).exists():
                try:
                    sample_thumbnail(store, s.id, actor=actor)
                except (StoreError, OSError):
                    continue  # shown as broken when the page is shown, with the reason

    store.caches.prefetch.submit((job_id, actor, query), run)


def sample_bytes(store: Store, sample_id: int, actor: str | None = None) -> bytes:
    require_sample_file(store, actor, sample_id)
    text = store.db.scalar("SELECT text FROM samples WHERE id = ?", [sample_id])
    if text is not None:  # a text record (its uri is file#L<line>): the record itself, UTF-8
        return text.encode("utf-8")
    return store.locations.read(_sample_uri(store, sample_id))


def open_sample_file(store: Store, sample_id: int, actor: str | None = None):
    """The sample's file (or a text record's text) as a store.media.SampleFile, without reading
    it: its size, and its bytes on demand. Raises NotFound for an unknown sample or a missing file."""
    require_sample_file(store, actor, sample_id)
    from .media import SampleFile

    row = store.db.fetchone("SELECT uri, text FROM samples WHERE id = ?", [sample_id])
    if row is None:
        raise NotFound(f"sample {sample_id} not found")
    uri, text = row
    if text is not None:  # a text record (its uri is file#L<line>): the record itself, UTF-8
        data = text.encode("utf-8")
        return SampleFile(uri, len(data), lambda a, b: iter((data[a:b],)))
    size = store.locations.size(uri)
    return SampleFile(uri, size, lambda a, b: store.locations.iter_range(uri, a, b))


def sample_display_image(store: Store, sample_id: int, actor: str | None = None):
    """The decoded image for display and crops (PIL, mode L, RGB or RGBA, at most
    DISPLAY_MAX_SIDE px a side), from the store's display cache; decoded once (parallel
    requests for one sample wait for the first), at most Settings.max_decodes at once.
    Shared: never change it in place."""
    require_sample_file(store, actor, sample_id)
    from .media import decode_reduced, decode_slot, display_cache, single_flight

    key = _display_key(store, sample_id)
    cache = display_cache(store)
    img = cache.get(key)
    if img is not None:
        return img
    with single_flight(store, ("image", key)):
        img = cache.get(key)
        if img is not None:
            return img
        uri = _sample_uri(store, sample_id)
        with decode_slot(store):
            data = _image_input(store, sample_id)
            try:
                img = decode_reduced(data, store.settings.max_image_pixels, DISPLAY_MAX_SIDE)
            except StoreError:
                raise
            except Exception as e:
                raise ValidationError(f"{uri.rsplit('/', 1)[-1]} cannot be shown as an image: "
                                      f"{e.__class__.__name__}: {e}"[:300]) from None
            del data
        cache.put(key, img)
        return img


def sample_image(store: Store, sample_id: int, actor: str | None = None):
    """The image for the preview (PIL, RGB/RGBA, at most 2048 px a side)."""
    require_sample_file(store, actor, sample_id)
    from .media import decode_slot, display_cache

    img = display_cache(store).get(_display_key(store, sample_id))
    if img is not None:  # decoded already for display or crops
        img = img.copy()
        img.thumbnail((2048, 2048))
        return img if img.mode in ("RGB", "RGBA") else img.convert("RGB")
    with decode_slot(store):
        return display_png(_image_input(store, sample_id), store.settings.max_image_pixels)


def get_sample_uri(store: Store, sample_id: int, actor: str | None = None) -> str:
    require_sample_file(store, actor, sample_id)
    return _sample_uri(store, sample_id)


DISPLAY_MAX_SIDE = 4096


def sample_display(store: Store, sample_id: int, actor: str | None = None) -> bytes:
    """The image as the browser shows it for drawing: first frame, RGB(A), 8-bit, at most
    4096 px a side (shapes stay in the original's pixels: the widget scales), cached as WebP."""
    require_sample_file(store, actor, sample_id)
    from .media import decode_slot, single_flight

    path = store.cache_dir / "display" / f"{sample_id // 1000}" / f"{sample_id}.webp"
    if path.exists():
        return path.read_bytes()
    import io

    with single_flight(store, ("display", _display_key(store, sample_id))):
        if path.exists():
            return path.read_bytes()
        img = sample_display_image(store, sample_id)
        out = io.BytesIO()
        with decode_slot(store):  # encoding 4096 px WebP is seconds of CPU
            (img if img.mode in ("RGB", "RGBA") else img.convert("RGB")).save(out, "WEBP", quality=90, method=4)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(out.getvalue())
        tmp.replace(path)
    return out.getvalue()


def sample_meta(store: Store, sample_id: int, actor: str | None = None) -> dict:
    """What the import check learnt of a sample's file (width/height, duration, fps...), for whoever
    may read the file (a team member the sample is assigned to included)."""
    require_sample_file(store, actor, sample_id)
    raw = store.db.scalar("SELECT meta FROM samples WHERE id = ?", [sample_id])
    return json.loads(raw) if raw else {}


def sample_size(store: Store, sample_id: int, actor: str | None = None) -> tuple[int, int]:
    """(width, height) of an image sample in its own pixels (from the import check, or read now)."""
    meta = sample_meta(store, sample_id, actor)
    if meta.get("width") and meta.get("height"):
        return int(meta["width"]), int(meta["height"])
    import io

    from PIL import Image

    f = open_sample_file(store, sample_id)
    try:  # the header is at the start: read 256 KB, not the whole file
        with Image.open(io.BytesIO(b"".join(f.chunks(0, min(f.size, 1 << 18))))) as img:
            return img.size
    except Exception:  # noqa: BLE001 - a header further in (a JPEG after large metadata): read it all
        try:
            with Image.open(io.BytesIO(sample_bytes(store, sample_id))) as img:
                return img.size
        except (OSError, ValueError, Image.DecompressionBombError):  # audio, video, text: no image size
            raise ValidationError(f"sample {sample_id} is not an image") from None


def crop_box(box, width: int, height: int) -> tuple[float, float, float, float]:
    """(x_min, y_min, x_max, y_max) of a crop: finite numbers only (else ValidationError), in
    either order, clamped to the image."""
    import math

    try:
        values = [float(v) for v in box]
    except (TypeError, ValueError):
        raise ValidationError("a crop box is four numbers: x1, y1, x2, y2") from None
    if len(values) != 4:
        raise ValidationError("a crop box is four numbers: x1, y1, x2, y2")
    for name, v in zip(("x1", "y1", "x2", "y2"), values):
        if not math.isfinite(v):
            raise ValidationError(f"crop box: {name} must be a finite number of pixels, got {v}")
    x1, y1, x2, y2 = values
    x1, x2 = sorted((min(max(x1, 0.0), float(width)), min(max(x2, 0.0), float(width))))
    y1, y2 = sorted((min(max(y1, 0.0), float(height)), min(max(y2, 0.0), float(height))))
    return x1, y1, x2, y2


MAX_CLICKS = 32  # positive (and, apart, negative) clicks one click-to-segment request may carry


def _sam_model(store: Store, model: str | None = None):
    """The SAM model the segmentation tools use: `model` (a ref: id, name or name@version) when
    given, else the one registered last; None when none is registered."""
    from .models import SAM_TASK, find_model, newest_model

    if not model:
        return newest_model(store, SAM_TASK)
    record = find_model(store, model)
    if record.task != SAM_TASK:
        raise ValidationError(f"model {record.ref} does {record.task}; the segmentation tools need a SAM model "
                              f"({SAM_TASK})")
    return record


def _pixel_points(points, what: str, most: int, width: int, height: int) -> list[list[float]]:
    """x,y pairs of finite numbers (at most `most`), clamped to the image."""
    import math

    points = list(points or [])
    if len(points) > most:
        raise ValidationError(f"{what}: at most {most} points")
    if not all(isinstance(p, (list, tuple)) and len(p) == 2
               and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in p)
               for p in points):
        raise ValidationError(f"{what}: x,y pairs of finite numbers (image pixels)")
    return [[min(max(float(x), 0.0), float(width)), min(max(float(y), 0.0), float(height))] for x, y in points]


def sample_outline(store: Store, sample_id: int, points: list, actor: str | None = None,
                   model: str | None = None) -> dict:
    """The outline of the object whose four extreme points (image pixels) were clicked, fitted to
    the image on the cached display image (a large image is worked on downscaled; the polygon
    comes back in the image's pixels): with SAM when a SAM model is registered (`model`, else the
    one registered last: media/sam.py, the points as positive clicks and their box as the box
    prompt), else, or where SAM finds nothing credible or fails, with GrabCut (media/outline.py);
    the octagon through the points where both decline.
    {"points": [[x, y], ...], "method": "sam" | "grabcut" | "octagon"}, and with SAM tried,
    "model" (its ref) and, when SAM's fit was not taken, "note" (why)."""
    import numpy as np

    from media.outline import grabcut_outline, octagon
    from media.sam import sam_outline

    require_sample_file(store, actor, sample_id)
    if len(points) != 4:
        raise ValidationError("an outline needs the 4 extreme points as x,y pairs of finite numbers")
    w, h = sample_size(store, sample_id)
    try:
        pts = _pixel_points(points, "an outline", 4, w, h)
    except ValidationError:
        raise ValidationError("an outline needs the 4 extreme points as x,y pairs of finite numbers") from None
    record = _sam_model(store, model)
    img = sample_display_image(store, sample_id)
    sx, sy = img.size[0] / w, img.size[1] / h
    image = np.asarray(img.convert("RGB"))
    scaled = [[x * sx, y * sy] for x, y in pts]
    extra: dict = {}
    if record is not None:
        extra["model"] = record.ref
        try:
            poly, _ = sam_outline(store.caches.sam, record.source, (record.id, sample_id), image, scaled)
        except Exception as e:  # noqa: BLE001 - a model that cannot load or run: GrabCut still answers
            log.warning("SAM model %s failed on sample %s: %s", record.ref, sample_id, e)
            poly, extra["note"] = None, f"SAM ({record.ref}) failed: {type(e).__name__}: {str(e)[:200]}"
        if poly is not None:
            return {"points": [[round(x / sx, 2), round(y / sy, 2)] for x, y in poly], "method": "sam", **extra}
        extra.setdefault("note", f"SAM ({record.ref}) found no object filling the points' box")
    poly = grabcut_outline(image, scaled)
    if poly is None:
        return {"points": octagon(pts), "method": "octagon", **extra}
    return {"points": [[round(x / sx, 2), round(y / sy, 2)] for x, y in poly], "method": "grabcut", **extra}


def sample_segment(store: Store, sample_id: int, positive: list, negative: list = (), box=None,
                   actor: str | None = None, model: str | None = None) -> dict:
    """Click to segment with SAM (media/sam.py): the object at the positive clicks and not at the
    negative ones (x,y image pixels, at most MAX_CLICKS of each, clamped to the image), inside
    `box` (x0, y0, x1, y1) when given; at least one positive click or a box. The SAM model is
    `model` or the one registered last; without one this is refused (ValidationError). Each
    image's embedding is kept for the next clicks (store.caches.sam), so after the first click on
    an image the next ones are fast.
    {"points": [[x, y], ...] (the polygon, image pixels; [] when SAM finds nothing), "method": "sam",
    "model": the SAM model's ref, "score": SAM's predicted IoU of the mask (0..1)}."""
    import numpy as np

    from media.sam import sam_segment

    require_sample_file(store, actor, sample_id)
    w, h = sample_size(store, sample_id)
    pos = _pixel_points(positive, "positive clicks", MAX_CLICKS, w, h)
    neg = _pixel_points(negative, "negative clicks", MAX_CLICKS, w, h)
    if box is not None:
        box = crop_box(box, w, h)
        if box[2] - box[0] < 1 or box[3] - box[1] < 1:
            raise ValidationError("the box has no area inside the image")
    if not pos and box is None:
        raise ValidationError("click to segment needs at least one positive click or a box")
    record = _sam_model(store, model)
    if record is None:
        raise ValidationError("click to segment needs a SAM model: an admin registers one (a SamModel folder or "
                              "Hugging Face id; task mask-generation)")
    img = sample_display_image(store, sample_id)
    sx, sy = img.size[0] / w, img.size[1] / h
    image = np.asarray(img.convert("RGB"))
    try:
        poly, score = sam_segment(store.caches.sam, record.source, (record.id, sample_id), image,
                                  [[x * sx, y * sy] for x, y in pos], [[x * sx, y * sy] for x, y in neg],
                                  None if box is None else (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy))
    except Exception as e:  # noqa: BLE001 - a model that cannot load or run: said, not a server error
        log.warning("SAM model %s failed on sample %s: %s", record.ref, sample_id, e)
        raise ValidationError(f"SAM ({record.ref}) failed: {type(e).__name__}: {str(e)[:200]}") from None
    points = [[round(x / sx, 2), round(y / sy, 2)] for x, y in poly] if poly else []
    return {"points": points, "method": "sam", "model": record.ref, "score": round(min(1.0, max(0.0, score)), 4)}


def segment_tools(store: Store, sample_id: int, actor: str | None = None) -> dict:
    """What the segmentation tools can do on this sample now: {"sam": whether a SAM model is
    registered (click to segment is offered only then), "model": its ref or None,
    "extreme_points": "sam" | "grabcut" (how the extreme-points outline is fitted first),
    "max_clicks": MAX_CLICKS}."""
    require_sample_file(store, actor, sample_id)
    record = _sam_model(store)
    return {"sam": record is not None, "model": record.ref if record else None,
            "extreme_points": "sam" if record else "grabcut", "max_clicks": MAX_CLICKS}


def sample_crop(store: Store, sample_id: int, box: tuple[float, float, float, float], size: int = 160,
                actor: str | None = None) -> bytes:
    """A WebP crop of an image sample around box = (x_min, y_min, x_max, y_max), with a margin.

    Cut from the cached display image (sample_display_image): a page of crops of one image
    decodes it once. Box values must be finite; they are clamped to the image."""
    require_sample_file(store, actor, sample_id)
    import io

    w, h = sample_size(store, sample_id)
    x1, y1, x2, y2 = crop_box(box, w, h)
    img = sample_display_image(store, sample_id)
    sx, sy = img.size[0] / w, img.size[1] / h
    m = 0.1 * max(x2 - x1, y2 - y1, 4)
    left = min(img.size[0] - 1, max(0, int((x1 - m) * sx)))
    top = min(img.size[1] - 1, max(0, int((y1 - m) * sy)))
    right = max(left + 1, min(img.size[0], int((x2 + m) * sx) + 1))
    bottom = max(top + 1, min(img.size[1], int((y2 + m) * sy) + 1))
    crop = img.crop((left, top, right, bottom))
    if crop.mode not in ("RGB", "RGBA"):
        crop = crop.convert("RGB")
    scale = size / max(crop.size)
    if scale > 1:  # small shapes are shown enlarged, so a reviewer can judge them
        from PIL import Image

        crop = crop.resize((max(1, round(crop.size[0] * scale)), max(1, round(crop.size[1] * scale))),
                           Image.Resampling.BICUBIC)
    else:
        crop.thumbnail((size, size))
    out = io.BytesIO()
    crop.save(out, "WEBP", quality=85)
    return out.getvalue()
