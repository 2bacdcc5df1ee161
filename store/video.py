"""Video samples (SPEC F3.11): the store's side of media/video.py. Opening a sample's file (local
files in place, objects read whole) with its frame index from the store's own cache
(store.caches.video_index), one exact frame for whoever may read the sample's file
(store/access.py); the tracks' interpolation is store/tracks.py. Probing MP4
files at import and decoding are media/video.py's; refusals are the store's ValidationError.
"""
from __future__ import annotations

import json

from media import video as media_video
from media.video import (MAX_DISPLAY_SIDE, MP4_BRANDS_HINT, MP4_CODECS, TOP_BOXES, FrameIndex, build_index,
                         encode_image, frame_count_of)

from .access import require_sample_file
from .errors import NotFound, ValidationError
from .media import as_validation_errors

probe_video = as_validation_errors(media_video.probe_video)
decode_frame = as_validation_errors(media_video.decode_frame)
_open_indexed = as_validation_errors(media_video.open_indexed)


def _sample(store, sample_id: int) -> tuple[str, str, dict]:
    row = store.db.fetchone("SELECT uri, path, meta FROM samples WHERE id = ?", [sample_id])
    if not row:
        raise NotFound(f"sample {sample_id} not found")
    return row[0], row[1], json.loads(row[2]) if row[2] else {}


def open_video(store, sample_id: int):
    """(container, frame index, path) for a sample; local files are opened in place. The frame
    index is read once per file and kept in the store's cache."""
    uri, path, _meta = _sample(store, sample_id)
    local = store.locations.local_path(uri)
    try:
        if local is not None and local.is_file():
            st = local.stat()
            key, source = (str(local), st.st_size, st.st_mtime_ns), local
        else:
            data = store.locations.read(uri)
            key, source = (uri, len(data), hash(data[:4096])), data
    except OSError as e:
        raise ValidationError(f"{path}: cannot be read as video ({str(e)[:120]})") from None
    container, index = _open_indexed(source, path, key, store.caches.video_index)
    return container, index, path


def video_frame(store, sample_id: int, frame_index: int, max_side: int = MAX_DISPLAY_SIDE,
                fmt: str = "jpeg", actor: str | None = None) -> bytes:
    """The exact frame `frame_index` of a video sample as JPEG (or WebP) bytes, downscaled so its
    longer side is at most `max_side` for display (shapes stay in the original pixels)."""
    require_sample_file(store, actor, sample_id)
    if isinstance(frame_index, bool) or not isinstance(frame_index, int):
        raise ValidationError("the frame index is a whole number")
    container, index, path = open_video(store, sample_id)
    try:
        if not 0 <= frame_index < len(index.pts):
            raise ValidationError(f"{path}: frame {frame_index} is outside the video (0..{len(index.pts) - 1})")
        frame = decode_frame(container, index, frame_index)
        return encode_image(frame.to_image(), max_side, fmt)
    finally:
        container.close()


# -- tracks: store/tracks.py (kept importable from here) ------------------------------------------
from .tracks import frames_with_interpolation, interpolate_tracks  # noqa: E402


__all__ = ["MAX_DISPLAY_SIDE", "MP4_BRANDS_HINT", "MP4_CODECS", "TOP_BOXES", "FrameIndex", "build_index", "decode_frame",
           "encode_image", "frame_count_of", "frames_with_interpolation", "interpolate_tracks", "open_video",
           "probe_video", "video_frame"]
