"""Task statistics (SPEC F1.7): counts per label, per status, per annotator, progress over time."""
from __future__ import annotations

from dataclasses import dataclass

from .core import Store
from .history import history_size
from .jobs import get_job
from .samples import label_counts, status_counts
from .access import require_job


@dataclass(frozen=True)
class JobStats:
    total: int
    labeled: int
    unlabeled: int
    to_be_confirmed: int
    labels: dict[str, int]
    annotators: dict[str, int]
    progress: list[tuple[str, int, int]]  # (day, labeled that day, labeled so far)
    history_versions: int = 0  # versions kept in the annotation history (store/history.py)
    history_bytes: int = 0  # their size, roughly

    def as_dict(self) -> dict:
        return {"total": self.total, "labeled": self.labeled, "unlabeled": self.unlabeled,
                "to_be_confirmed": self.to_be_confirmed, "labels": self.labels, "annotators": self.annotators,
                "progress": [{"day": d, "labeled": n, "cumulative": c} for d, n, c in self.progress],
                "history": {"versions": self.history_versions, "bytes": self.history_bytes}}


def job_stats(store: Store, job_id: int, actor: str | None = None) -> JobStats:
    require_job(store, actor, job_id, "read")
    get_job(store, job_id)
    by_status = status_counts(store, job_id)
    labels = {k: v for k, v in label_counts(store, job_id).items()}
    annotators = dict(store.db.fetchall(
        "SELECT labeled_by, count(*) FROM job_samples WHERE job_id = ? AND status = 'labeled' "
        "AND labeled_by IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1", [job_id]))
    days = store.db.fetchall(
        "SELECT strftime(labeled_at, '%Y-%m-%d') AS day, count(*) FROM job_samples "
        "WHERE job_id = ? AND status = 'labeled' AND labeled_at IS NOT NULL GROUP BY 1 ORDER BY 1", [job_id])
    progress, running = [], 0
    for day, n in days:
        running += n
        progress.append((day, n, running))
    kept = history_size(store, job_id)
    return JobStats(sum(by_status.values()), by_status["labeled"], by_status["unlabeled"],
                    by_status["to_be_confirmed"], labels, annotators, progress, kept["rows"], kept["bytes"])
