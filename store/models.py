"""Registered models for auto labeling (F4.3): a Hugging Face model id or a local folder, a
version, and the task it performs. What a model *is* (its task, its labels) is read by
autolabel/ from the model's config; the store keeps the record and the rules on it."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from .core import Store
from .errors import Conflict, NotFound, ValidationError
from .events import now, record_event
from .types import REGISTRY

# Tasks a model can perform, by the labeling types whose jobs may use them (pre-labeling and
# backbones for active learning): the types' model_tasks (store/types/). "embedding": a backbone
# whose features train a head.
TASKS_BY_TYPE: dict[str, tuple[str, ...]] = {t.id: t.model_tasks for t in REGISTRY.values() if t.model_tasks}
# Tasks of the models a type's labeling tools use on the image shown (SAM: "mask-generation").
TOOL_TASKS_BY_TYPE: dict[str, tuple[str, ...]] = {t.id: t.tool_model_tasks for t in REGISTRY.values()
                                                  if t.tool_model_tasks}
TASKS = tuple(sorted({t for ts in (*TASKS_BY_TYPE.values(), *TOOL_TASKS_BY_TYPE.values()) for t in ts}))
SAM_TASK = "mask-generation"  # Segment Anything: the extreme-points outline and click to segment
MAX_NAME = 128


@dataclass(frozen=True)
class ModelRecord:
    id: int
    name: str
    source: str  # Hugging Face model id or a local folder
    version: str
    task: str
    labels: list[str]
    created_at: datetime
    created_by: str | None

    @property
    def ref(self) -> str:
        """How runs and predictions name the model: name@version."""
        return f"{self.name}@{self.version}"

    def as_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "source": self.source, "version": self.version,
                "task": self.task, "labels": self.labels, "created_at": self.created_at.isoformat(),
                "created_by": self.created_by, "ref": self.ref}


def _record(r) -> ModelRecord:
    return ModelRecord(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]) if r[5] else [], r[6], r[7])


_COLUMNS = "id, name, source, version, task, labels, created_at, created_by"


def add_model(store: Store, name: str, source: str, version: str, task: str, labels: list[str] | None = None,
              actor: str | None = None) -> ModelRecord:
    """Record a model whose task autolabel/ has read from its config (an admin's action)."""
    from .access import require_admin

    require_admin(store, actor, "registering a model")
    name, source, version = (name or "").strip(), (source or "").strip(), (version or "").strip() or "1"
    if not source:
        raise ValidationError("give a Hugging Face model id or a local folder")
    name = name or source.rstrip("/").rsplit("/", 1)[-1]
    if len(name) > MAX_NAME or len(version) > 64:
        raise ValidationError(f"a model name has at most {MAX_NAME} characters and a version at most 64")
    if task not in TASKS:
        raise ValidationError(f"unsupported model task {task!r}: one of {', '.join(TASKS)}")
    if store.db.fetchone("SELECT 1 FROM models WHERE name = ? AND version = ?", [name, version]):
        raise Conflict(f"model {name} version {version} is already registered: give another version")
    with store.db.transaction() as cur:
        mid = store.db.next_id(cur, "seq_model")
        cur.execute(f"INSERT INTO models ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [mid, name, source, version, task, json.dumps(labels or [], ensure_ascii=False), now(), actor])
        record_event(cur, actor, "register_model", None, name=name, version=version, task=task)
    return get_model(store, mid)


def get_model(store: Store, model_id: int) -> ModelRecord:
    r = store.db.fetchone(f"SELECT {_COLUMNS} FROM models WHERE id = ?", [model_id])
    if not r:
        raise NotFound(f"model {model_id} does not exist")
    return _record(r)


def find_model(store: Store, ref: str) -> ModelRecord:
    """A model by id, name@version or name (the newest version)."""
    ref = (ref or "").strip()
    if ref.isdigit():
        return get_model(store, int(ref))
    name, _, version = ref.partition("@")
    if version:
        r = store.db.fetchone(f"SELECT {_COLUMNS} FROM models WHERE name = ? AND version = ?", [name, version])
    else:
        r = store.db.fetchone(f"SELECT {_COLUMNS} FROM models WHERE name = ? ORDER BY created_at DESC, id DESC",
                              [name])
    if not r:
        raise NotFound(f"no registered model {ref!r}: register it first (a Hugging Face id or a local folder)")
    return _record(r)


def list_models(store: Store, type_id: str | None = None) -> list[ModelRecord]:
    """Registered models, only those whose task fits the labeling type (its runs or its tools)
    when one is given."""
    rows = [_record(r) for r in store.db.fetchall(f"SELECT {_COLUMNS} FROM models ORDER BY name, created_at")]
    if type_id is None:
        return rows
    tasks = TASKS_BY_TYPE.get(type_id, ()) + TOOL_TASKS_BY_TYPE.get(type_id, ())
    return [m for m in rows if m.task in tasks]


def newest_model(store: Store, task: str) -> ModelRecord | None:
    """The model of this task registered last (None: there is none)."""
    r = store.db.fetchone(f"SELECT {_COLUMNS} FROM models WHERE task = ? ORDER BY created_at DESC, id DESC LIMIT 1",
                          [task])
    return _record(r) if r else None


def check_model_fits(model: ModelRecord, type_id: str, tasks: tuple[str, ...] | None = None) -> None:
    """Refuse a model whose task does not match the job type (F4.3)."""
    allowed = tasks if tasks is not None else TASKS_BY_TYPE.get(type_id, ())
    if model.task not in allowed:
        raise ValidationError(f"model {model.ref} does {model.task}; this needs "
                              + (" or ".join(allowed) if allowed else "a type with auto labeling"))


def delete_model(store: Store, model_id: int, actor: str | None = None) -> None:
    """Forget a model: an admin's action, or its owner's (store/access.py)."""
    from .access import require_model_manage

    m = get_model(store, model_id)
    require_model_manage(store, actor, store.db.scalar("SELECT created_by FROM models WHERE id = ?", [model_id]))
    with store.db.transaction() as cur:
        cur.execute("DELETE FROM models WHERE id = ?", [model_id])
        record_event(cur, actor, "delete_model", None, name=m.name, version=m.version)
