"""Reading sample files safely: probing images, converting odd modes, making thumbnails."""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ValidationError

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
    """Check that `data` is an image we accept (SPEC F2.6); raise ValidationError otherwise.

    Only the header is decoded for the size check, so a 20000x20000 image is refused without
    ever allocating its pixels."""
    if not data:
        raise ValidationError(f"{name}: the file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = Image.open(io.BytesIO(data))
            fmt = img.format or "?"
            if fmt not in IMAGE_FORMATS:
                raise ValidationError(f"{name}: {fmt} images are not accepted (JPEG, PNG, BMP, WebP, GIF)")
            width, height = img.size
            if width * height > max_pixels:
                raise ValidationError(
                    f"{name}: {width}x{height} pixels ({width * height / 1e6:.0f} MP) is above the "
                    f"limit of {max_pixels / 1e6:.0f} MP; downscale it first")
            mode = img.mode
            img.verify()  # walks the whole file: catches truncated and corrupt data
            if fmt != "PNG":  # verify() checks PNG chunks only: decode the others
                _decode_check(data, width * height)
    except ValidationError:
        raise
    except UnidentifiedImageError:
        raise ValidationError(f"{name}: not an image (the content is not JPEG, PNG, BMP, WebP or GIF)") from None
    except Exception as e:  # Pillow raises many kinds of errors on corrupt files
        raise ValidationError(f"{name}: the image is corrupt or truncated ({e.__class__.__name__}: {e})"[:300]) from None
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
        raise ValidationError(f"{img.size[0]}x{img.size[1]} pixels is above the limit of {max_pixels / 1e6:.0f} MP")
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


def make_thumbnail(data: bytes, size: int = THUMB_SIZE, max_pixels: int = 100_000_000) -> bytes:
    """A WebP thumbnail (RGBA kept, small images upscaled with nearest neighbour to stay crisp)."""
    img = open_rgb(data, max_pixels=max_pixels, draft_size=size * 2)
    w, h = img.size
    scale = size / max(w, h)
    if scale < 1:
        img.thumbnail((size, size), Image.Resampling.LANCZOS)
    elif max(w, h) < 64:
        factor = max(1, int(128 // max(w, h)))
        img = img.resize((w * factor, h * factor), Image.Resampling.NEAREST)
    out = io.BytesIO()
    img.save(out, "WEBP", quality=80)
    return out.getvalue()


def display_png(data: bytes, max_pixels: int = 100_000_000, max_side: int = 2048) -> Image.Image:
    """The image as a PIL image for previews, downscaled to max_side."""
    img = open_rgb(data, max_pixels=max_pixels, draft_size=max_side)
    if max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return img
