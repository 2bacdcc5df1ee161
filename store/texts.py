"""Text records (SPEC F2.6): UTF-8 .txt (one record a line), .csv (a `text` column, or the first
column) and .jsonl (a "text" field) files become one sample per record.

Each record is its own sample, even when two texts are equal: its uri is the file's uri plus
"#L<line>" (the line the record starts on) and its path "<file name>:<line>". The text is kept
as it is (no stripping: annotation offsets index into it). Offsets everywhere are Python str
indices, i.e. Unicode code points, end exclusive: an emoji is one character, a letter with a
combining accent typed separately is two.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from .errors import ValidationError

MAX_TEXT_CHARS = 100_000  # a record longer than this is refused (the labeling page shows it whole)
TEXT_COLUMNS = ("text", "content", "sentence")


@dataclass
class TextRecord:
    line: int  # 1-based line the record starts on
    text: str
    data: dict | None = None  # the parsed JSON object (jsonl) or {"row": [...], "header": [...]} (csv)


@dataclass
class TextFile:
    records: list[TextRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def check_text(text, where: str) -> str:
    """The record's text, or ValidationError naming the record and the rule."""
    if not isinstance(text, str):
        raise ValidationError(f"{where}: the text must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ValidationError(f"{where}: empty record (no text), skipped")
    if len(text) > MAX_TEXT_CHARS:
        raise ValidationError(f"{where}: the record has {len(text):,} characters; the limit is "
                              f"{MAX_TEXT_CHARS:,} characters a record")
    if "\x00" in text:
        raise ValidationError(f"{where}: the record holds a NUL character")
    return text


def record_uri(file_uri: str, line: int) -> str:
    return f"{file_uri}#L{line}"


def record_path(file_path: str, line: int) -> str:
    return f"{PurePosixPath(file_path).name}:{line}"


def _decode_lines(data: bytes, name: str, out: TextFile) -> list[tuple[int, str]]:
    """(line number, text) for each line, decoded one by one: a line that is not UTF-8 is refused
    with its number, the rest of the file still counts."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    try:  # the common case: the whole file decodes at once
        return [(n, line[:-1] if line.endswith("\r") else line)
                for n, line in enumerate(data.decode("utf-8").split("\n")[:len(raw_lines)], start=1)]
    except UnicodeDecodeError:
        pass
    lines = []
    for n, raw in enumerate(raw_lines, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            out.problems.append(f"{name}: line {n} is not valid UTF-8 text (byte 0x{raw[e.start]:02x} at "
                                f"column {e.start + 1}); the record is refused")
            continue
        lines.append((n, line[:-1] if line.endswith("\r") else line))
    return lines


def _keep(out: TextFile, name: str, line: int, text, data: dict | None = None) -> None:
    try:
        out.records.append(TextRecord(line, check_text(text, f"{name}: line {line}"), data))
    except ValidationError as e:
        out.problems.append(str(e))


def parse_txt(data: bytes, name: str) -> TextFile:
    out = TextFile()
    for n, line in _decode_lines(data, name, out):
        _keep(out, name, n, line)
    return out


def parse_jsonl(data: bytes, name: str, text_field: str = "text") -> TextFile:
    out = TextFile()
    for n, line in _decode_lines(data, name, out):
        if not line.strip():
            out.problems.append(f"{name}: line {n}: empty record (blank line), skipped")
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            out.problems.append(f"{name}: line {n}: not valid JSON ({e.msg})")
            continue
        if not isinstance(row, dict) or text_field not in row:
            out.problems.append(f"{name}: line {n}: each line is a JSON object with a {text_field!r} field")
            continue
        _keep(out, name, n, row[text_field], row)
    return out


def parse_csv(data: bytes, name: str) -> TextFile:
    """Rows of a CSV: the column named text (or content / sentence) when the first row names one,
    else the first column of every row (no header)."""
    out = TextFile()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        out.problems.append(f"{name}: line {line} is not valid UTF-8 text (byte 0x{data[e.start]:02x}); "
                            "the CSV file is refused")
        return out
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        first = next(reader, None)
        if first is None:
            out.problems.append(f"{name}: the file is empty (no records)")
            return out
        header = [h.strip().lower() for h in first]
        col = next((header.index(c) for c in TEXT_COLUMNS if c in header), None)
        rows = []
        if col is None:
            col, header = 0, None
            rows.append((1, first))
        start = reader.line_num + 1
        for row in reader:
            rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as e:
        out.problems.append(f"{name}: line {reader.line_num}: not valid CSV ({e})")
        return out
    for n, row in rows:
        if not row:
            continue  # csv yields [] for a blank line
        if col >= len(row):
            out.problems.append(f"{name}: line {n}: no text column ({len(row)} cells)")
            continue
        _keep(out, name, n, row[col], {"row": row, "header": header, "column": col})
    return out


PARSERS = {".txt": parse_txt, ".csv": parse_csv, ".jsonl": parse_jsonl}


def parse_text_file(data: bytes, name: str) -> TextFile:
    ext = PurePosixPath(name).suffix.lower()
    if ext not in PARSERS:
        raise ValidationError(f"{name}: text records come from .txt, .csv or .jsonl files")
    if not data.strip():
        return TextFile(problems=[f"{name}: the file is empty (no records)"])
    return PARSERS[ext](data, name)
