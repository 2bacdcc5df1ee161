"""The in-process state of one Store: caches, locks and loaded models. Each Store holds its own
(``store.caches``), so two stores in one process share none of it; nothing in store/ keeps such
state in a module global or on the DuckDB handle."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from media.images import DecodeGate, ImageCache, KeyLocks
from media.recent import RecentlyUsed
from media.sam import SamSegmenter
from media.vad import VadModel
from media.video import FrameIndexCache

if TYPE_CHECKING:
    from .settings import Settings

VIDEO_INDEXES_KEPT = 64
OUTLINES_KEPT = 20_000


@dataclass
class AuthCache:
    """In-process answers of the hot auth path (store/users.py; every request asks them). Only
    this process writes the store (DuckDB's single writer), and every write drops what it changes."""
    configured: bool | None = None  # are there users at all (None: not asked yet)
    sessions: dict[str, tuple] = field(default_factory=dict)  # token hash -> (username, expires, blocked)
    admins: dict[str, bool] = field(default_factory=dict)  # username -> an enabled admin (every media request asks)


@dataclass
class MirrorState:
    """The S3 mirror of this store (store/mirror.py): one mirror at a time, the last status (in
    memory; also written to the meta table) and the background scheduler while it runs."""
    lock: threading.Lock = field(default_factory=threading.Lock)  # one mirror at a time
    status_lock: threading.Lock = field(default_factory=threading.Lock)
    status: dict | None = None  # the last status (None: read it from the meta table)
    scheduler: Any = None  # the running MirrorScheduler
    quiet: threading.local = field(default_factory=threading.local)  # .on while the mirror writes its status


class Prefetcher:
    """One daemon thread for work done ahead of a click (the thumbnails of the page after the
    one shown): jobs run newest first, at most `keep` wait (older ones are dropped: the user
    moved on), and nothing runs once the store closes."""

    def __init__(self, keep: int = 2):
        self.keep = keep
        self.closed = False
        self._lock = threading.Lock()
        self._pending: list[tuple[Any, Any]] = []  # (key, fn), newest last
        self._running = False
        self._thread: threading.Thread | None = None

    def submit(self, key, fn) -> None:
        with self._lock:
            if self.closed or any(k == key for k, _ in self._pending):
                return
            self._pending.append((key, fn))
            del self._pending[:-self.keep]
            if not self._running:
                self._running = True
                self._thread = threading.Thread(target=self._run, name="labelport-prefetch", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        import logging

        while True:
            with self._lock:
                if self.closed or not self._pending:
                    self._running = False
                    return
                _, fn = self._pending.pop()
            try:
                fn()
            except Exception:  # noqa: BLE001 - work ahead of a click: the click itself reports problems
                logging.getLogger("labelport").debug("prefetch failed", exc_info=True)

    def close(self, wait: float = 10.0) -> None:
        """No more jobs; the one running stops at its next item (waited for up to `wait` s, so
        the store is not closed under it)."""
        with self._lock:
            self.closed = True
            self._pending.clear()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(wait)


class Presence:
    """Who opened which sample lately (store/presence.py): per user the last sample they opened in
    a labeling view and when. A light notice for the others ("also open by"), never a lock; kept
    in memory only (a restart forgets it)."""

    def __init__(self, window_s: float = 120.0, size: int = 10_000):
        self.window_s = window_s
        self.size = size
        self._lock = threading.Lock()
        self._open: dict[str, tuple[int, int, float]] = {}  # user -> (job id, sample id, monotonic time)

    def note(self, user: str, job_id: int, sample_id: int | None, at: float) -> list[str]:
        """`user` has this sample open now (None: none); the others who opened it within the
        window, sorted."""
        with self._lock:
            self._open.pop(user, None)
            if sample_id is not None:
                self._open[user] = (job_id, sample_id, at)
            while len(self._open) > self.size:  # the oldest go first (dicts keep insertion order)
                self._open.pop(next(iter(self._open)))
            return sorted(u for u, (j, s, t) in self._open.items()
                          if u != user and j == job_id and s == sample_id and at - t <= self.window_s)


@dataclass
class StoreCaches:
    display: ImageCache  # decoded display images (store/samples.py), Settings.image_cache_bytes
    decodes: DecodeGate  # at most Settings.max_decodes image decodes at once
    key_locks: KeyLocks = field(default_factory=KeyLocks)  # one thread at a time per sample (single_flight)
    video_index: FrameIndexCache = field(default_factory=lambda: FrameIndexCache(VIDEO_INDEXES_KEPT))
    vad: VadModel = field(default_factory=VadModel)  # silero-vad, loaded on first use (store/audio.py)
    sam: SamSegmenter = field(default_factory=SamSegmenter)  # SAM and recent image embeddings (store/samples.py)
    auth: AuthCache = field(default_factory=AuthCache)
    mirror: MirrorState = field(default_factory=MirrorState)
    publish_lock: threading.Lock = field(default_factory=threading.Lock)  # one publish at a time (versions)
    prefetch: Prefetcher = field(default_factory=Prefetcher)  # thumbnails of the next page (store/samples.py)
    presence: Presence = field(default_factory=Presence)  # who has which sample open (store/presence.py)
    # each saved version's outline (store/history.py), by (job id, sample id, version): a version never
    # changes once written and ids are never reused, so each is read from its JSON once
    outlines: RecentlyUsed[dict] = field(default_factory=lambda: RecentlyUsed(OUTLINES_KEPT))

    @classmethod
    def for_settings(cls, settings: Settings) -> StoreCaches:
        return cls(display=ImageCache(settings.image_cache_bytes), decodes=DecodeGate(settings.max_decodes))
