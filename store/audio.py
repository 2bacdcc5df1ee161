"""Audio samples (SPEC F2.6, F3.8-F3.10): the store's side of media/audio.py and media/vad.py.
Opening a sample's file (local files in place, objects in S3 read into memory), paged waveform
peaks, playing one segment and voice-activity pre-segmentation with silero-vad (offline, weights
from the installed package; the model is the store's own, store.caches.vad), each for whoever
may read the sample's file (store/access.py). Probing files at import is media/audio.py's
``probe_audio``; refusals are the store's ValidationError.
"""
from __future__ import annotations

import json

import soundfile as sf

from media import audio as media_audio
from media.audio import AUDIO_FORMATS, BLOCK_FRAMES, MAX_PEAK_BUCKETS
from media.vad import VAD_PARAMS

from .access import require_sample_file
from .errors import NotFound
from .media import as_validation_errors

probe_audio = as_validation_errors(media_audio.probe_audio)
_peak_buckets = as_validation_errors(media_audio.peak_buckets)
_check_segment = as_validation_errors(media_audio.check_segment)
_open_sound = as_validation_errors(media_audio.open_sound)
_peaks = as_validation_errors(media_audio.peaks)
_segment_wav = as_validation_errors(media_audio.segment_wav)


def _sample(store, sample_id: int) -> tuple[str, str, dict]:
    row = store.db.fetchone("SELECT uri, path, meta FROM samples WHERE id = ?", [sample_id])
    if not row:
        raise NotFound(f"sample {sample_id} not found")
    return row[0], row[1], json.loads(row[2]) if row[2] else {}


def open_audio(store, sample_id: int) -> sf.SoundFile:
    """A SoundFile on the sample's file: local files are opened in place (seekable, nothing read
    up front); objects in S3 are read into memory."""
    uri, path, _meta = _sample(store, sample_id)
    local = store.locations.local_path(uri)
    if local is not None and local.is_file():
        return _open_sound(local, path)
    return _open_sound(store.locations.read(uri), path)


def waveform_peaks(store, sample_id: int, start_s: float = 0.0, end_s: float | None = None,
                   buckets: int = 1000, actor: str | None = None) -> dict:
    """Min/max peaks of the window [start_s, end_s) in `buckets` buckets (channels mixed down):
    {"start", "end", "sample_rate", "duration", "min": [...], "max": [...]}. Only the window is
    read, block by block, so memory stays flat however long the file is."""
    require_sample_file(store, actor, sample_id)
    buckets = _peak_buckets(buckets)
    with open_audio(store, sample_id) as f:
        return _peaks(f, start_s, end_s, buckets)


def segment_audio_bytes(store, sample_id: int, start: float, end: float, actor: str | None = None) -> bytes:
    """WAV bytes (16-bit PCM, the file's rate and channels) of [start, end): play one segment."""
    require_sample_file(store, actor, sample_id)
    _check_segment(start, end)
    with open_audio(store, sample_id) as f:
        return _segment_wav(f, start, end)


def detect_speech(store, sample_id: int, actor: str | None = None, **params) -> list[tuple[float, float]]:
    """Pre-segmentation: the speech segments silero-vad finds in the sample, (start, end) seconds,
    rounded to the millisecond and within the audio. Long files are read in 10-minute windows."""
    require_sample_file(store, actor, sample_id)
    with open_audio(store, sample_id) as f:
        return media_audio.speech_in(f, store.caches.vad, **params)


__all__ = ["AUDIO_FORMATS", "BLOCK_FRAMES", "MAX_PEAK_BUCKETS", "VAD_PARAMS", "detect_speech", "open_audio",
           "probe_audio", "segment_audio_bytes", "waveform_peaks"]
