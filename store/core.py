"""The Store: one DuckDB file plus object storage, handed to every function in store/."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from .db import Database
from .objects import Locations, ObjectStore, make_object_store
from .settings import Settings

log = logging.getLogger(__name__)
LOCAL_USER = "local"


@dataclass
class Store:
    settings: Settings
    db: Database
    objects: ObjectStore
    locations: Locations

    @property
    def cache_dir(self) -> Path:
        return self.settings.cache_dir

    def close(self) -> None:
        self.db.close()


def open_store(settings: Settings | None = None) -> Store:
    settings = settings or Settings.from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database)
    from .runs import recover_interrupted_runs

    interrupted = recover_interrupted_runs(Store(settings, db, None, None))  # type: ignore[arg-type]
    if interrupted:
        log.warning("%d auto-labeling runs were interrupted by a stop of the app: marked failed", interrupted)
    objects = make_object_store(settings)
    locations = Locations(objects, settings.s3_endpoint, settings.s3_region,
                          allow_local_paths=settings.allow_local_paths)
    return Store(settings, db, objects, locations)
