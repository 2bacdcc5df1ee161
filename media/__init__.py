"""Decoding sample files, below the store: images (probe, display decode, thumbnails, the decoded
image cache), audio (probe, peaks, segments), voice activity (silero-vad) and video (probe, frame
index, exact frames).

Functions take bytes, paths or open files and return plain values; they know nothing of jobs,
samples, users or the DuckDB file, and import nothing from store/ (store/media.py, store/audio.py
and store/video.py add the access checks and the store's caches). A file that is refused raises
``MediaError`` (a ValueError) with a message a user can act on; the store turns it into its
ValidationError.
"""
from .errors import MediaError

__all__ = ["MediaError"]
