"""Bounded work per request (issue 14): decoded images cached and decodes capped, crop and audio
parameters finite, ranged reads that stream (local files and S3), request bodies refused unread
above their limit, and the size limits of label sets.

The store-level tests use a real DuckDB file in tmp_path (and moto_server for S3). The HTTP tests
run the app as a subprocess (tests/app_server.py) on a store built beforehand: one app for the
module, with small upload limits (LABELPORT_MAX_UPLOAD_BYTES / LABELPORT_MAX_MULTIPART_BYTES) and
the default JSON limit. Memory is the server process's peak resident set (VmHWM in
/proc/PID/status, reset through /proc/PID/clear_refs before each measured request)."""
from __future__ import annotations

import io
import json
import math
import os
import socket
import subprocess
import threading
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from store.errors import NotFound, ValidationError
from tests.app_server import AppServer
from tests.factories import new_job

SIDE = 9500  # the report's image: 9500 x 9500 1-bit, 11 KB as PNG
BIG_FILE = 400 * 2**20
LINUX_PROC = Path("/proc/self/status").exists() and Path("/proc/self/io").exists()


def big_png(seed: int = 0) -> bytes:
    img = Image.new("1", (SIDE, SIDE))
    img.putpixel((seed, seed), 1)  # files differ
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **kw)
    return out.getvalue()


def sparse_png(path: Path, size: int = BIG_FILE) -> Path:
    """A valid 16x16 PNG followed by zeros up to `size` bytes (truncate: no disk blocks)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 16), (200, 30, 30)).save(path, "PNG")
    subprocess.run(["truncate", "-s", str(size), str(path)], check=True)
    return path


def upload(store, job_id: int, files: list[tuple[str, bytes]]) -> list[int]:
    from store.imports import upload_files
    from store.samples import SampleQuery, query_samples

    rec = upload_files(store, job_id, files)
    assert rec.status == "succeeded", rec.errors
    by_name = {s.name: s.id for s in query_samples(store, job_id, SampleQuery(page_size=100)).items}
    return [by_name[name] for name, _ in files]


class DecodeSpy:
    """Counts calls of store.media.decode_reduced (the real function runs) and the most that ran
    at once."""

    def __init__(self, monkeypatch):
        import store.media as media

        self.real = media.decode_reduced
        self.calls = 0
        self.active = 0
        self.most = 0
        self.lock = threading.Lock()
        monkeypatch.setattr(media, "decode_reduced", self)

    def __call__(self, *args, **kwargs):
        with self.lock:
            self.calls += 1
            self.active += 1
            self.most = max(self.most, self.active)
        try:
            return self.real(*args, **kwargs)
        finally:
            with self.lock:
                self.active -= 1


def run_parallel(fn, args: list) -> list:
    results: list = [None] * len(args)
    errors: list = []
    barrier = threading.Barrier(len(args))

    def one(i):
        try:
            barrier.wait()
            results[i] = fn(args[i])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(args))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


# -- decoding: same pixels as before, less memory --------------------------------------------------

def _old_display(data: bytes, max_side: int) -> Image.Image:
    """What display_png did before: open_rgb (full decode, RGB) then thumbnail."""
    from store.media import open_rgb

    img = open_rgb(data, draft_size=max_side)
    if max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return img


def _smooth(w: int = 600, h: int = 400) -> Image.Image:
    y, x = np.mgrid[0:h, 0:w]
    return Image.fromarray(np.stack([x * 255 / w, y * 255 / h, (x + y) * 255 / (w + h)], -1).astype("uint8"))


@pytest.mark.parametrize("kind", ["1", "L", "LA", "P", "P-transparent", "RGB", "RGBA", "I;16", "CMYK-jpeg",
                                  "jpeg", "jpeg-rotated"])
def test_lean_decode_gives_the_old_pixels(kind):
    from store.media import display_png

    src = _smooth()
    if kind == "P-transparent":
        p = src.convert("P")
        p.info["transparency"] = 0
        data = encode(p)
    elif kind == "I;16":
        data = encode(Image.fromarray((np.asarray(src.convert("L"), dtype=np.uint16) * 200)))
    elif kind == "CMYK-jpeg":
        data = encode(src.convert("CMYK"), "JPEG")
    elif kind == "jpeg":
        data = encode(src, "JPEG")
    elif kind == "jpeg-rotated":
        exif = Image.Exif()
        exif[0x0112] = 6
        data = encode(src, "JPEG", exif=exif.tobytes())
    else:
        data = encode(src.convert(kind))
    for side in (2048, 128):
        old, new = _old_display(data, side), display_png(data, max_side=side)
        assert (new.mode, new.size) == (old.mode, old.size)
        diff = np.abs(np.asarray(new, dtype=np.int16) - np.asarray(old, dtype=np.int16))
        if kind == "jpeg-rotated":  # turned after the resize, not before: rounding differs a little
            assert diff.mean() < 1 and diff.max() <= 8, (side, diff.mean(), diff.max())
        else:
            assert not diff.any(), (kind, side)
    if kind == "jpeg-rotated":
        assert display_png(data).size == (400, 600)


def test_image_cache_is_lru_and_bounded_by_bytes():
    from store.media import ImageCache

    cache = ImageCache(3 * 100 * 100)  # three 100x100 L images
    imgs = {k: Image.new("L", (100, 100), i) for i, k in enumerate("abcd")}
    for k in "abc":
        cache.put(k, imgs[k])
    assert cache.get("a") is imgs["a"]  # a is now the most recent
    cache.put("d", imgs["d"])  # b goes (least recently used)
    assert cache.get("b") is None and cache.get("a") is imgs["a"] and len(cache) == 3
    assert cache.nbytes == 3 * 100 * 100
    cache.put("big", Image.new("RGB", (100, 100)))  # 30,000 bytes: all of the budget, alone
    assert len(cache) == 1 and cache.nbytes == 30_000
    cache.put("huge", Image.new("RGB", (200, 200)))  # above the whole budget: not kept
    assert cache.get("huge") is None and cache.nbytes <= cache.max_bytes


# -- crops ---------------------------------------------------------------------------------------

@pytest.fixture
def big_image_store(tmp_path):
    """A store whose display cache budget and decode cap are this test's own."""
    from store import Settings, open_store

    def make(**kw):
        s = open_store(Settings(data_dir=tmp_path / f"data{len(stores)}", demo=False, **kw))
        stores.append(s)
        return s

    stores: list = []
    yield make
    for s in stores:
        s.close()


def test_huge_png_is_decoded_once_for_many_crops(big_image_store, monkeypatch):
    from store.media import display_cache
    from store.samples import DISPLAY_MAX_SIDE, sample_crop, sample_display, sample_image

    store = big_image_store()
    job = new_job(store, "crops", labels=("a",), type_id="object_detection")
    [sid] = upload(store, job.id, [("big.png", big_png())])
    spy = DecodeSpy(monkeypatch)
    boxes = [(100 + 900 * i, 200 + 700 * i, 500 + 900 * i, 450 + 700 * i) for i in range(6)]
    crops = run_parallel(lambda b: sample_crop(store, sid, b), boxes)  # six at once, like a page of crops
    assert spy.calls == 1, "parallel crops of one image decode it once"
    for data in crops:
        img = Image.open(io.BytesIO(data))
        assert img.format == "WEBP" and max(img.size) <= 160
    for b in boxes:  # later crops, the display image and the preview: from the cache
        sample_crop(store, sid, (b[0] + 5, b[1] + 5, b[2], b[3]))
    assert Image.open(io.BytesIO(sample_display(store, sid))).size == (DISPLAY_MAX_SIDE, DISPLAY_MAX_SIDE)
    assert sample_image(store, sid).size == (2048, 2048)
    assert spy.calls == 1
    cached = display_cache(store).get((str(store.settings.database), sid))
    assert cached is not None and cached.mode == "L" and cached.size == (4096, 4096)  # 16 MB, not 270 MB of RGB


def test_decodes_are_capped_and_the_cache_kept_in_budget(big_image_store, monkeypatch):
    from store.media import display_cache
    from store.samples import sample_crop

    store = big_image_store(max_decodes=1, image_cache_bytes=20 * 2**20)  # room for one 4096 px grey image
    job = new_job(store, "distinct", labels=("a",), type_id="object_detection")
    ids = upload(store, job.id, [(f"big{i}.png", big_png(i)) for i in range(3)])
    spy = DecodeSpy(monkeypatch)
    run_parallel(lambda sid: sample_crop(store, sid, (10, 10, 50, 50)), ids)
    assert spy.calls == 3 and spy.most == 1, "three images, one decode at a time"
    cache = display_cache(store)
    assert cache.nbytes <= 20 * 2**20 and len(cache) == 1


@pytest.mark.parametrize("box,problem", [
    ((math.nan, 0, 10, 10), "x1 must be a finite number"),
    ((0, math.inf, 10, 10), "y1 must be a finite number"),
    ((0, 0, -math.inf, 10), "x2 must be a finite number"),
    ((0, 0, 10, float("nan")), "y2 must be a finite number"),
    (("a", 0, 10, 10), "four numbers"),
    ((0, 0, 10), "four numbers"),
])
def test_crop_box_must_be_finite(box, problem):
    from store.samples import crop_box

    with pytest.raises(ValidationError, match=problem):
        crop_box(box, 100, 80)


def test_crop_box_is_clamped_to_the_image(store):
    from store.samples import crop_box, sample_crop

    assert crop_box((-1e308, -5, 1e308, 1e300), 100, 80) == (0, 0, 100, 80)
    assert crop_box((90, 70, 10, 20), 100, 80) == (10, 20, 90, 70)  # either order
    job = new_job(store, "clamp", labels=("a",), type_id="object_detection")
    [sid] = upload(store, job.id, [("small.png", encode(_smooth(120, 90)))])
    for box in [(-1e308, -1e308, 1e308, 1e308), (500, 500, 900, 900), (-50, -50, -10, -10), (60, 40, 60, 40),
                (119.9, 89.9, 1e12, 1e12)]:
        img = Image.open(io.BytesIO(sample_crop(store, sid, box)))
        assert img.format == "WEBP" and 1 <= max(img.size) <= 160


# -- ranged reads ----------------------------------------------------------------------------------

def _rchar() -> int:
    """Bytes this process has read through read() calls (Linux /proc/self/io)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


@pytest.mark.skipif(not LINUX_PROC, reason="needs Linux /proc")
def test_local_ranged_read_reads_only_the_range(store, tmp_path):
    from store.objects import CHUNK_SIZE

    path = sparse_png(tmp_path / "big" / "big.png")
    uri = str(path)
    assert store.locations.size(uri) == BIG_FILE
    before = _rchar()
    assert b"".join(store.locations.iter_range(uri, 0, 1)) == b"\x89"
    tail = b"".join(store.locations.iter_range(uri, BIG_FILE - 10, BIG_FILE))
    assert tail == b"\0" * 10
    assert _rchar() - before < 2 * CHUNK_SIZE, "only the ranges were read"
    pieces = list(store.locations.iter_range(uri, 5, 5 + 3 * CHUNK_SIZE + 7))
    assert [len(p) for p in pieces] == [CHUNK_SIZE] * 3 + [7]
    with open(path, "rb") as f:
        f.seek(5)
        assert pieces[0][:8] == f.read(8)
    with pytest.raises(NotFound):
        store.locations.size(str(tmp_path / "missing.png"))
    with pytest.raises(NotFound):
        store.locations.iter_range(str(tmp_path / "big"), 0, 1)  # a folder


@pytest.mark.skipif(not LINUX_PROC, reason="needs Linux /proc")
def test_a_padded_local_image_is_not_read_whole(store, tmp_path):
    """A 16x16 PNG followed by 400 MB: thumbnail, display, crop and size read its start only."""
    from store.jobs import create_job
    from store.labelset import Label, LabelSet
    from store.samples import SampleQuery, query_samples, sample_crop, sample_display, sample_size, sample_thumbnail

    path = sparse_png(tmp_path / "padded" / "big.png")
    job = create_job(store, "padded", "image_classification", source=str(path.parent),
                     label_set=LabelSet(labels=[Label("a")]))
    [sid] = [s.id for s in query_samples(store, job.id, SampleQuery()).items]
    store.db.fetchall("UPDATE samples SET meta = NULL WHERE id = ?", [sid])  # size read from the file
    before = _rchar()
    assert Image.open(io.BytesIO(sample_thumbnail(store, sid))).size == (128, 128)  # small: enlarged
    assert Image.open(io.BytesIO(sample_display(store, sid))).size == (16, 16)
    assert sample_size(store, sid) == (16, 16)
    assert Image.open(io.BytesIO(sample_crop(store, sid, (2, 2, 10, 10)))).format == "WEBP"
    assert _rchar() - before < 8 * 2**20


def test_sample_file_of_a_text_record_and_of_an_upload(store):
    from store.samples import open_sample_file

    job = new_job(store, "files", labels=("a",), type_id="object_detection")
    data = encode(_smooth(64, 48))
    [sid] = upload(store, job.id, [("s.png", data)])
    f = open_sample_file(store, sid)
    assert f.size == len(data) and f.uri.startswith("store://")
    assert b"".join(f.chunks(0, f.size)) == data and b"".join(f.chunks(10, 20)) == data[10:20]
    with pytest.raises(NotFound):
        open_sample_file(store, 999_999)


def test_s3_ranged_get_asks_s3_for_the_range_only(s3_store):
    from store.samples import open_sample_file

    job = new_job(s3_store, "s3files", labels=("a",), type_id="object_detection")
    data = encode(Image.fromarray((np.random.default_rng(1).random((300, 400, 3)) * 255).astype("uint8")))
    assert len(data) > 300_000
    [sid] = upload(s3_store, job.id, [("noise.png", data)])
    f = open_sample_file(s3_store, sid)
    assert f.size == len(data)
    store_, key = s3_store.locations.resolve(f.uri)
    seen: list[dict] = []
    store_.client.meta.events.register("after-call.s3.GetObject",
                                       lambda parsed, **kw: seen.append(dict(parsed.get("ResponseMetadata", {})
                                                                             .get("HTTPHeaders", {}))))
    assert b"".join(f.chunks(1000, 1010)) == data[1000:1010]
    assert seen[-1]["content-length"] == "10" and seen[-1]["content-range"] == f"bytes 1000-1009/{len(data)}"
    whole = list(f.chunks(0, f.size))
    assert b"".join(whole) == data and len(whole) > 1  # streamed in pieces


# -- label set limits ------------------------------------------------------------------------------

def test_label_set_size_limits():
    from store.labelset import (MAX_ATTRIBUTE_ENTRIES, MAX_ATTRIBUTE_VALUE, MAX_ATTRIBUTE_VALUES, MAX_ATTRIBUTES,
                                MAX_LABEL_NAME, MAX_LABELS, Label, LabelSet, validate_label_set)
    from store.types import get_type

    rules = get_type("object_detection").rules
    ok = validate_label_set(LabelSet(labels=[Label("cat", attributes={"color": ["black", "x" * MAX_ATTRIBUTE_VALUE]})]),
                            rules)
    assert ok.labels[0].attributes["color"][1] == "x" * MAX_ATTRIBUTE_VALUE
    cases = [
        (LabelSet(labels=[Label("c" * (MAX_LABEL_NAME + 1))]), f"limit is {MAX_LABEL_NAME}"),
        (LabelSet(labels=[Label("cat", attributes={"color": ["v" * (MAX_ATTRIBUTE_VALUE + 1)]})]),
         f"limit is {MAX_ATTRIBUTE_VALUE}"),
        (LabelSet(labels=[Label("cat", attributes={f"a{i}": ["v"] for i in range(MAX_ATTRIBUTES + 1)})]),
         f"at most {MAX_ATTRIBUTES}"),
        (LabelSet(labels=[Label("cat", attributes={"a": [f"v{i}" for i in range(MAX_ATTRIBUTE_VALUES + 1)]})]),
         f"at most {MAX_ATTRIBUTE_VALUES}"),
        (LabelSet(labels=[Label(f"l{i}", attributes={"a": [f"v{j}" for j in range(100)]})
                          for i in range(MAX_ATTRIBUTE_ENTRIES // 100)]), f"more than {MAX_ATTRIBUTE_ENTRIES:,}"),
        (LabelSet(labels=[Label(f"l{i}") for i in range(MAX_LABELS + 1)]), f"at most {MAX_LABELS:,}"),
    ]
    for label_set, message in cases:
        with pytest.raises(ValidationError, match=message):
            validate_label_set(label_set, rules)


# -- over HTTP, against the running app --------------------------------------------------------------

def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def peak_growth_mb(pid: int, action) -> float:
    """Run action(); the server's peak resident memory above its resident memory before, in MB."""
    base = _status_kb(pid, "VmRSS")
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
    action()
    return (_status_kb(pid, "VmHWM") - base) / 1024


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    import soundfile as sf

    from store import Settings, open_store
    from store.jobs import create_job
    from store.labelset import Label, LabelSet
    from store.samples import SampleQuery, query_samples

    tmp = tmp_path_factory.mktemp("limits-app")
    big = sparse_png(tmp / "bigfile" / "big.png")
    wavs = tmp / "wavs"
    wavs.mkdir()
    t = np.arange(8000) / 8000
    sf.write(wavs / "a.wav", (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 8000)
    store = open_store(Settings(data_dir=tmp / "data", demo=False))
    try:
        det = new_job(store, "det", labels=("a",), type_id="object_detection")
        crop_id, parallel_id = upload(store, det.id, [("big0.png", big_png(0)), ("big1.png", big_png(1))])
        cls = create_job(store, "bigfile", "image_classification", source=str(big.parent),
                         label_set=LabelSet(labels=[Label("a")]))
        [range_id] = [s.id for s in query_samples(store, cls.id, SampleQuery()).items]
        snd = create_job(store, "snd", "sound_classification", source=str(wavs),
                         label_set=LabelSet(labels=[Label("x", shortcut="x")]))
        [audio_id] = [s.id for s in query_samples(store, snd.id, SampleQuery()).items]
        ids = {"crop": crop_id, "parallel": parallel_id, "range": range_id, "audio": audio_id, "job": det.id}
    finally:
        store.close()
    server = AppServer(tmp / "data", tmp / "server", extra_env={
        "LABELPORT_MAX_UPLOAD_BYTES": "1000000", "LABELPORT_MAX_MULTIPART_BYTES": "2000000"})
    server.start()
    server.ids = ids
    yield server
    server.stop()
    log = server.log(tail=10**7)
    assert "Traceback" not in log, f"the server logged an exception:\n{log[-6000:]}"


@pytest.fixture(scope="module")
def http(app):
    with httpx.Client(base_url=app.url, timeout=120) as client:
        yield client


def json_error(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text[:300]}"
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    message = body["error"]["message"] if "error" in body else body.get("detail")
    assert isinstance(message, str) and message, body
    return message


@pytest.mark.parametrize("params,bad", [
    ({"x1": "nan", "y1": 0, "x2": 10, "y2": 10}, "x1"),
    ({"x1": 0, "y1": "inf", "x2": 10, "y2": 10}, "y1"),
    ({"x1": 0, "y1": 0, "x2": "-inf", "y2": 10}, "x2"),
    ({"x1": 0, "y1": 0, "x2": 10, "y2": "1e999"}, "y2"),  # overflows to infinity
])
def test_crop_parameters_must_be_finite(app, http, params, bad):
    message = json_error(http.get(f"/media/{app.ids['crop']}/crop", params=params), 422)
    assert bad in message and "finite" in message


def test_crop_parameters_are_clamped(app, http):
    sid = app.ids["crop"]
    for params in ({"x1": -1e308, "y1": -1e308, "x2": 1e308, "y2": 1e308}, {"x1": 9000, "y1": 9000, "x2": 100, "y2": 5},
                   {"x1": 20000, "y1": 20000, "x2": 30000, "y2": 30000}):
        r = http.get(f"/media/{sid}/crop", params=params)
        assert r.status_code == 200 and r.headers["content-type"] == "image/webp", r.text[:200]
    assert http.get(f"/media/{sid}/crop", params={"x1": "abc", "y1": 0, "x2": 1, "y2": 1}).status_code == 422


def test_audio_and_frame_parameters_must_be_finite(app, http):
    sid = app.ids["audio"]
    assert http.get(f"/media/{sid}/peaks", params={"start": 0.1, "end": 0.5, "buckets": 50}).status_code == 200
    for route, params in (("peaks", {"start": "nan"}), ("peaks", {"start": 0, "end": "inf"}),
                          ("segment", {"start": "nan", "end": 1}), ("segment", {"start": 0, "end": "-inf"})):
        message = json_error(http.get(f"/media/{sid}/{route}", params=params), 422)
        assert "finite" in message, message
    for params in ({"start": 1e300, "end": 1e301}, {"start": -1e300, "end": 1e300}):
        assert http.get(f"/media/{sid}/segment", params=params).status_code in (200, 422)
        assert http.get(f"/media/{sid}/peaks", params=params).status_code == 200
    assert http.get(f"/media/{sid}/frame", params={"index": "nan"}).status_code == 422
    assert http.get(f"/media/{sid}/frame", params={"index": 10**30}).status_code == 422


@pytest.mark.skipif(not LINUX_PROC, reason="needs Linux /proc")
def test_parallel_crops_of_a_huge_png_stay_small(app):
    """Before: 6 parallel crops of the 9500 x 9500 1-bit PNG took 24 s and 3.3 GB of peak memory."""
    sid = app.ids["parallel"]
    codes: list[int] = []

    def crops():
        def one(i):
            with httpx.Client(base_url=app.url, timeout=120) as c:
                return c.get(f"/media/{sid}/crop", params={"x1": 100 * i, "y1": 50 * i, "x2": 100 * i + 300,
                                                           "y2": 50 * i + 200}).status_code
        codes.extend(run_parallel(one, list(range(6))))

    growth = peak_growth_mb(app.proc.pid, crops)
    assert codes == [200] * 6
    assert growth < 600, f"6 parallel crops grew the server by {growth:.0f} MB"


@pytest.mark.skipif(not LINUX_PROC, reason="needs Linux /proc")
@pytest.mark.parametrize("route", ["/media/{id}/file", "/api/v1/samples/{id}/file"])
def test_ranged_reads_stream(app, http, route):
    """Before: Range: bytes=0-0 on the 400 MB file grew the server by 400 MB, the whole file by 1.2 GB."""
    url = route.format(id=app.ids["range"])
    got: dict = {}

    def first_byte():
        got["r"] = http.get(url, headers={"Range": "bytes=0-0"})

    growth = peak_growth_mb(app.proc.pid, first_byte)
    r = got["r"]
    assert r.status_code == 206 and r.content == b"\x89", r.text[:200]
    assert r.headers["content-range"] == f"bytes 0-0/{BIG_FILE}" and r.headers["accept-ranges"] == "bytes"
    assert r.headers["content-type"] == "image/png" and r.headers["content-length"] == "1"
    assert r.headers["x-content-type-options"] == "nosniff" and "sandbox" in r.headers["content-security-policy"]
    assert growth < 32, f"Range 0-0 grew the server by {growth:.0f} MB"

    def whole():
        n = 0
        with http.stream("GET", url) as resp:
            assert resp.status_code == 200 and resp.headers["content-length"] == str(BIG_FILE)
            assert resp.headers["accept-ranges"] == "bytes" and resp.headers["x-content-type-options"] == "nosniff"
            for piece in resp.iter_bytes(1 << 20):
                n += len(piece)
        got["n"] = n

    growth = peak_growth_mb(app.proc.pid, whole)
    assert got["n"] == BIG_FILE
    assert growth < 64, f"the whole file grew the server by {growth:.0f} MB"

    tail = http.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == b"\0" * 10
    assert tail.headers["content-range"] == f"bytes {BIG_FILE - 10}-{BIG_FILE - 1}/{BIG_FILE}"
    mid = http.get(url, headers={"Range": "bytes=1-8"})
    assert mid.status_code == 206 and mid.content == b"PNG\r\n\x1a\n\0"
    past = http.get(url, headers={"Range": f"bytes={BIG_FILE}-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{BIG_FILE}"
    odd = http.get(url, headers={"Range": "bytes=0-0,5-6"})  # not a single range: the whole file
    assert odd.status_code == 200 and odd.headers["content-length"] == str(BIG_FILE)
    odd.close()


def _raw_post(app, path: str, length: int, sent: bytes, ctype: str = "application/json") -> tuple[int, dict, bytes]:
    """POST announcing `length` bytes but sending only `sent`; the answer (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", app.port), timeout=30) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\n"
                  f"Content-Length: {length}\r\n\r\n".encode() + sent)
        data = b""
        while b"\r\n\r\n" not in data:
            piece = s.recv(65536)
            if not piece:
                break
            data += piece
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        while len(body) < int(headers.get("content-length", 0)):
            piece = s.recv(65536)
            if not piece:
                break
            body += piece
        return int(lines[0].split()[1]), headers, body


def test_a_60_mb_json_body_is_refused_unread(app, http):
    status, headers, body = _raw_post(app, "/api/v1/jobs", 60_000_000, b'{"name": "' + b"x" * 65536)
    assert status == 413 and headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert error["status"] == 413 and "LABELPORT_MAX_JSON_BYTES" in error["message"] and "60,000,000 bytes" in error["message"]
    # sent whole by a client that writes before it reads: the same answer
    r = http.post("/api/v1/jobs", content=b'{"name": "' + b"x" * 60_000_000 + b'"}',
                  headers={"content-type": "application/json"})
    assert json_error(r, 413)
    # no Content-Length (chunked): refused once the bytes counted pass the limit
    r = http.post("/api/v1/jobs", content=(b"x" * 1_000_000 for _ in range(40)),
                  headers={"content-type": "application/json"})
    assert "more than the limit" in json_error(r, 413)
    r = http.post("/api/v1/jobs", content=(b"u=1&" * 250_000 for _ in range(40)),
                  headers={"content-type": "application/x-www-form-urlencoded"})
    assert json_error(r, 413)
    r = http.post("/login", content=(b"u" * 1_000_000 for _ in range(40)),  # Starlette's form parser: 1 MB a field
                  headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code in (400, 413), r.text[:300]
    assert http.get("/healthz").json()["ok"] is True  # the app keeps serving


def test_normal_bodies_pass(app, http):
    from components.shape_canvas import canvas_value

    rng = np.random.default_rng(2)
    shapes = [{"id": f"s{i}", "type": "polygon", "label": "a",
               "points": np.round(rng.random((32, 2)) * 4000, 3).tolist(), "attributes": {}} for i in range(1000)]
    value = canvas_value(app.ids["crop"], f"/media/{app.ids['crop']}/display", SIDE, SIDE, shapes,
                         [{"name": "a", "color": "#ff0000"}], None)
    body = json.dumps({"data": [value], "fn_index": 0, "session_hash": None, "event_data": None},
                      separators=(",", ":")).encode()
    assert len(body) < 2**20  # a 1,000-polygon save is under 1 MB; the limit is 16 MB
    r = http.post("/gradio_api/queue/join", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "Session hash" in r.text  # read and parsed by Gradio: not refused for its size
    # the bulk reference import has its own, larger limit (LABELPORT_MAX_IMPORT_JSON_BYTES)
    big = b'{"samples": "' + b"a" * (17 * 2**20)
    r = http.post(f"/api/v1/jobs/{app.ids['job']}/samples", content=big, headers={"content-type": "application/json"})
    assert "JSON decode error" in json_error(r, 400)  # read and parsed: not refused for its size
    assert json_error(http.post("/api/v1/jobs", content=big, headers={"content-type": "application/json"}), 413)


def test_multipart_uploads_are_limited(app, http):
    r = http.post("/gradio_api/upload", files={"files": ("small.png", encode(_smooth(64, 48)), "image/png")})
    assert r.status_code == 200 and len(r.json()) == 1, r.text[:300]
    status, headers, body = _raw_post(app, "/gradio_api/upload", 3_000_000, b"--x\r\n",
                                      "multipart/form-data; boundary=x")
    assert status == 413 and "LABELPORT_MAX_MULTIPART_BYTES" in json.loads(body)["error"]["message"]
    files = [("files", (f"f{i}.bin", os.urandom(800_000), "application/octet-stream")) for i in range(3)]
    assert http.post("/gradio_api/upload", files=files).status_code == 413  # 2.4 MB in one request
    # the API reads an upload into memory: one file's limit a request (LABELPORT_MAX_UPLOAD_BYTES + 1 MiB)
    status, headers, body = _raw_post(app, f"/api/v1/jobs/{app.ids['job']}/uploads", 1_000_000 + 2**20 + 1,
                                      b"--x\r\n", "multipart/form-data; boundary=x")
    assert status == 413 and "LABELPORT_MAX_UPLOAD_BYTES" in json.loads(body)["error"]["message"]


def test_outline_parameters_are_checked(app, http):
    """The extreme-points outline route (media/outline.py via store.samples.sample_outline): eight
    finite numbers, else 422; points outside the image are clamped; an audio sample is refused."""
    sid = app.ids["crop"]
    ok = http.get(f"/media/{sid}/outline", params={"points": "10,2,20,10,10,20,2,10"})
    assert ok.status_code == 200 and ok.headers["cache-control"] == "no-store", ok.text[:200]
    body = ok.json()
    assert body["method"] in ("grabcut", "octagon") and len(body["points"]) >= 3
    for points in ("1,2,3", "a,b,c,d,e,f,g,h", "nan,0,1,1,2,2,3,3", "0,0,1,1,2,2,3,inf", ",".join(["1"] * 9)):
        assert http.get(f"/media/{sid}/outline", params={"points": points}).status_code == 422, points
    far = http.get(f"/media/{sid}/outline", params={"points": "-1e308,0,1e308,5,3,1e308,0,-1e308"})
    assert far.status_code == 200 and all(0 <= x and 0 <= y for x, y in far.json()["points"])
    assert http.get(f"/media/{app.ids['audio']}/outline", params={"points": "1,0,2,1,1,2,0,1"}).status_code == 422


def test_the_fitted_outline_follows_the_object():
    """On a synthetic image (a bright ellipse on a textured dark background) the four extreme
    points give the octagon and the GrabCut fit; the fit follows the ellipse better."""
    import cv2

    from media.outline import grabcut_outline, octagon

    rng = np.random.default_rng(0)
    img = rng.integers(0, 60, (200, 240, 3)).astype(np.uint8)
    truth = np.zeros((200, 240), np.uint8)
    cv2.ellipse(truth, (120, 100), (70, 40), 25, 0, 360, 1, -1)
    img[truth == 1] = rng.integers(170, 230, (int(truth.sum()), 3)).astype(np.uint8)
    ys, xs = np.nonzero(truth)
    pts = [[float(xs[ys.argmin()]), float(ys.min())], [float(xs.max()), float(ys[xs.argmax()])],
           [float(xs[ys.argmax()]), float(ys.max())], [float(xs.min()), float(ys[xs.argmin()])]]

    def iou(poly):
        m = np.zeros_like(truth)
        cv2.fillPoly(m, [np.round(np.asarray(poly)).astype(np.int32)], 1)
        return float((m & truth).sum() / (m | truth).sum())

    fitted = grabcut_outline(img, pts)
    assert fitted is not None and iou(fitted) > max(0.9, iou(octagon(pts)) + 0.03), (iou(fitted), iou(octagon(pts)))
    assert grabcut_outline(img, [[5, 5], [5, 5], [6, 5], [5, 6]]) is None  # no area: the canvas keeps the octagon
