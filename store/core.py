"""The Store: one DuckDB file plus object storage, handed to every function in store/, and its own
in-process state (store.caches: store/caches.py). Opening one is store/opening.py's open_store."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .caches import StoreCaches
from .db import Database
from .objects import Locations, ObjectStore
from .settings import Settings

LOCAL_USER = "local"


@dataclass
class Store:
    settings: Settings
    db: Database
    objects: ObjectStore
    locations: Locations
    caches: StoreCaches = field(default=None)  # type: ignore[assignment]  (made from the settings)

    def __post_init__(self) -> None:
        if self.caches is None:
            self.caches = StoreCaches.for_settings(self.settings)

    @property
    def cache_dir(self) -> Path:
        return self.settings.cache_dir

    def close(self) -> None:
        self.caches.prefetch.close()
        self.db.close()
