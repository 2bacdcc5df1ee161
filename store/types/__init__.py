"""The registry of labeling types: REGISTRY[type_id] -> LabelingType (one module per type).

Every module of this package declares one type as `TYPE = LabelingType(...)`, found by scanning the
package; REGISTRY is ordered by the types' `order`. Helper modules (HELPERS) declare none; any
other module without a TYPE is an error, as are two types with one id or one order.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Iterable

from ..errors import ValidationError
from .base import Annotation, LabelingType

HELPERS = frozenset({"base", "shapes"})  # modules of this package that declare no type


def scan_types(package: str, path: Iterable[str], helpers: Iterable[str] = HELPERS) -> dict[str, LabelingType]:
    """The types the modules of a package declare, keyed by id, in their `order`."""
    helpers = set(helpers)
    found: list[LabelingType] = []
    for info in sorted(pkgutil.iter_modules(list(path)), key=lambda m: m.name):
        if info.name in helpers:
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        t = getattr(module, "TYPE", None)
        if not isinstance(t, LabelingType):
            raise RuntimeError(f"{package}.{info.name} declares no TYPE = LabelingType(...): declare one, "
                               f"or list the module in {package}.HELPERS")
        found.append(t)
    for what in ("id", "order"):
        values = [getattr(t, what) for t in found]
        doubles = sorted({str(v) for v in values if values.count(v) > 1})
        if doubles:
            raise RuntimeError(f"two labeling types in {package} share the {what} {', '.join(doubles)}")
    return {t.id: t for t in sorted(found, key=lambda t: t.order)}


REGISTRY: dict[str, LabelingType] = scan_types(__name__, __path__)

SCENES = {"images": "Images", "audio": "Audio", "text": "Text", "video": "Video"}


def get_type(type_id: str) -> LabelingType:
    try:
        return REGISTRY[type_id]
    except KeyError:
        raise ValidationError(
            f"unknown labeling type {type_id!r}; one of: {', '.join(REGISTRY)}") from None


__all__ = ["HELPERS", "REGISTRY", "SCENES", "Annotation", "LabelingType", "get_type", "scan_types"]
