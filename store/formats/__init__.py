"""Import/export formats, registered once each (SPEC F7, F8.2): FORMATS[format_id].

A format has a reader and a writer per labeling type. Readers turn a file or folder into
ImportItems (file + annotation); writers turn a job's samples into files. Each format ships an
example file in store/formats/examples/ that the Add data dialog shows.
"""
from __future__ import annotations

from .registry import EXAMPLES, FORMATS, Format, formats_for, get_format, register

__all__ = ["EXAMPLES", "FORMATS", "Format", "formats_for", "get_format", "register"]

from . import coco, csv_format, imagefolder, manifest, voc, yolo  # noqa: E402,F401  (registration)
from . import conll, jsonl_format, text_io  # noqa: E402,F401  (text formats; text_io extends csv, manifest)
from . import audio_io  # noqa: E402,F401  (audio types: extends csv, jsonl, manifest)
from . import video_io  # noqa: E402,F401  (video labeling: extends coco, jsonl, manifest)
from . import parquet_format  # noqa: E402,F401  (every type)
from . import cvat, mot  # noqa: E402,F401  (CVAT for video and images, MOT: video labeling's tracks)
from . import label_studio  # noqa: E402,F401  (Label Studio JSON: every type but video)

MODULES = (coco, csv_format, imagefolder, manifest, voc, yolo, conll, jsonl_format, text_io, audio_io, video_io,
           parquet_format, cvat, mot, label_studio)  # each registered its formats as it was imported
