"""Results of auto labeling (F4.4-F4.7): predictions go to To Be Confirmed with their confidence
and model; hard examples are flagged with a coefficient and a reason; clusters become the
sample attribute; people confirm (selected, or all above a confidence threshold) or fix first."""
from __future__ import annotations

import json
from dataclasses import dataclass

import pyarrow as pa

from .core import Store
from .errors import ValidationError
from .runs import note_confirmation
from .events import now, record_event
from .jobs import get_job
from .access import require_job
from .history import record as record_history

AUTO_REASON = "auto: "  # hard-example reasons written by a run start with this; hand marks do not


@dataclass(frozen=True)
class Prediction:
    sample_id: int
    data: dict  # the annotation, in the job type's schema
    confidence: float  # 0..1: how sure the model is of the whole annotation
    hard: bool = False
    hard_coefficient: float | None = None  # 0..1, higher = harder
    hard_reason: str | None = None


@dataclass(frozen=True)
class WriteResult:
    written: int
    skipped: int  # refused by the type's check (e.g. a label outside the label set) or labeled meanwhile
    hard: int
    first_error: str | None = None


def _sample_meta(store: Store, ids: list[int]) -> dict[int, dict]:
    out = {}
    for sid, meta, text in store.db.fetchall(
            "SELECT id, meta, text FROM samples WHERE id IN (SELECT unnest(?::BIGINT[]))", [ids]):
        m = json.loads(meta) if meta else {}
        if text is not None:
            m["text"] = text
        out[sid] = m
    return out


def write_predictions(store: Store, job_id: int, predictions: list[Prediction], model: str,
                      actor: str | None = None) -> WriteResult:
    """Write one batch of predictions in one transaction. Each is checked by the job type like a
    human's annotation; a sample a person labeled meanwhile is never overwritten."""
    if not predictions:
        return WriteResult(0, 0, 0)
    job = get_job(store, job_id)
    metas = _sample_meta(store, [p.sample_id for p in predictions])
    rows, errors = [], []
    for p in predictions:
        if not 0 <= p.confidence <= 1:
            raise ValidationError(f"confidence {p.confidence} is not between 0 and 1")
        try:
            ann = job.labeling_type.validate(p.data, job.label_set, metas.get(p.sample_id))
        except ValidationError as e:
            errors.append(str(e))
            continue
        if not ann.labels:  # an empty proposal (no box, blank transcript): the sample stays unlabeled
            continue
        coef = None if p.hard_coefficient is None else float(min(1.0, max(0.0, p.hard_coefficient)))
        rows.append((p.sample_id, ann, float(p.confidence), bool(p.hard), coef,
                     (AUTO_REASON + (p.hard_reason or "uncertain")) if p.hard else None))
    if not rows:
        return WriteResult(0, len(predictions), 0, errors[0] if errors else None)
    table = pa.table({
        "sample_id": pa.array([r[0] for r in rows], pa.int64()),
        "labels": pa.array([r[1].labels for r in rows], pa.list_(pa.string())),
        "annotation": pa.array([json.dumps(r[1].data, ensure_ascii=False) for r in rows], pa.string()),
        "confidence": pa.array([r[2] for r in rows], pa.float64()),
        "hard": pa.array([r[3] for r in rows], pa.bool_()),
        "coef": pa.array([r[4] for r in rows], pa.float64()),
        "reason": pa.array([r[5] for r in rows], pa.string()),
    })
    with store.db.transaction() as cur:
        cur.register("incoming_predictions", table)
        try:
            written = cur.execute(
                """UPDATE job_samples SET status = 'to_be_confirmed', labels = p.labels, annotation = p.annotation,
                   labeled_by = NULL, labeled_at = ?, from_inference = true, confidence = p.confidence, model = ?,
                   hard = CASE WHEN p.hard THEN true
                               WHEN starts_with(coalesce(job_samples.hard_reason, ''), ?) THEN false
                               ELSE job_samples.hard END,
                   hard_coefficient = CASE WHEN p.hard THEN p.coef
                               WHEN starts_with(coalesce(job_samples.hard_reason, ''), ?) THEN NULL
                               ELSE job_samples.hard_coefficient END,
                   hard_reason = CASE WHEN p.hard THEN p.reason
                               WHEN starts_with(coalesce(job_samples.hard_reason, ''), ?) THEN NULL
                               ELSE job_samples.hard_reason END
                   FROM incoming_predictions p
                   WHERE job_samples.job_id = ? AND job_samples.sample_id = p.sample_id
                     AND job_samples.status <> 'labeled' RETURNING job_samples.sample_id""",
                [now(), model, AUTO_REASON, AUTO_REASON, AUTO_REASON, job_id]).fetchall()
            written = record_history(cur, job_id, [r[0] for r in written], actor or model, "model")
            hard = cur.execute(
                """SELECT count(*) FROM job_samples js JOIN incoming_predictions p ON js.sample_id = p.sample_id
                   WHERE js.job_id = ? AND js.status = 'to_be_confirmed' AND p.hard""", [job_id]).fetchall()[0][0]
        finally:
            cur.unregister("incoming_predictions")
        record_event(cur, actor, "write_predictions", job_id, samples=written, model=model)
    return WriteResult(written, len(predictions) - written, hard, errors[0] if errors else None)


def flag_hard_examples(store: Store, job_id: int, rows: list[tuple[int, float, str]]) -> int:
    """Flag samples (not only predictions: e.g. labeled ones a model disagrees with) as hard."""
    if not rows:
        return 0
    with store.db.transaction() as cur:
        cur.executemany("UPDATE job_samples SET hard = true, hard_coefficient = ?, hard_reason = ? "
                        "WHERE job_id = ? AND sample_id = ?",
                        [[float(min(1, max(0, c))), AUTO_REASON + r, job_id, int(s)] for s, c, r in rows])
    return len(rows)


def set_clusters(store: Store, job_id: int, assignments: dict[int, str], actor: str | None = None) -> int:
    """Auto grouping (F4.7): the cluster becomes the sample attribute; earlier clusters are cleared."""
    require_job(store, actor, job_id, "label")  # store/access.py decides
    table = pa.table({"sample_id": pa.array(list(assignments), pa.int64()),
                      "cluster": pa.array([str(c) for c in assignments.values()], pa.string())})
    with store.db.transaction() as cur:
        cur.execute("UPDATE job_samples SET cluster = NULL WHERE job_id = ? AND cluster IS NOT NULL", [job_id])
        cur.register("incoming_clusters", table)
        try:
            n = cur.execute("UPDATE job_samples SET cluster = c.cluster FROM incoming_clusters c "
                            "WHERE job_samples.job_id = ? AND job_samples.sample_id = c.sample_id",
                            [job_id]).fetchall()[0][0]
        finally:
            cur.unregister("incoming_clusters")
        record_event(cur, actor, "auto_grouping", job_id, samples=n, clusters=len(set(assignments.values())))
    return n


def confirm_samples(store: Store, job_id: int, sample_ids: list[int], actor: str | None = None) -> int:
    """F4.5: the selected To Be Confirmed samples move to Labeled as they are. Returns how many."""
    require_job(store, actor, job_id, "label")  # store/access.py decides
    get_job(store, job_id)
    ids = [int(s) for s in dict.fromkeys(sample_ids)]
    if not ids:
        raise ValidationError("select at least one sample to confirm")
    with store.db.transaction() as cur:
        n = cur.execute("UPDATE job_samples SET status = 'labeled', labeled_by = ?, labeled_at = ? "
                        "WHERE job_id = ? AND status = 'to_be_confirmed' AND sample_id IN (SELECT unnest(?::BIGINT[])) "
                        "RETURNING sample_id", [actor, now(), job_id, ids]).fetchall()
        n = record_history(cur, job_id, [r[0] for r in n], actor, "confirmation")
        if not n:
            raise ValidationError("none of the selected samples is in To Be Confirmed")
        record_event(cur, actor, "confirm", job_id, samples=n)
    return n


def confirm_above(store: Store, job_id: int, threshold: float, actor: str | None = None) -> int:
    """F4.5 bulk confirm: every To Be Confirmed sample whose confidence is at least the threshold."""
    require_job(store, actor, job_id, "label")  # store/access.py decides
    get_job(store, job_id)
    threshold = float(threshold)
    if not 0 <= threshold <= 1:
        raise ValidationError("the confidence threshold lies between 0 and 1")
    with store.db.transaction() as cur:
        n = cur.execute("UPDATE job_samples SET status = 'labeled', labeled_by = ?, labeled_at = ? "
                        "WHERE job_id = ? AND status = 'to_be_confirmed' AND confidence >= ? RETURNING sample_id",
                        [actor, now(), job_id, threshold]).fetchall()
        n = record_history(cur, job_id, [r[0] for r in n], actor, "confirmation")
        record_event(cur, actor, "confirm_above", job_id, samples=n, threshold=threshold)
        note_confirmation(cur, job_id, threshold, n, actor)
    return n


def discard_predictions(store: Store, job_id: int, sample_ids: list[int] | None = None,
                        actor: str | None = None) -> int:
    """Send To Be Confirmed samples (the selected ones, or all) back to Unlabeled."""
    require_job(store, actor, job_id, "label")  # store/access.py decides
    get_job(store, job_id)
    sql = ("UPDATE job_samples SET status = 'unlabeled', labels = [], annotation = NULL, labeled_at = NULL, "
           "from_inference = false, confidence = NULL, model = NULL WHERE job_id = ? AND status = 'to_be_confirmed'")
    params: list = [job_id]
    if sample_ids is not None:
        sql += " AND sample_id IN (SELECT unnest(?::BIGINT[]))"
        params.append([int(s) for s in sample_ids])
    with store.db.transaction() as cur:
        n = record_history(cur, job_id, [r[0] for r in cur.execute(sql + " RETURNING sample_id", params).fetchall()],
                           actor, "discard")
        record_event(cur, actor, "discard_predictions", job_id, samples=n)
    return n


def confidence_histogram(store: Store, job_id: int, bins: int = 10,
                         actor: str | None = None) -> list[tuple[float, int]]:
    """To Be Confirmed samples per confidence bin (lower edge, count): helps pick a threshold."""
    require_job(store, actor, job_id, "read")
    rows = dict(store.db.fetchall(
        "SELECT least(floor(confidence * ?), ? - 1) AS b, count(*) FROM job_samples "
        "WHERE job_id = ? AND status = 'to_be_confirmed' AND confidence IS NOT NULL GROUP BY b", [bins, bins, job_id]))
    return [(i / bins, int(rows.get(i, 0))) for i in range(bins)]


@dataclass(frozen=True)
class RunSample:
    """What a run reads of one sample: its state, its labels, its text (text jobs) and meta."""
    sample_id: int
    status: str
    labels: list[str]
    annotation: dict | None
    text: str | None
    meta: dict

    @property
    def labeled(self) -> bool:
        return self.status == "labeled"


def run_samples(store: Store, job_id: int, actor: str | None = None) -> list[RunSample]:
    """Every sample of the job, in id order: the labeled ones train, the others are predicted."""
    require_job(store, actor, job_id, "read")
    get_job(store, job_id)
    return [RunSample(r[0], r[1], list(r[2]), json.loads(r[3]) if r[3] else None, r[4], json.loads(r[5]) if r[5] else {})
            for r in store.db.fetchall(
                "SELECT js.sample_id, js.status, js.labels, js.annotation, s.text, s.meta FROM job_samples js "
                "JOIN samples s ON s.id = js.sample_id WHERE js.job_id = ? ORDER BY js.sample_id", [job_id])]
