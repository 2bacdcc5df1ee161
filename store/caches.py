"""The in-process state of one Store: caches, locks and loaded models. Each Store holds its own
(``store.caches``), so two stores in one process share none of it; nothing in store/ keeps such
state in a module global or on the DuckDB handle."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from media.images import DecodeGate, ImageCache, KeyLocks
from media.vad import VadModel
from media.video import FrameIndexCache

if TYPE_CHECKING:
    from .settings import Settings

VIDEO_INDEXES_KEPT = 64


@dataclass
class AuthCache:
    """In-process answers of the hot auth path (store/users.py; every request asks them). Only
    this process writes the store (DuckDB's single writer), and every write drops what it changes."""
    configured: bool | None = None  # are there users at all (None: not asked yet)
    sessions: dict[str, tuple] = field(default_factory=dict)  # token hash -> (username, expires, blocked)


@dataclass
class MirrorState:
    """The S3 mirror of this store (store/mirror.py): one mirror at a time, the last status (in
    memory; also written to the meta table) and the background scheduler while it runs."""
    lock: threading.Lock = field(default_factory=threading.Lock)  # one mirror at a time
    status_lock: threading.Lock = field(default_factory=threading.Lock)
    status: dict | None = None  # the last status (None: read it from the meta table)
    scheduler: Any = None  # the running MirrorScheduler
    quiet: threading.local = field(default_factory=threading.local)  # .on while the mirror writes its status


@dataclass
class StoreCaches:
    display: ImageCache  # decoded display images (store/samples.py), Settings.image_cache_bytes
    decodes: DecodeGate  # at most Settings.max_decodes image decodes at once
    key_locks: KeyLocks = field(default_factory=KeyLocks)  # one thread at a time per sample (single_flight)
    video_index: FrameIndexCache = field(default_factory=lambda: FrameIndexCache(VIDEO_INDEXES_KEPT))
    vad: VadModel = field(default_factory=VadModel)  # silero-vad, loaded on first use (store/audio.py)
    auth: AuthCache = field(default_factory=AuthCache)
    mirror: MirrorState = field(default_factory=MirrorState)
    publish_lock: threading.Lock = field(default_factory=threading.Lock)  # one publish at a time (versions)

    @classmethod
    def for_settings(cls, settings: Settings) -> StoreCaches:
        return cls(display=ImageCache(settings.image_cache_bytes), decodes=DecodeGate(settings.max_decodes))
