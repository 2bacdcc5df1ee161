"""Voice activity with silero-vad: its JIT model from the installed package's files (no network,
no torch.hub), loaded on first use. A VadModel is an object, not a module global: each Store
holds its own (store.caches.vad)."""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# Pre-segmentation parameters, tuned on ../shared/data/digit_sequences (benchmarks/vad.py):
VAD_PARAMS = dict(threshold=0.3, min_speech_duration_ms=120, min_silence_duration_ms=30, speech_pad_ms=30)


class VadModel:
    """silero-vad, loaded on first use; one detection at a time (the model keeps state)."""

    def __init__(self):
        self._model = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self):
        """The model (loaded once)."""
        with self._lock:
            if self._model is None:
                import torch
                from silero_vad import load_silero_vad

                torch.set_num_threads(max(1, min(4, torch.get_num_threads())))
                self._model = load_silero_vad(onnx=False)
        return self._model

    def speech_segments(self, mono: np.ndarray, sr: int, **params) -> list[tuple[float, float]]:
        """Speech (start, end) in seconds of a mono float signal."""
        import numpy as np
        import torch
        from silero_vad import get_speech_timestamps

        audio, rate = _to_vad_rate(np.ascontiguousarray(mono, dtype=np.float32), int(sr))
        if len(audio) == 0:
            return []
        model = self.load()
        with self._lock, torch.inference_mode():
            model.reset_states()
            stamps = get_speech_timestamps(torch.from_numpy(audio), model, sampling_rate=rate,
                                           **{**VAD_PARAMS, **params})
        return [(round(s["start"] / rate, 3), round(s["end"] / rate, 3)) for s in stamps]


def _to_vad_rate(mono: np.ndarray, sr: int) -> tuple[np.ndarray, int]:
    """silero-vad runs at 8 or 16 kHz (or multiples of 16 kHz, which it decimates itself)."""
    import numpy as np

    if sr in (8000, 16000) or sr % 16000 == 0:
        return mono, sr
    n = int(round(len(mono) * 16000 / sr))  # linear interpolation is enough for speech detection
    return np.interp(np.arange(n) * (sr / 16000), np.arange(len(mono)), mono).astype(np.float32), 16000
