"""First start: a demo job on the shapes in assets/demo, so a new user sees a job at once."""
from __future__ import annotations

import logging
from pathlib import Path

from .core import Store
from .labelset import Label, LabelSet

log = logging.getLogger(__name__)
DEMO_DIR = Path(__file__).resolve().parent.parent / "assets" / "demo" / "shapes"
DEMO_JOB = "demo-shapes"
INSTRUCTIONS = """### Label the shape in each picture

* **circle**: a round shape; **square**: four equal sides; **triangle**: three corners.
* Select images (click them, or *Select page*), pick a label and press **Apply label**.
* Labeled images move to the *Labeled* tab.
"""


def ensure_demo(store: Store) -> bool:
    """Create the demo job once, on a fresh store. Returns True when it was created now."""
    from .annotations import apply_labels
    from .imports import upload_files
    from .jobs import create_job

    if not store.settings.demo or store.db.get_meta("demo_offered") or not DEMO_DIR.is_dir():
        return False
    if store.db.scalar("SELECT count(*) FROM jobs"):
        store.db.set_meta("demo_offered", "skipped")
        return False
    store.db.set_meta("demo_offered", "yes")
    job = create_job(store, DEMO_JOB, "image_classification",
                     label_set=LabelSet([Label("circle"), Label("square"), Label("triangle")]),
                     description="Demo: 24 shapes to classify", instructions=INSTRUCTIONS,
                     actor="demo", dataset_name="demo shapes")
    files = sorted(DEMO_DIR.glob("*.png"))
    upload_files(store, job.id, [(p.name, p) for p in files], actor="demo")
    from .samples import SampleQuery, query_samples

    page = query_samples(store, job.id, SampleQuery(page_size=100))
    for shape in ("circle", "square", "triangle"):
        ids = [s.id for s in page.items if s.name.startswith(shape + "_0") and s.name[-5] in "12"]
        if ids:
            apply_labels(store, job.id, ids, [shape], actor="demo")
    log.info("created the demo job %s", DEMO_JOB)
    return True
