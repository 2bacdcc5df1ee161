"""Images: probing files, converting odd modes, decoding for display, making thumbnails.

Bounded work per request (issue 14): a decode reduces the image to the size it is shown at
before converting its mode (a 9500 x 9500 1-bit PNG never becomes 270 MB of RGB), a
``DecodeGate`` caps the decodes that run at once, and decoded display images stay in an
``ImageCache`` (least recently used out first, bounded by bytes), so a page of crops of one image
decodes it once. The gate and the cache are objects: each Store holds its own (store.caches).
"""
from __future__ import annotations

import io
import threading
import warnings
import weakref
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Hashable, Iterator

from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import MediaError

# We check pixel counts ourselves (with a clear message) instead of Pillow's bomb warning.
Image.MAX_IMAGE_PIXELS = None
IMAGE_FORMATS = {"JPEG", "PNG", "BMP", "WEBP", "GIF", "MPO"}
THUMB_SIZE = 256


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    mode: str
    format: str

    def as_meta(self) -> dict:
        return {"width": self.width, "height": self.height, "mode": self.mode, "format": self.format}


def probe_image(data: bytes, name: str, max_pixels: int) -> ImageInfo:
    """Check that `data` is an image we accept (SPEC F2.6); raise MediaError otherwise.

    Only the header is decoded for the size check, so a 20000x20000 image is refused without
    ever allocating its pixels."""
    if not data:
        raise MediaError(f"{name}: the file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = Image.open(io.BytesIO(data))
            fmt = img.format or "?"
            if fmt not in IMAGE_FORMATS:
                raise MediaError(f"{name}: {fmt} images are not accepted (JPEG, PNG, BMP, WebP, GIF)")
            width, height = img.size
            if width * height > max_pixels:
                raise MediaError(
                    f"{name}: {width}x{height} pixels ({width * height / 1e6:.0f} MP) is above the "
                    f"limit of {max_pixels / 1e6:.0f} MP; downscale it first")
            mode = img.mode
            img.verify()  # walks the whole file: catches truncated and corrupt data
            if fmt != "PNG":  # verify() checks PNG chunks only: decode the others
                _decode_check(data, width * height)
    except MediaError:
        raise
    except UnidentifiedImageError:
        raise MediaError(f"{name}: not an image (the content is not JPEG, PNG, BMP, WebP or GIF)") from None
    except Exception as e:  # Pillow raises many kinds of errors on corrupt files
        raise MediaError(f"{name}: the image is corrupt or truncated ({e.__class__.__name__}: {e})"[:300]) from None
    return ImageInfo(width, height, mode, fmt)


FULL_DECODE_PIXELS = 16_000_000


def _decode_check(data: bytes, pixels: int) -> None:
    """Decode the first frame so that truncated or corrupt JPEG, BMP, GIF and WebP files are
    refused at import rather than failing when shown. JPEG decodes at 1/8 scale (cheap at any
    size); other formats only up to FULL_DECODE_PIXELS, to bound memory."""
    img = Image.open(io.BytesIO(data))
    if img.format in ("JPEG", "MPO"):
        img.draft(img.mode, (max(1, img.size[0] // 8), max(1, img.size[1] // 8)))
    elif pixels > FULL_DECODE_PIXELS:
        return
    img.load()


def open_rgb(data: bytes, max_pixels: int = 100_000_000, draft_size: int | None = None) -> Image.Image:
    """Decode an image for display or models: first frame, EXIF orientation, RGB (RGBA stays)."""
    img = Image.open(io.BytesIO(data))
    if img.size[0] * img.size[1] > max_pixels:
        raise MediaError(f"{img.size[0]}x{img.size[1]} pixels is above the limit of {max_pixels / 1e6:.0f} MP")
    if draft_size and img.format == "JPEG":
        img.draft("RGB", (draft_size, draft_size))
    img.seek(0)
    img = ImageOps.exif_transpose(img) or img
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit grey: scale to 8 bits for display
        import numpy as np

        arr = np.asarray(img, dtype=np.float32)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else arr * 0
        img = Image.fromarray(arr.astype("uint8"), "L")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode not in ("RGB", "RGBA"):
        img = img.convert("RGB")
    return img


def make_thumbnail(data: bytes | Path, size: int = THUMB_SIZE, max_pixels: int = 100_000_000) -> bytes:
    """A WebP thumbnail (RGBA kept, small images upscaled with nearest neighbour to stay crisp)."""
    img = _rgb(decode_reduced(data, max_pixels, size, draft_size=size * 2))
    w, h = img.size
    if max(w, h) < 64:
        factor = max(1, int(128 // max(w, h)))
        img = img.resize((w * factor, h * factor), Image.Resampling.NEAREST)
    out = io.BytesIO()
    img.save(out, "WEBP", quality=80)
    return out.getvalue()


def display_png(data: bytes | Path, max_pixels: int = 100_000_000, max_side: int = 2048) -> Image.Image:
    """The image as a PIL image for previews (RGB, RGBA kept), downscaled to max_side."""
    return _rgb(decode_reduced(data, max_pixels, max_side))


# -- lean decoding ---------------------------------------------------------------------------------

_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
              4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
              6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}
_GREY16 = ("I;16", "I;16B", "I;16L", "I")
BIG_PIXELS = 16_000_000


def decode_reduced(data: bytes | Path, max_pixels: int = 100_000_000, max_side: int = 2048,
                   draft_size: int | None = None, reducing_gap: float | None = None) -> Image.Image:
    """Decode an image for display: first frame, EXIF orientation, at most max_side px a side;
    mode L, RGB or RGBA (the pixels of open_rgb + thumbnail, L standing for its grey RGB).

    Memory stays near the decoded source in its own mode: JPEG decodes at a reduced scale
    (draft), 1-bit and grey images are resized as 8-bit grey before any RGB copy, and the
    orientation is applied to the small result. The resize is thumbnail()'s LANCZOS with
    reducing_gap 2 (what open_rgb + thumbnail gave) up to BIG_PIXELS, 1 above (a box
    reduction first: 3x faster on a 90 MP scan). Refuses images above max_pixels.

    ``data`` is the file's bytes, or the path of a local file: then only what the decoder needs
    is read (a PNG padded with 400 MB after its end costs nothing more)."""
    if isinstance(data, (bytes, bytearray)):
        return _decode_reduced(lambda: Image.open(io.BytesIO(data)), max_pixels, max_side, draft_size,
                               reducing_gap, detach=False)
    with open(data, "rb") as f:
        return _decode_reduced(lambda: Image.open(f), max_pixels, max_side, draft_size, reducing_gap, detach=True)


def _decode_reduced(opener, max_pixels: int, max_side: int, draft_size: int | None,
                    reducing_gap: float | None, detach: bool) -> Image.Image:
    """The work of decode_reduced. Only this frame holds the full-size image (opened here), so
    each step's result frees the previous pixels; ``detach``: never return the opened image
    itself (its file closes)."""
    img = opener()
    opened = True
    pixels = img.size[0] * img.size[1]
    if reducing_gap is None:
        reducing_gap = 1.0 if pixels > BIG_PIXELS else 2.0
    if pixels > max_pixels:
        raise MediaError(f"{img.size[0]}x{img.size[1]} pixels is above the limit of {max_pixels / 1e6:.0f} MP")
    if img.format in ("JPEG", "MPO"):
        img.draft("RGB", (draft_size or max_side, draft_size or max_side))
    img.seek(0)
    method = _TRANSPOSE.get(img.getexif().get(0x0112, 1))
    img.load()
    if img.mode in _GREY16:
        img, opened = _grey16_to_l(img), False
    elif img.mode in ("1", "LA", "La"):
        img, opened = img.convert("L"), False  # 1 byte a pixel, like the 1-bit image itself
    elif img.mode == "P" and "transparency" in img.info:
        img, opened = img.convert("RGBA"), False
    elif img.mode not in ("L", "RGB", "RGBA"):
        img, opened = img.convert("RGB"), False
    if max(img.size) > max_side:
        # in place: the reduced copy replaces the full-size pixels
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=reducing_gap)
    if method is not None:
        img, opened = img.transpose(method), False
    return img.copy() if detach and opened else img


def _grey16_to_l(img: Image.Image) -> Image.Image:
    """16/32-bit grey scaled to 8 bits between its min and max, a band of rows at a time (no
    float copy of the whole image)."""
    import numpy as np

    arr = np.asarray(img)
    lo, hi = float(arr.min()), float(arr.max())
    out = np.zeros(arr.shape, dtype=np.uint8)
    if hi > lo:
        scale = 255.0 / (hi - lo)
        step = max(1, (1 << 22) // max(1, arr.shape[1]))
        for r in range(0, arr.shape[0], step):
            out[r:r + step] = ((arr[r:r + step].astype(np.float32) - lo) * scale).astype(np.uint8)
    return Image.fromarray(out, "L")


def _rgb(img: Image.Image) -> Image.Image:
    return img if img.mode in ("RGB", "RGBA") else img.convert("RGB")


def image_nbytes(img: Image.Image) -> int:
    return img.size[0] * img.size[1] * len(img.getbands())


# -- concurrent decodes and the decoded-image cache (one of each per Store: store.caches) ------------

class DecodeGate:
    """At most ``limit`` decodes (or encodes) of images at once; ``slot()`` waits for a place."""

    def __init__(self, limit: int):
        self.limit = max(1, int(limit))
        self._semaphore = threading.BoundedSemaphore(self.limit)

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._semaphore:
            yield


class KeyLocks:
    """One thread at a time works on a key (the others wait, then find its result cached)."""

    def __init__(self):
        self._locks: "weakref.WeakValueDictionary[Hashable, threading.Lock]" = weakref.WeakValueDictionary()
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, key: Hashable) -> Iterator[None]:
        with self._lock:
            lock = self._locks.get(key)
            if lock is None:
                lock = threading.Lock()
                self._locks[key] = lock
        with lock:
            yield


class ImageCache:
    """Decoded images by key, least recently used out first, at most ``max_bytes`` of pixels.
    An image larger than the whole budget is not kept. Thread-safe; the images are shared, so
    callers never change them in place (crop, copy and resize make new ones)."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max(0, int(max_bytes))
        self._items: OrderedDict[Hashable, tuple[Image.Image, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable) -> Image.Image | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: Hashable, img: Image.Image) -> None:
        n = image_nbytes(img)
        with self._lock:
            self._drop(key)
            if n > self.max_bytes:
                return
            self._items[key] = (img, n)
            self.nbytes += n
            while self.nbytes > self.max_bytes and self._items:
                self._drop(next(iter(self._items)))

    def set_budget(self, max_bytes: int) -> None:
        """A new budget; shrinking it evicts at once."""
        with self._lock:
            self.max_bytes = max(0, int(max_bytes))
            while self.nbytes > self.max_bytes and self._items:
                self._drop(next(iter(self._items)))

    def discard(self, key: Hashable) -> None:
        with self._lock:
            self._drop(key)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.nbytes = 0

    def _drop(self, key: Hashable) -> None:
        item = self._items.pop(key, None)
        if item is not None:
            self.nbytes -= item[1]
