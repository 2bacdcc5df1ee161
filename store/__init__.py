"""The store: every rule of the product and the only code that touches DuckDB and object storage.

Functions take a Store and plain values and return plain values (dataclasses), so pages, the
CLI, scripts and tests share them. Nothing here imports gradio.
"""
from .core import LOCAL_USER, Store
from .errors import NotFound, StorageError, StoreError, ValidationError
from .opening import open_store
from .settings import Settings

__all__ = ["LOCAL_USER", "NotFound", "Settings", "StorageError", "Store", "StoreError", "ValidationError",
           "open_store"]
