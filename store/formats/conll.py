"""`conll`: CoNLL / BIO for named entity recognition (SPEC F7.1, F8.2).

One token a line, `token<TAB>tag` (the first column is the token, the last the tag; columns may
also be separated by spaces when the token holds none), sentences separated by blank lines (a
line of only whitespace counts as blank); `-DOCSTART-` lines are skipped. Tags: B-X begins an
entity of type X, I-X continues it (an I-X that follows no X starts one too), O is outside; E-X
and S-X (BIOES) are read as well.

Each sentence is one sample: text = the tokens joined by single spaces; span offsets are Python
str indices into that text (code points, end exclusive). Where the tokens cannot be found again
by splitting the text on whitespace (a token holding a space, an empty token...), the token
offsets are kept in samples.meta["tokens"], so the export writes exactly the tokens it read; an
entity that began with I- in the source is remembered in meta["i_starts"] (token indexes) and
written with I- again. Export: every sample of the job (unlabeled ones all O), BIO tags,
`token<TAB>tag`, a blank line after each sentence. Text not imported from CoNLL is split into
tokens on whitespace; a token that a span covers in part gets the span's tag."""
from __future__ import annotations

import re
from itertools import accumulate
from pathlib import Path

from ..core import Store
from .common import ImportItem
from ..texts import MAX_TEXT_CHARS, TextFile, _decode_lines
from .splits import in_split, per_split
from .registry import Format, register
from .common import iter_job_samples, prepare_out_file
from .text_io import read_source

_WORD = re.compile(r"\S+")


def sentence_item(uri: str, name: str, line: int, tokens: list[str], tags: list[str]
                  ) -> tuple[ImportItem | None, str | None]:
    """The sample of one sentence, or a problem. (Per-sentence work is kept to C-speed calls:
    an import of 100,000 sentences runs at tens of thousands a second.)"""
    text = " ".join(tokens)
    if len(text) > MAX_TEXT_CHARS:
        return None, (f"{name}: line {line}: the sentence has {len(text):,} characters; the limit is "
                      f"{MAX_TEXT_CHARS:,} characters a record")
    if not text.strip():
        return None, f"{name}: line {line}: empty sentence (no text), skipped"
    plain = text.split() == tokens  # the tokens are found again by splitting on whitespace
    labeled = tags.count("O") != len(tags)
    meta = None
    if labeled or not plain:
        ends = list(accumulate(map(len, tokens)))  # token k is text[ends[k] - len + k : ends[k] + k]
        if not plain:
            meta = {"tokens": [[e - len(t) + k, e + k] for k, (t, e) in enumerate(zip(tokens, ends))]}
    spans: list[dict] = []
    labels: list[str] = []
    if labeled:
        i_starts, cur = [], None
        for k, tag in enumerate(tags):
            if tag == "O":
                cur = None
                continue
            kind, label = tag[0].upper(), tag[2:]
            end = ends[k] + k
            if kind in ("B", "S") or cur is None or cur["label"] != label:
                if kind in ("I", "E"):
                    i_starts.append(k)
                cur = {"id": "", "start": end - len(tokens[k]), "end": end, "label": label}
                spans.append(cur)
            else:
                cur["end"] = end
            if kind in ("S", "E"):
                cur = None
        spans = [s for s in spans if s["end"] > s["start"]]
        for n, s in enumerate(spans, start=1):
            s["id"] = f"T{n}"
            if s["label"] not in labels:
                labels.append(s["label"])
        if i_starts:
            meta = {**(meta or {}), "i_starts": i_starts}
    return ImportItem(f"{uri}#L{line}", f"{name}:{line}", {"spans": spans} if spans else None, labels,
                      meta, text), None


_BLOCK = re.compile(r"(?m)(?:^[^\n]*[^\s\ufeff][^\n]*(?:\n|\Z))+")  # a run of non-blank lines
_TAG = re.compile(r"[BIESbies]-\S.*")
_SKIP = "\x00"  # stands for a line that was not UTF-8 (already reported)


def _good_tag(tag: str) -> bool:
    return tag == "O" or (tag == tag.strip() and _TAG.fullmatch(tag) is not None)


def _sentence_lines(block: str, first: int, name: str, problems: list[str]) -> tuple[list[str], list[str]]:
    """Tokens and tags of a sentence, line by line (the slow, lenient path)."""
    tokens, tags = [], []
    for n, line in enumerate(block.split("\n"), start=first):
        tok, sep, tag = line.partition("\t")
        if sep:
            tag = tag.rpartition("\t")[2].strip()
        else:
            parts = line.split()
            tok, tag = parts[0], (parts[-1] if len(parts) > 1 else "")
        if tok in ("-DOCSTART-", _SKIP):
            continue
        if not _good_tag(tag):
            problems.append(f"{name}: line {n}: " + (f"tag {tag[:40]!r} is not O, B-X or I-X" if tag else
                            f"no tag after the token {tok[:40]!r} (token<TAB>tag)") + "; read as O")
            tag = "O"
        tokens.append(tok)
        tags.append(tag)
    return tokens, tags


def parse_conll(data: bytes, uri: str, name: str) -> tuple[list[ImportItem], list[str]]:
    """Sentences are found with one regular expression (runs of non-blank lines); a sentence whose
    lines are all `token<TAB>tag` with good tags is split in C, any other line by line."""
    out = TextFile()
    try:
        text = data.decode("utf-8")
        if text.startswith("\ufeff"):
            text = text[1:]
        if "\r" in text:
            text = text.replace("\r\n", "\n")
    except UnicodeDecodeError:  # line by line: the lines that are not UTF-8 are named and skipped
        good = dict(_decode_lines(data, name, out))
        text = "\n".join(good.get(n, _SKIP) for n in range(1, max(good, default=0) + 1 + len(out.problems)))
    items: list[ImportItem] = []
    problems = out.problems
    good_tags = {"O"}
    line, pos = 1, 0
    for m in _BLOCK.finditer(text):
        start = m.start()
        line += text.count("\n", pos, start)
        pos = start
        block = m.group()
        if block.endswith("\n"):
            block = block[:-1]
        n_lines = block.count("\n") + 1
        tokens = None
        if block.count("\t") == n_lines and _SKIP not in block and "-DOCSTART-" not in block:
            parts = block.replace("\n", "\t").split("\t")
            tokens, tags = parts[0::2], parts[1::2]
            if not good_tags.issuperset(tags):
                new = set(tags) - good_tags
                if all(_good_tag(t) for t in new):
                    good_tags |= new
                else:
                    tokens = None
        if tokens is None:
            tokens, tags = _sentence_lines(block, line, name, problems)
        if tokens:
            item, problem = sentence_item(uri, name, line, tokens, tags)
            if item is not None:
                items.append(item)
            else:
                problems.append(problem)
    return items, problems


def read_conll(store: Store, path: str) -> tuple[list[ImportItem], list[str]]:
    data, uri, name = read_source(store, path)
    return parse_conll(data, uri, name)


def sample_tokens(text: str, meta: dict | None) -> list[tuple[int, int]]:
    if meta and meta.get("tokens"):
        return [tuple(t) for t in meta["tokens"]]
    return [m.span() for m in _WORD.finditer(text)]


def bio_tags(offsets: list[tuple[int, int]], spans: list[dict], i_starts=()) -> list[str]:
    tags = ["O"] * len(offsets)
    spans = sorted(spans, key=lambda s: (s["start"], s["end"]))
    k = 0
    i_starts = set(i_starts or ())
    for s in spans:
        while k < len(offsets) and offsets[k][1] <= s["start"]:
            k += 1
        j, first = k, True
        while j < len(offsets) and offsets[j][0] < s["end"]:
            if offsets[j][1] > offsets[j][0] or offsets[j][0] >= s["start"]:
                if tags[j] == "O":
                    tags[j] = ("I-" if first and j in i_starts else "B-" if first else "I-") + s["label"]
                    first = False
            j += 1
        k = j
    return tags


def write_conll(store: Store, job, out: Path) -> int:
    """Every text, a blank line after each; with splits, `<out stem>_<split>.conll` per split
    (CoNLL's train / dev / test files), holding the labeled texts of that split."""
    return per_split(out, lambda path, split: _write_conll(store, job, prepare_out_file(path), split), ".conll")


def _write_conll(store: Store, job, out: Path, split: str | None) -> int:
    n = 0
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        for s in iter_job_samples(store, job.id, labeled_only=split is not None):
            if not in_split(s, split):
                continue
            text = s.text or ""
            offsets = sample_tokens(text, s.meta)
            spans = (s.annotation or {}).get("spans") or []
            tags = bio_tags(offsets, spans, (s.meta or {}).get("i_starts")) if spans else ["O"] * len(offsets)
            f.write("".join(f"{text[a:b]}\t{t}\n" for (a, b), t in zip(offsets, tags)) + "\n")
            n += 1
    return n


register(Format("conll", "CoNLL (BIO)", "One token<TAB>BIO tag a line, a blank line between sentences.",
                readers={"named_entity_recognition": read_conll},
                writers={"named_entity_recognition": write_conll}, example="ner.conll"))
