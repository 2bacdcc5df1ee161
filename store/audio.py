"""Audio samples (SPEC F2.6, F3.8-F3.10): probing files at import, paged waveform peaks, playing
one segment, and voice-activity pre-segmentation with silero-vad (offline, weights from the
installed package).

Probing reads the header only (soundfile's sf.info), so a 2-hour file costs nothing at import;
WAV files are also checked for truncation (the data chunk must be all there). Peaks and segments
read just the window asked for (sf.read / sf.blocks with start/stop): flat memory for long files.
"""
from __future__ import annotations

import io
import math
import struct
import threading
from pathlib import Path

import numpy as np
import soundfile as sf

from .errors import NotFound, ValidationError
from .access import require_sample_file

AUDIO_FORMATS = {"WAV": "wav", "WAVEX": "wav", "RF64": "wav", "FLAC": "flac", "OGG": "ogg", "MP3": "mp3"}
MAX_PEAK_BUCKETS = 20_000
BLOCK_FRAMES = 1 << 18  # frames read at a time (flat memory)
# Pre-segmentation parameters, tuned on ../shared/data/digit_sequences (benchmarks/vad.py):
VAD_PARAMS = dict(threshold=0.3, min_speech_duration_ms=120, min_silence_duration_ms=30, speech_pad_ms=30)


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
                raise ValidationError(
                    f"{name}: the WAV file is truncated (its header announces {csize:,} bytes of audio, "
                    f"the file holds {max(have, 0):,})")
            return
        pos += 8 + csize + (csize & 1)
    if pos + 8 > size:
        raise ValidationError(f"{name}: the WAV file is truncated (no audio data chunk)")


def probe_audio(source: bytes | str | Path, name: str, size: int | None = None) -> dict:
    """Meta of an audio file we accept: {"duration", "sample_rate", "channels", "format"}; raise
    ValidationError with a clear reason otherwise (empty, not audio, truncated, unsupported)."""
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
        raise ValidationError(f"{name}: the file is empty (0 bytes)")
    try:
        info = sf.info(opener())
    except Exception as e:  # libsndfile: unknown format, corrupt header
        kind = "looks like text, not audio" if _looks_like_text(head) else "is not a readable audio file"
        raise ValidationError(f"{name}: {kind} (WAV, FLAC, OGG and MP3 are accepted; {str(e)[:120]})") from None
    fmt = AUDIO_FORMATS.get(info.format)
    if fmt is None:
        raise ValidationError(f"{name}: {info.format_info or info.format} audio is not accepted "
                              "(WAV, FLAC, OGG and MP3 are)")
    if fmt == "wav":
        _wav_truncation(head, size, name)
    if info.frames <= 0 or info.samplerate <= 0 or not math.isfinite(info.duration):
        raise ValidationError(f"{name}: the audio holds no samples")
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


# -- reading a sample's file ----------------------------------------------------------------------
def _sample(store, sample_id: int) -> tuple[str, str, dict]:
    import json

    row = store.db.fetchone("SELECT uri, path, meta FROM samples WHERE id = ?", [sample_id])
    if not row:
        raise NotFound(f"sample {sample_id} not found")
    return row[0], row[1], json.loads(row[2]) if row[2] else {}


def open_audio(store, sample_id: int) -> sf.SoundFile:
    """A SoundFile on the sample's file: local files are opened in place (seekable, nothing read
    up front); objects in S3 are read into memory."""
    uri, path, _meta = _sample(store, sample_id)
    local = store.locations.local_path(uri)
    try:
        if local is not None and local.is_file():
            return sf.SoundFile(str(local))
        return sf.SoundFile(io.BytesIO(store.locations.read(uri)))
    except (sf.LibsndfileError, RuntimeError) as e:
        raise ValidationError(f"{path}: cannot be read as audio ({str(e)[:120]})") from None


def _window(f: sf.SoundFile, start_s: float, end_s: float | None) -> tuple[int, int]:
    start = max(0, int(math.floor(float(start_s or 0) * f.samplerate)))
    stop = f.frames if end_s is None else min(f.frames, int(math.ceil(float(end_s) * f.samplerate)))
    if not math.isfinite(float(start_s or 0)) or (end_s is not None and not math.isfinite(float(end_s))):
        raise ValidationError("start and end must be finite numbers of seconds")
    return start, max(start, stop)


def waveform_peaks(store, sample_id: int, start_s: float = 0.0, end_s: float | None = None,
                   buckets: int = 1000, actor: str | None = None) -> dict:
    """Min/max peaks of the window [start_s, end_s) in `buckets` buckets (channels mixed down):
    {"start", "end", "sample_rate", "duration", "min": [...], "max": [...]}. Only the window is
    read, block by block, so memory stays flat however long the file is."""
    require_sample_file(store, actor, sample_id)
    buckets = int(buckets)
    if not 1 <= buckets <= MAX_PEAK_BUCKETS:
        raise ValidationError(f"buckets must be 1 to {MAX_PEAK_BUCKETS}, got {buckets}")
    with open_audio(store, sample_id) as f:
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


def segment_audio_bytes(store, sample_id: int, start: float, end: float, actor: str | None = None) -> bytes:
    """WAV bytes (16-bit PCM, the file's rate and channels) of [start, end): play one segment."""
    require_sample_file(store, actor, sample_id)
    if end is None or float(end) <= float(start or 0):
        raise ValidationError(f"a segment ends after it starts (start {start}, end {end})")
    with open_audio(store, sample_id) as f:
        a, b = _window(f, start, end)
        if b <= a:
            raise ValidationError(f"the segment {start}-{end} s lies outside the audio ({f.frames / f.samplerate:.3f} s)")
        f.seek(a)
        data = f.read(b - a, dtype="int16", always_2d=True)
        buf = io.BytesIO()
        sf.write(buf, data, f.samplerate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


# -- voice activity detection ---------------------------------------------------------------------
_MODEL = None
_MODEL_LOCK = threading.Lock()


def _vad_model():
    """silero-vad's JIT model from the installed package's files (no network, no torch.hub)."""
    global _MODEL
    with _MODEL_LOCK:
        if _MODEL is None:
            import torch
            from silero_vad import load_silero_vad

            torch.set_num_threads(max(1, min(4, torch.get_num_threads())))
            _MODEL = load_silero_vad(onnx=False)
    return _MODEL


def _to_vad_rate(mono: np.ndarray, sr: int) -> tuple[np.ndarray, int]:
    """silero-vad runs at 8 or 16 kHz (or multiples of 16 kHz, which it decimates itself)."""
    if sr in (8000, 16000) or sr % 16000 == 0:
        return mono, sr
    n = int(round(len(mono) * 16000 / sr))  # linear interpolation is enough for speech detection
    return np.interp(np.arange(n) * (sr / 16000), np.arange(len(mono)), mono).astype(np.float32), 16000


def speech_segments(mono: np.ndarray, sr: int, **params) -> list[tuple[float, float]]:
    """Speech (start, end) in seconds of a mono float signal."""
    import torch
    from silero_vad import get_speech_timestamps

    audio, rate = _to_vad_rate(np.ascontiguousarray(mono, dtype=np.float32), int(sr))
    if len(audio) == 0:
        return []
    model = _vad_model()
    with _MODEL_LOCK, torch.inference_mode():
        model.reset_states()
        stamps = get_speech_timestamps(torch.from_numpy(audio), model, sampling_rate=rate,
                                       **{**VAD_PARAMS, **params})
    return [(round(s["start"] / rate, 3), round(s["end"] / rate, 3)) for s in stamps]


def detect_speech(store, sample_id: int, actor: str | None = None, **params) -> list[tuple[float, float]]:
    """Pre-segmentation: the speech segments silero-vad finds in the sample, (start, end) seconds,
    rounded to the millisecond and within the audio. Long files are read in 10-minute windows."""
    require_sample_file(store, actor, sample_id)
    out: list[tuple[float, float]] = []
    with open_audio(store, sample_id) as f:
        sr, total = f.samplerate, f.frames
        window = 600 * sr
        for a in range(0, total, window):
            f.seek(a)
            block = f.read(min(window, total - a), dtype="float32", always_2d=True)
            mono = block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]
            off = a / sr
            for s, e in speech_segments(mono, sr, **params):
                s, e = round(s + off, 3), round(min(e + off, total / sr), 3)
                if out and s <= out[-1][1] + 1e-3 and a and abs(s - off) < 0.05:  # joined at a window edge
                    out[-1] = (out[-1][0], e)
                elif e > s:
                    out.append((s, e))
    return out


# -- import checks --------------------------------------------------------------------------------
def check_audio_files(store, entries: list):
    """check_files for audio (store/datasets.py): probe each file's header; local files in place,
    objects (S3, the store) read whole. Refused files get a reason; accepted ones get their meta."""
    from concurrent.futures import ThreadPoolExecutor

    from .datasets import PROBE_THREADS, Checked, FileEntry, Refused
    from .errors import StoreError

    def probe(entry):
        try:
            if entry.meta and "duration" in entry.meta:  # already probed (upload)
                return entry, None
            local = store.locations.local_path(entry.uri)
            if local is not None:  # read in place: no size limit, only the header is read
                if not local.is_file():
                    raise NotFound(f"{entry.path}: file not found")
                meta, size = probe_audio(local, entry.path), local.stat().st_size
            else:
                if entry.size is not None and entry.size > store.settings.max_upload_bytes:
                    raise ValidationError(f"{entry.path}: {entry.size / 2**20:.0f} MB is above the file size limit")
                data = store.locations.read(entry.uri)
                meta, size = probe_audio(data, entry.path), len(data)
            return FileEntry(entry.uri, entry.path, size, meta), None
        except StoreError as e:
            return None, Refused(entry.path, str(e))
        except OSError as e:
            return None, Refused(entry.path, f"{entry.path}: cannot be read ({e.strerror or e})")

    out = Checked()
    with ThreadPoolExecutor(PROBE_THREADS) as pool:
        for ok, refused in pool.map(probe, entries):
            if ok:
                out.accepted.append(ok)
            else:
                out.refused.append(refused)
    return out
