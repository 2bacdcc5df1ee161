"""The registry of import/export formats: FORMATS[format_id], filled by each format's module as
it is imported (store/formats/__init__.py imports them all). Format modules import what they
register with from here, never from the package itself, so the package imports its modules and
none of them imports the package back."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import ValidationError

EXAMPLES = Path(__file__).parent / "examples"


@dataclass
class Format:
    id: str
    title: str
    description: str
    readers: dict[str, Callable] = field(default_factory=dict)
    writers: dict[str, Callable] = field(default_factory=dict)
    example: str = ""  # file name under examples/

    def reader_for(self, type_id: str) -> Callable:
        if type_id not in self.readers:
            raise ValidationError(f"format {self.id!r} cannot import {type_id} jobs; "
                                  f"formats for it: {', '.join(formats_for(type_id, 'read')) or 'none yet'}")
        return self.readers[type_id]

    def writer_for(self, type_id: str) -> Callable:
        if type_id not in self.writers:
            raise ValidationError(f"format {self.id!r} cannot export {type_id} jobs; "
                                  f"formats for it: {', '.join(formats_for(type_id, 'write')) or 'none yet'}")
        return self.writers[type_id]

    def example_text(self) -> str:
        path = EXAMPLES / self.example
        return path.read_text(encoding="utf-8") if self.example and path.is_file() else ""


FORMATS: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    FORMATS[fmt.id] = fmt
    return fmt


def get_format(format_id: str) -> Format:
    try:
        return FORMATS[format_id]
    except KeyError:
        raise ValidationError(f"unknown format {format_id!r}; one of: {', '.join(sorted(FORMATS))}") from None


def formats_for(type_id: str, direction: str = "read") -> list[str]:
    return [f.id for f in FORMATS.values() if type_id in (f.readers if direction == "read" else f.writers)]
