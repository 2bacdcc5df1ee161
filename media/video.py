"""Video files: probing MP4 files at import, the index of a file's frames and one exact frame.
PyAV (FFmpeg bundled in the wheel) decodes.

Probing walks the MP4's top-level boxes (ftyp first; every box must fit in the file, so a
truncated copy is refused) and opens the file with PyAV: the container must be of the MP4/MOV
family and hold a video stream of an MP4 codec (H.264, or H.265/AV1/VP9/MPEG-4 part 2) with at
least one frame that decodes. Anything else is refused with a message that says MP4 (H.264) is
required and what is wrong.

A frame is addressed by its index in presentation order (0 .. frame_count - 1). The index of a
file's frames (their pts, in order, and which are keyframes) is read once by demuxing (no
decoding) and kept in a small cache (a FrameIndexCache; each Store holds its own); `decode_frame`
seeks to the keyframe at or before the frame and decodes forward to it, so it returns the same
pixels as decoding the file from the start.
"""
from __future__ import annotations

import bisect
import io
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Hashable

from .errors import MediaError
from .recent import RecentlyUsed

MP4_CODECS = {"h264": "h264", "hevc": "h265", "av1": "av1", "vp9": "vp9", "mpeg4": "mpeg4"}
MP4_BRANDS_HINT = "MP4 (H.264) is required"
TOP_BOXES = {b"ftyp", b"styp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"meta", b"pdin",
             b"moof", b"mfra", b"sidx", b"prft", b"emsg", b"pnot", b"junk", b"ssix", b"udta"}
MAX_DISPLAY_SIDE = 1280


def _refuse(name: str, what: str) -> MediaError:
    return MediaError(f"{name}: {what}; {MP4_BRANDS_HINT}")


# -- probing ---------------------------------------------------------------------------------------
def _sniff(head: bytes) -> str:
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "an AVI file"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "a Matroska/WebM (MKV) file"
    if head[:3] == b"FLV":
        return "an FLV file"
    if head[:4] == b"OggS":
        return "an Ogg file"
    if head[:4] == b"\x00\x00\x01\xba" or head[:1] == b"\x47":
        return "an MPEG program/transport stream"
    return "not an MP4 file"


def _walk_boxes(read_at, size: int, name: str) -> None:
    """Check the top-level MP4 boxes: ftyp first, each box inside the file, a moov present."""
    head = read_at(0, 16)
    if len(head) < 8 or head[4:8] not in (b"ftyp", b"styp"):
        raise _refuse(name, f"the file is {_sniff(read_at(0, 16))}" if len(head) >= 4 else "the file is too short")
    pos, seen = 0, set()
    while pos < size:
        hdr = read_at(pos, 16)
        if len(hdr) < 8:
            raise _refuse(name, f"the MP4 file is truncated (a box header is cut at byte {pos:,})")
        box_size, kind = struct.unpack(">I4s", hdr[:8])
        if box_size == 1:
            if len(hdr) < 16:
                raise _refuse(name, f"the MP4 file is truncated (a box header is cut at byte {pos:,})")
            box_size = struct.unpack(">Q", hdr[8:16])[0]
        elif box_size == 0:  # to the end of the file
            box_size = size - pos
        if box_size < 8:
            raise _refuse(name, f"the MP4 file is damaged (a box of {box_size} bytes at byte {pos:,})")
        if pos + box_size > size:
            raise _refuse(name, f"the MP4 file is truncated (its {kind.decode('latin-1')!r} box needs "
                                f"{box_size:,} bytes from byte {pos:,}, the file holds {size:,})")
        seen.add(kind)
        pos += box_size
    if b"moov" not in seen and b"moof" not in seen:
        raise _refuse(name, "the MP4 file has no movie header (moov box): it is truncated or damaged")


def probe_video(source: bytes | str | Path, name: str, size: int | None = None) -> dict:
    """Meta of an MP4 video we accept: {"width", "height", "fps", "frame_count", "duration", "codec",
    "format"}; raise MediaError with a clear reason otherwise."""
    import av

    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
        size = len(data)
        read_at = lambda pos, n: data[pos:pos + n]  # noqa: E731
        opener = lambda: io.BytesIO(data)  # noqa: E731
        fh = None
    else:
        path = Path(source)
        size = path.stat().st_size if size is None else size
        fh = open(path, "rb")

        def read_at(pos, n):
            fh.seek(pos)
            return fh.read(n)
        opener = lambda: str(path)  # noqa: E731
    try:
        if not size:
            raise MediaError(f"{name}: the file is empty (0 bytes); {MP4_BRANDS_HINT}")
        _walk_boxes(read_at, size, name)
    finally:
        if fh is not None:
            fh.close()
    try:
        container = av.open(opener(), mode="r")
    except (av.FFmpegError, OSError, ValueError) as e:
        raise _refuse(name, f"the file cannot be read as video ({str(e)[:120]})") from None
    try:
        fmt = container.format.name or ""
        if "mp4" not in fmt.split(",") and "mov" not in fmt.split(","):
            raise _refuse(name, f"the container is {container.format.long_name or fmt}")
        if not container.streams.video:
            raise _refuse(name, "the file holds no video (no video stream, 0 frames)")
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        if codec not in MP4_CODECS:
            raise _refuse(name, f"the video codec is {codec}")
        width, height = int(stream.codec_context.width or 0), int(stream.codec_context.height or 0)
        if width <= 0 or height <= 0:
            raise _refuse(name, "the video stream has no picture size")
        frames = int(stream.frames or 0)
        if frames <= 0:
            frames = sum(1 for p in container.demux(stream) if p.size)
            container.seek(0)
        if frames <= 0:
            raise _refuse(name, "the video holds no frames (0 frames)")
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        if stream.duration is not None and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / 1_000_000
        else:
            duration = frames / fps if fps else 0.0
        if not fps or not math.isfinite(fps):
            fps = frames / duration if duration else 0.0
        if fps <= 0:
            raise _refuse(name, "the video has no frame rate")
        try:  # the first frame must decode
            next(container.decode(stream))
        except (StopIteration, av.FFmpegError) as e:
            raise _refuse(name, f"no frame of the video can be decoded ({str(e)[:100] or 'no frames'})") from None
        return {"width": width, "height": height, "fps": round(fps, 6), "frame_count": frames,
                "duration": round(duration, 6), "codec": MP4_CODECS[codec], "format": "mp4"}
    finally:
        container.close()



# -- frames ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FrameIndex:
    pts: list[int]  # presentation timestamps of the frames, in presentation order
    key_pts: list[int]  # pts of the keyframes, sorted
    time_base: float
    start: int


def build_index(container) -> FrameIndex:
    stream = container.streams.video[0]
    pts, keys = [], []
    for p in container.demux(stream):
        if not p.size:
            continue
        t = p.pts if p.pts is not None else p.dts
        if t is None:
            continue
        pts.append(t)
        if p.is_keyframe:
            keys.append(t)
    pts.sort()
    keys.sort()
    container.seek(0)
    return FrameIndex(pts, keys, float(stream.time_base), pts[0] if pts else 0)


class FrameIndexCache(RecentlyUsed["FrameIndex"]):
    """Frame indexes of recently opened files, by a key of the file's identity (path, size and
    modification time, or uri, size and a hash of its head); the least recently used go first."""


def open_indexed(source: bytes | str | Path, name: str, key: Hashable, cache: FrameIndexCache):
    """(container, frame index) of a video (a local path or the file's bytes); the index comes
    from `cache` under `key` when it is there, else is built by demuxing and kept there."""
    import av

    try:
        container = av.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else str(source))
    except (av.FFmpegError, OSError) as e:
        raise MediaError(f"{name}: cannot be read as video ({str(e)[:120]})") from None
    if not container.streams.video:
        container.close()
        raise MediaError(f"{name}: the file holds no video stream")
    container.streams.video[0].thread_type = "NONE"
    index = cache.get(key)
    if index is None:
        index = build_index(container)
        cache.put(key, index)
    return container, index


def decode_frame(container, index: FrameIndex, frame_index: int):
    """The av.VideoFrame at `frame_index` (presentation order): seek to the keyframe at or before
    it, decode forward to its pts; if the seek lands past it, start from an earlier keyframe."""
    stream = container.streams.video[0]
    target = index.pts[frame_index]
    k = bisect.bisect_right(index.key_pts, target) - 1
    while True:
        seek_to = index.key_pts[k] if k >= 0 else index.start
        container.seek(seek_to, stream=stream, backward=True, any_frame=False)
        cc = stream.codec_context
        cc.flush_buffers()
        # frames no other frame refers to are skipped until the target's own packet: same pixels
        cc.skip_frame = "NONREF"
        first, found = True, None
        for packet in container.demux(stream):
            if packet.pts == target:
                cc.skip_frame = "DEFAULT"
            for frame in cc.decode(packet):
                if frame.pts is None:
                    continue
                if first and frame.pts > target and packet.pts != target:
                    found = False  # landed after the target (open GOP): go back one keyframe
                    break
                first = False
                if frame.pts == target:
                    found = frame
                    break
                if frame.pts > target:
                    found = False
                    break
            if found is not None:
                break
        cc.skip_frame = "DEFAULT"
        if found:
            return found
        if k < 0:
            break
        k -= 1
    raise MediaError(f"frame {frame_index} cannot be decoded")


def iter_frames(container, index: FrameIndex, start: int, stop: int):
    """(frame index, av.VideoFrame) of frames start..stop (inclusive) in presentation order, decoded
    once from the keyframe before `start` (one keyframe earlier still, for open GOPs)."""
    stream = container.streams.video[0]
    start, stop = max(0, start), min(stop, len(index.pts) - 1)
    if start > stop:
        return
    at = {p: i for i, p in enumerate(index.pts)}
    k = bisect.bisect_right(index.key_pts, index.pts[start]) - 2
    container.seek(index.key_pts[k] if k >= 0 else index.start, stream=stream, backward=True, any_frame=False)
    stream.codec_context.flush_buffers()
    for frame in container.decode(stream):
        i = at.get(frame.pts)
        if i is None or i < start:
            continue
        if i > stop:
            return
        yield i, frame


def encode_image(image, max_side: int = MAX_DISPLAY_SIDE, fmt: str = "jpeg", quality: int = 88) -> bytes:
    from PIL import Image

    if max_side and max(image.size) > max_side:
        scale = max_side / max(image.size)
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                             Image.BILINEAR)
    buf = io.BytesIO()
    if fmt == "webp":
        image.save(buf, "WEBP", quality=quality, method=0)
    else:
        image.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def frame_count_of(index: FrameIndex) -> int:
    return len(index.pts)
