"""Opening the store: the DuckDB file (restored from the mirror first when it is missing),
interrupted runs marked failed, object storage and the roots that are the app's own. Above every
other module of store/ (it reaches the mirror and the runs); store/core.py holds the Store itself."""
from __future__ import annotations

import logging
from pathlib import Path

from .core import Store
from .db import Database
from .objects import Locations, make_object_store
from .settings import Settings

log = logging.getLogger(__name__)


def _open_database(settings: Settings) -> Database:
    """The DuckDB file; restored from the mirror first when it is missing and a mirror is set.
    A damaged file is refused with a message naming it and the ways out: never an empty store."""
    import duckdb

    from .errors import StoreError
    from .mirror import restore_if_missing, unusable_store_message

    restore_if_missing(settings)
    try:
        return Database(settings.database)
    except StoreError as e:
        if "in use by another process" in str(e):
            raise
        raise StoreError(unusable_store_message(settings, e)) from None
    except duckdb.Error as e:
        raise StoreError(unusable_store_message(settings, e)) from None


def open_store(settings: Settings | None = None) -> Store:
    settings = settings or Settings.from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = _open_database(settings)
    from .runs import recover_interrupted_runs

    interrupted = recover_interrupted_runs(Store(settings, db, None, None))  # type: ignore[arg-type]
    if interrupted:
        log.warning("%d auto-labeling runs were interrupted by a stop of the app: marked failed", interrupted)
    objects = make_object_store(settings)
    locations = Locations(objects, settings.s3_endpoint, settings.s3_region,
                          allow_local_paths=settings.allow_local_paths)
    locations.private_folders = [Path(settings.data_dir).expanduser().resolve(),
                                 Path(settings.objects_root).expanduser().resolve()]
    if settings.mirror:
        from .objects import parse_s3_url

        url = settings.mirror if settings.mirror.endswith("/") else settings.mirror + "/"
        locations.private_s3 = [parse_s3_url(url)]
    return Store(settings, db, objects, locations)
