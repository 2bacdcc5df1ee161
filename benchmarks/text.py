#!/usr/bin/env python3
"""Text labeling at scale: import and export of N named-entity records, and page loads.

    python benchmarks/text.py --json OUT.json [--records 100000]

Builds a store in a temporary folder, writes a CoNLL file of N sentences (the WNUT17 training
sentences of ../shared/data repeated, or generated CoNLL-like sentences when that data is
absent), and times through store/ functions only:

- import_per_s: records per second for import_format(..., "conll", ...) into a NER job
  (parse, register the samples with their text, check every span, write the annotations);
- export_per_s: records per second for export_job(..., "conll", ...);
- page_ms: the labeling page's query (store.samples.query_samples, 50 records, the All,
  Unlabeled and Labeled tabs) at the first, middle and last page: p50 and p95 over 30 loads,
  and the page texts read (what the page shows).

Targets: import_per_s and export_per_s > 20,000, page_ms p95 < 100. Nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import store  # noqa: E402
from store import exports, imports, jobs, samples  # noqa: E402
from store.samples import SampleQuery  # noqa: E402

WNUT = ROOT.parent / "shared" / "data" / "wnut17" / "wnut17train.conll"
PAGE_SIZE = 50


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))]


def sentences() -> list[str]:
    """CoNLL blocks (token<TAB>tag lines) to repeat."""
    if WNUT.is_file():
        text = WNUT.read_text(encoding="utf-8")
        blocks, cur = [], []
        for line in text.split("\n"):
            if not line.strip():
                if cur:
                    blocks.append("\n".join(cur) + "\n")
                cur = []
            else:
                cur.append(line)
        return blocks
    rng = random.Random(1)
    words = ["the", "match", "in", "said", "today", "new", "of", "a", "😀", "東京"]
    blocks = []
    for _ in range(2000):
        lines = []
        for _ in range(rng.randint(8, 30)):
            if rng.random() < 0.1:
                kind = rng.choice(["person", "location", "group"])
                lines += [f"Name{rng.randint(0, 999)}\tB-{kind}", f"Surname\tI-{kind}"]
            else:
                lines.append(f"{rng.choice(words)}\tO")
        blocks.append("\n".join(lines) + "\n")
    return blocks


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--json", help="write the results to this file")
    args = ap.parse_args()
    n = args.records
    with tempfile.TemporaryDirectory(prefix="labelport-text-bench-") as tmp:
        tmp = Path(tmp)
        blocks = sentences()
        src = tmp / "records.conll"
        with open(src, "w", encoding="utf-8") as f:
            for i in range(n):
                f.write(blocks[i % len(blocks)] + "\n")
        st = store.open_store(store.Settings(data_dir=tmp / "data", demo=False))
        job = jobs.create_job(st, "ner", "named_entity_recognition")
        t = time.perf_counter()
        c = time.process_time()
        rec = imports.import_format(st, job.id, "conll", str(src))
        import_s = time.perf_counter() - t
        import_cpu_s = time.process_time() - c
        assert rec.imported == n, (rec.imported, rec.errors[:3])
        t = time.perf_counter()
        c = time.process_time()
        exported = exports.export_job(st, job.id, "conll", tmp / "out.conll")
        export_s = time.perf_counter() - t
        export_cpu_s = time.process_time() - c
        pages = -(-n // PAGE_SIZE)
        timings: dict[str, list[float]] = {}
        for status in ("all", "unlabeled", "labeled"):
            total = samples.query_samples(st, job.id, SampleQuery(status=status, page_size=PAGE_SIZE)).total
            last = max(1, -(-total // PAGE_SIZE))
            for where, page in (("first", 1), ("middle", max(1, last // 2)), ("last", last)):
                key = f"{status}/{where}"
                timings[key] = []
                for _ in range(30):
                    t = time.perf_counter()
                    p = samples.query_samples(st, job.id, SampleQuery(status=status, page=page, page_size=PAGE_SIZE))
                    _ = [s.text for s in p.items]
                    timings[key].append((time.perf_counter() - t) * 1000)
        every = [x for v in timings.values() for x in v]
        result = {
            "records": n,
            "import_s": round(import_s, 3),
            "import_per_s": round(n / import_s),
            "import_cpu_s": round(import_cpu_s, 3),
            "labeled": rec.labeled,
            "export_s": round(export_s, 3),
            "export_per_s": round(n / export_s),
            "export_cpu_s": round(export_cpu_s, 3),
            "exported": getattr(exported, "samples", None) or n,
            "pages": pages,
            "page_ms": {"p50": round(statistics.median(every), 2), "p95": round(percentile(every, 95), 2)},
            "page_ms_by_view": {k: {"p50": round(statistics.median(v), 2), "p95": round(percentile(v, 95), 2)}
                                for k, v in timings.items()},
            "targets": {"import_per_s": "> 20000", "export_per_s": "> 20000", "page_ms_p95": "< 100"},
        }
        st.close()
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
