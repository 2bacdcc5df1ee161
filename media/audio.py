"""Audio files: probing at import, min/max peaks of a window, one segment as WAV, and the
speech segments of a file (with a media.vad.VadModel).

Probing reads the header only (soundfile's sf.info), so a 2-hour file costs nothing at import;
WAV files are also checked for truncation (the data chunk must be all there). Peaks and segments
read just the window asked for (seek + read block by block): flat memory for long files.
"""
from __future__ import annotations

import io
import math
import struct
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf

from .errors import MediaError

if TYPE_CHECKING:
    from .vad import VadModel

AUDIO_FORMATS = {"WAV": "wav", "WAVEX": "wav", "RF64": "wav", "FLAC": "flac", "OGG": "ogg", "MP3": "mp3"}
MAX_PEAK_BUCKETS = 20_000
BLOCK_FRAMES = 1 << 18  # frames read at a time (flat memory)
SPEECH_WINDOW_S = 600  # speech is detected in 10-minute windows


def _wav_truncation(head: bytes, size: int, name: str) -> None:
    """Refuse a RIFF/WAVE file whose data chunk promises more bytes than the file holds."""
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        return
    pos = 12
    while pos + 8 <= len(head):
        cid, csize = head[pos:pos + 4], struct.unpack("<I", head[pos + 4:pos + 8])[0]
        if cid == b"data":
            if head[:4] == b"RF64" or csize == 0xFFFFFFFF:
                return  # 64-bit sizes live in ds64: trust libsndfile
            have = size - (pos + 8)
            if have < csize:
                raise MediaError(
                    f"{name}: the WAV file is truncated (its header announces {csize:,} bytes of audio, "
                    f"the file holds {max(have, 0):,})")
            return
        pos += 8 + csize + (csize & 1)
    if pos + 8 > size:
        raise MediaError(f"{name}: the WAV file is truncated (no audio data chunk)")


def probe_audio(source: bytes | str | Path, name: str, size: int | None = None) -> dict:
    """Meta of an audio file we accept: {"duration", "sample_rate", "channels", "format"}; raise
    MediaError with a clear reason otherwise (empty, not audio, truncated, unsupported)."""
    if isinstance(source, (bytes, bytearray)):
        size = len(source)
        head = bytes(source[:1 << 16])
        opener = lambda: io.BytesIO(source)  # noqa: E731
    else:
        path = Path(source)
        size = path.stat().st_size if size is None else size
        with open(path, "rb") as f:
            head = f.read(1 << 16)
        opener = lambda: str(path)  # noqa: E731
    if not size:
        raise MediaError(f"{name}: the file is empty (0 bytes)")
    try:
        info = sf.info(opener())
    except Exception as e:  # libsndfile: unknown format, corrupt header
        kind = "looks like text, not audio" if _looks_like_text(head) else "is not a readable audio file"
        raise MediaError(f"{name}: {kind} (WAV, FLAC, OGG and MP3 are accepted; {str(e)[:120]})") from None
    fmt = AUDIO_FORMATS.get(info.format)
    if fmt is None:
        raise MediaError(f"{name}: {info.format_info or info.format} audio is not accepted "
                              "(WAV, FLAC, OGG and MP3 are)")
    if fmt == "wav":
        _wav_truncation(head, size, name)
    if info.frames <= 0 or info.samplerate <= 0 or not math.isfinite(info.duration):
        raise MediaError(f"{name}: the audio holds no samples")
    return {"duration": round(float(info.frames) / info.samplerate, 6), "sample_rate": int(info.samplerate),
            "channels": int(info.channels), "format": fmt}


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    try:
        head[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(b >= 32 or b in (9, 10, 13) for b in head[:4096])


def open_sound(source: bytes | str | Path, name: str) -> sf.SoundFile:
    """A SoundFile on a local file (opened in place: seekable, nothing read up front) or on bytes."""
    try:
        if isinstance(source, (bytes, bytearray)):
            return sf.SoundFile(io.BytesIO(source))
        return sf.SoundFile(str(source))
    except (sf.LibsndfileError, RuntimeError) as e:
        raise MediaError(f"{name}: cannot be read as audio ({str(e)[:120]})") from None


def _window(f: sf.SoundFile, start_s: float, end_s: float | None) -> tuple[int, int]:
    start = max(0, int(math.floor(float(start_s or 0) * f.samplerate)))
    stop = f.frames if end_s is None else min(f.frames, int(math.ceil(float(end_s) * f.samplerate)))
    if not math.isfinite(float(start_s or 0)) or (end_s is not None and not math.isfinite(float(end_s))):
        raise MediaError("start and end must be finite numbers of seconds")
    return start, max(start, stop)


def peak_buckets(buckets) -> int:
    """The number of peak buckets asked for, checked: 1 to MAX_PEAK_BUCKETS."""
    buckets = int(buckets)
    if not 1 <= buckets <= MAX_PEAK_BUCKETS:
        raise MediaError(f"buckets must be 1 to {MAX_PEAK_BUCKETS}, got {buckets}")
    return buckets


def peaks(f: sf.SoundFile, start_s: float = 0.0, end_s: float | None = None, buckets: int = 1000) -> dict:
    """Min/max peaks of the window [start_s, end_s) of an open file in `buckets` buckets (channels
    mixed down): {"start", "end", "sample_rate", "duration", "min": [...], "max": [...]}. Only the
    window is read, block by block, so memory stays flat however long the file is."""
    buckets = peak_buckets(buckets)
    sr, total = f.samplerate, f.frames
    start, stop = _window(f, start_s, end_s)
    n = stop - start
    lo = np.zeros(buckets, dtype=np.float32)
    hi = np.zeros(buckets, dtype=np.float32)
    if n > 0:
        lo[:] = np.inf
        hi[:] = -np.inf
        f.seek(start)
        pos = 0
        while pos < n:
            block = f.read(min(BLOCK_FRAMES, n - pos), dtype="float32", always_2d=True)
            if not len(block):
                break
            mono = block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]
            idx = ((pos + np.arange(len(mono), dtype=np.int64)) * buckets) // n
            _reduce(lo, hi, idx, mono)
            pos += len(block)
        empty = ~np.isfinite(lo)
        lo[empty] = 0.0
        hi[empty] = 0.0
    return {"start": start / sr, "end": stop / sr, "sample_rate": sr, "duration": total / sr,
            "min": [round(float(x), 4) for x in lo], "max": [round(float(x), 4) for x in hi]}


def _reduce(lo: np.ndarray, hi: np.ndarray, idx: np.ndarray, values: np.ndarray) -> None:
    """Per-bucket min/max of a block whose bucket indices are sorted (contiguous runs)."""
    cuts = np.flatnonzero(np.diff(idx)) + 1
    starts = np.concatenate(([0], cuts))
    keys = idx[starts]
    np.minimum.at(lo, keys, np.minimum.reduceat(values, starts))
    np.maximum.at(hi, keys, np.maximum.reduceat(values, starts))


def check_segment(start, end) -> None:
    """A segment ends after it starts."""
    if end is None or float(end) <= float(start or 0):
        raise MediaError(f"a segment ends after it starts (start {start}, end {end})")


def segment_wav(f: sf.SoundFile, start: float, end: float) -> bytes:
    """WAV bytes (16-bit PCM, the file's rate and channels) of [start, end) of an open file."""
    check_segment(start, end)
    a, b = _window(f, start, end)
    if b <= a:
        raise MediaError(f"the segment {start}-{end} s lies outside the audio ({f.frames / f.samplerate:.3f} s)")
    f.seek(a)
    data = f.read(b - a, dtype="int16", always_2d=True)
    buf = io.BytesIO()
    sf.write(buf, data, f.samplerate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def speech_in(f: sf.SoundFile, vad: VadModel, **params) -> list[tuple[float, float]]:
    """The speech segments `vad` finds in an open file, (start, end) seconds, rounded to the
    millisecond and within the audio. Long files are read in SPEECH_WINDOW_S windows."""
    out: list[tuple[float, float]] = []
    sr, total = f.samplerate, f.frames
    window = SPEECH_WINDOW_S * sr
    for a in range(0, total, window):
        f.seek(a)
        block = f.read(min(window, total - a), dtype="float32", always_2d=True)
        mono = block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]
        off = a / sr
        for s, e in vad.speech_segments(mono, sr, **params):
            s, e = round(s + off, 3), round(min(e + off, total / sr), 3)
            if out and s <= out[-1][1] + 1e-3 and a and abs(s - off) < 0.05:  # joined at a window edge
                out[-1] = (out[-1][0], e)
            elif e > s:
                out.append((s, e))
    return out
