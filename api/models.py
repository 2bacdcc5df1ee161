"""Request and response bodies of the API (pydantic), converted from the store's dataclasses."""
from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path as PathParam
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from typing_extensions import NotRequired, TypedDict

from store.formats import FORMATS
from store.labelset import LabelSet
from store.types import REGISTRY

Status = Literal["all", "unlabeled", "labeled", "to_be_confirmed"]
TypeId = Literal[tuple(REGISTRY)]  # the labeling types, listed in the spec
FormatId = Literal[tuple(sorted(FORMATS))]  # the import/export formats
MAX_ID = 2**63 - 1  # ids are BIGINT in the store: a larger number is bad input, not a lookup


def strict_id(value: Any) -> int:
    """Ids are parsed once, strictly (store/access.py): digits only, no sign, padding, spaces or
    decimals, in a path or in a JSON body; `1.0`, `+1`, ` 1` and `01` are bad input (400)."""
    from store.access import parse_id

    if isinstance(value, float):  # JSON 1.0 is not an id either
        raise ValueError("an id is a whole number written with digits only")
    return parse_id(value)


StrictId = BeforeValidator(strict_id)
Id = Annotated[int, Field(ge=1, le=MAX_ID)]  # in a JSON body (the models are strict: no "1", no 1.0)
PathId = Annotated[int, StrictId, PathParam(ge=1, le=MAX_ID, description="an id")]
JobId = Annotated[int, StrictId, PathParam(ge=1, le=MAX_ID, description="the job's id")]
SampleId = Annotated[int, StrictId, PathParam(ge=1, le=MAX_ID, description="the sample's id")]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("a path cannot hold a NUL character")
    return value


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.astimezone()


# The store keeps naive local times; the API states their offset (RFC 3339 date-time).
Timestamp = Annotated[datetime, AfterValidator(_aware)]


# A file, folder or URL on the server side: the OS refuses NUL bytes in paths.
ServerPath = Annotated[str, AfterValidator(_no_nul)]


def _lone_surrogate(data) -> bool:
    """True when a string anywhere in parsed JSON holds a lone UTF-16 surrogate ("\\ud800"): JSON
    allows the escape, but such text cannot be stored as UTF-8. One pass in C (json's encoder)."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except (TypeError, ValueError):  # not plain JSON data (objects built in Python): pydantic checks them
        return False
    return False


class StrictIn(BaseModel):
    """Request parts take JSON types as they are: `false` is no number, `"1"` no id."""
    model_config = ConfigDict(strict=True)


class InModel(StrictIn):
    """Base of request bodies: text anywhere in the body (nested parts included) must be valid Unicode."""

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data):
        if _lone_surrogate(data):
            raise ValueError("text holds a lone surrogate (an invalid \\uD800-\\uDFFF escape); send valid UTF-8")
        return data


class ErrorInfo(BaseModel):
    status: int = Field(..., description="the HTTP status, repeated")
    message: str = Field(..., description="what was refused and what to do")
    details: list[dict[str, Any]] | dict[str, Any] | None = Field(
        None, description="request validation: one entry per problem; 412: {\"current\": the newer version}")


class ErrorOut(BaseModel):
    """Every error: {"error": {"status", "message"}}."""
    error: ErrorInfo


class LabelIn(StrictIn):
    name: str
    color: str = ""
    shortcut: str = ""
    attributes: dict[str, list[str]] = Field(default_factory=dict)


class RelationIn(StrictIn):
    name: str
    source: str
    target: str
    color: str = ""


class ClassIn(StrictIn):
    name: str
    labels: list[str]


class LabelSetIn(StrictIn):
    labels: list[LabelIn | str] = Field(default_factory=list)
    entities: list[LabelIn | str] = Field(default_factory=list)
    relations: list[RelationIn] = Field(default_factory=list)
    classes: list[ClassIn] = Field(default_factory=list)
    speech_content: bool = False

    def to_label_set(self) -> LabelSet:
        def dump(x):
            return x if isinstance(x, str) else x.model_dump()
        return LabelSet.from_dict({"labels": [dump(x) for x in self.labels],
                                   "entities": [dump(x) for x in self.entities],
                                   "relations": [r.model_dump() for r in self.relations],
                                   "classes": [c.model_dump() for c in self.classes],
                                   "speech_content": self.speech_content})


class JobCreate(InModel):
    name: str | None = Field(None, description="unique; default task-xxxx")
    type: TypeId = Field(..., description="labeling type id, e.g. image_classification")
    dataset: ServerPath | None = Field(None, description="folder on the server or s3://bucket/prefix/ (scanned)")
    dataset_id: Id | None = Field(None, description="an existing dataset instead of `dataset`")
    labels: list[str] | LabelSetIn = Field(default_factory=list, description="names, or a full label set")
    description: str = ""
    instructions: str = ""
    team_labeling: bool = False

    def label_set(self) -> LabelSet:
        if isinstance(self.labels, LabelSetIn):
            return self.labels.to_label_set()
        return LabelSet.from_dict({"labels": list(self.labels)})


class JobPatch(InModel):
    name: str | None = None
    description: str | None = None
    instructions: str | None = None
    labels: list[str] | LabelSetIn | None = None


class JobCopy(InModel):
    name: str | None = None
    description: str | None = None


class JobOut(BaseModel):
    id: int
    name: str
    type: str
    description: str
    instructions: str
    dataset_id: int
    team_labeling: bool
    label_set: dict
    created_at: Timestamp
    created_by: str | None
    updated_at: Timestamp
    counts: dict[str, int] | None = None

    @classmethod
    def of(cls, job, counts: dict | None = None) -> "JobOut":
        return cls(id=job.id, name=job.name, type=job.type, description=job.description,
                   instructions=job.instructions, dataset_id=job.dataset_id, team_labeling=job.team_labeling,
                   label_set=asdict(job.label_set), created_at=job.created_at, created_by=job.created_by,
                   updated_at=job.updated_at, counts=counts)


class JobSummaryOut(BaseModel):
    id: int
    name: str
    type: str
    dataset: str
    description: str
    created_at: Timestamp
    total: int
    labeled: int
    unlabeled: int
    to_be_confirmed: int
    progress: float


class SampleOut(BaseModel):
    id: int
    name: str
    path: str
    uri: str
    status: str
    labels: list[str]
    annotation: dict | None
    labeled_by: str | None
    labeled_at: Timestamp | None
    hard: bool
    hard_coefficient: float | None
    hard_reason: str | None
    cluster: str | None
    from_inference: bool
    confidence: float | None
    meta: dict[str, Any]
    text: str | None = None
    model: str | None = Field(None, description="the model that proposed a To Be Confirmed annotation")
    file_url: str
    version: int = Field(0, description="the annotation's version (each save adds 1); also the ETag of "
                                        "GET .../samples/{id}: send it as If-Match when saving")

    @classmethod
    def of(cls, s) -> "SampleOut":
        return cls(id=s.id, name=s.name, path=s.path, uri=s.uri, status=s.status, labels=s.labels,
                   annotation=s.annotation, labeled_by=s.labeled_by, labeled_at=s.labeled_at, hard=s.hard,
                   hard_coefficient=s.hard_coefficient, hard_reason=s.hard_reason, cluster=s.cluster,
                   from_inference=s.from_inference, confidence=s.confidence, meta=s.meta or {}, text=s.text,
                   model=s.model, file_url=f"/api/v1/samples/{s.id}/file", version=s.version)


class PageOut(BaseModel):
    items: list[SampleOut]
    total: int
    page: int
    page_size: int
    pages: int


class LabelsChange(InModel):
    sample_ids: list[Id] = Field(..., min_length=1, max_length=100_000)
    labels: list[str] = Field(..., min_length=1)
    versions: dict[str, Annotated[int, Field(ge=0, le=2**31 - 1)]] | None = Field(
        None, max_length=100_000,
        description="{sample id: the version read}: when any of them was saved since, nothing changes (409)")


class VersionOut(BaseModel):
    version: int
    status: str
    labels: list[str]
    annotation: dict | None
    saved_by: str | None
    saved_at: str = Field(..., description="UTC, ISO 8601")
    source: str = Field(..., description="human, model, import, acceptance, restore, label_management, "
                                         "confirmation, discard, before history")
    current: bool


class RestoredOut(BaseModel):
    version: int = Field(..., description="the sample's new current version")


class TrashItemOut(BaseModel):
    id: int
    kind: str = Field(..., description="job: a deleted job; samples: samples deleted from a job")
    job_id: int
    job_name: str
    job_owner: str | None
    samples: int
    labeled: int
    deleted_by: str | None
    deleted_at: str
    expires_at: str = Field(..., description="when it leaves the trash for good (UTC)")


class SamplesRestore(InModel):
    job_id: Id
    sample_ids: list[Id] = Field(..., min_length=1, max_length=100_000)


class RestoredJobOut(BaseModel):
    job_id: int
    name: str


class CountOut(BaseModel):
    count: int


class PruneIn(InModel):
    older_than_days: float = Field(..., ge=0, le=100_000)


class HistorySizeOut(BaseModel):
    versions: int = Field(..., description="versions kept in the annotation history, every job")
    bytes: int = Field(..., description="their size, roughly")
    oldest: str | None = Field(None, description="when the oldest kept version was saved (UTC)")


class AnnotationIn(InModel):
    annotation: dict = Field(..., description='type-specific; image classification: {"labels": [...]}')


class SamplesDelete(InModel):
    sample_ids: list[Id] = Field(..., min_length=1, max_length=100_000)
    delete_source: bool = False


class HardMark(InModel):
    sample_ids: list[Id] = Field(..., min_length=1, max_length=100_000)
    hard: bool = True
    coefficient: float | None = Field(None, ge=0, le=1)
    reason: str | None = None


class LabelAdd(InModel):
    name: str
    color: str = ""


class LabelRename(InModel):
    name: str = Field(..., description="the new name")


class ImportIn(InModel):
    path: ServerPath = Field(..., description="file or folder on the server, or an s3:// URL / prefix")
    format: FormatId | None = Field(None, description="a format id (manifest, csv, imagefolder); none: plain files")


class SampleRef(TypedDict):
    """A TypedDict, not a model: a request may carry a million of them, and validating plain dicts
    is ~20x faster than building model instances."""
    __pydantic_config__ = ConfigDict(strict=True)  # type: ignore[misc]
    source: Annotated[ServerPath, Field(description="absolute path or s3:// URL of the file")]
    labels: NotRequired[Annotated[list[str], Field(description="label names (new ones join the set)")]]


class SamplesAdd(InModel):
    samples: list[SampleRef] = Field(..., min_length=1, max_length=1_000_000)
    verify_files: bool = Field(True, description="open each file to check it (false: register references "
                                                 "as they are, checked when first shown)")


class ExportIn(InModel):
    format: FormatId
    out: ServerPath = Field(..., description="file or folder on the server to write")


class ImportOut(BaseModel):
    """One import (or synchronize) and what it did; `errors` says why files were refused."""
    model_config = ConfigDict(extra="allow")
    id: int
    job_id: int | None
    started_at: Timestamp
    finished_at: Timestamp | None
    mode: str
    format: str | None
    path: str | None
    found: int
    imported: int
    labeled: int
    status: str = Field(..., description="running | succeeded | partial | failed")
    errors: list[str]


class ExportOut(BaseModel):
    format: str
    path: str = Field(..., description="the absolute path written")
    samples: int


class ChangedOut(BaseModel):
    samples_changed: int


class DeletedOut(BaseModel):
    removed: int
    files_deleted: int
    errors: list[str]


class LabelNamesOut(BaseModel):
    labels: list[str]


class LabelUsageOut(BaseModel):
    label_set: dict[str, Any]
    labels: list[dict[str, Any]] = Field(..., description="each label of the set with `samples`, its usage")


# -- auto labeling ------------------------------------------------------------------------------
RunKind = Literal["active_learning", "prelabel", "grouping"]


class ModelIn(InModel):
    source: str = Field(..., min_length=1, max_length=1000,
                        description="a Hugging Face model id (in the local cache) or a local folder")
    version: str = Field("1", min_length=1, max_length=64)
    name: str | None = Field(None, max_length=128, description="defaults to the last part of the source")


class ModelOut(BaseModel):
    id: int
    name: str
    source: str
    version: str
    task: str
    labels: list[str]
    created_at: Timestamp
    created_by: str | None
    ref: str


class RunIn(InModel):
    kind: RunKind
    mode: Literal["fast", "precise"] | None = Field(None, description="active learning only")
    model: str | None = Field(None, max_length=200, description="a registered model: id, name@version or name")
    device: Literal["cpu", "gpu"] = "cpu"
    batch_size: int = Field(16, ge=1, le=512)
    strategy: Literal["least_confidence", "margin", "entropy"] = "margin"
    engine: Literal["local", "ray"] | None = Field(None, description="where it computes: the app's threads or its "
                                                                     "Ray cluster (default: the app's setting)")


class RunOut(BaseModel):
    id: int
    job_id: int
    kind: str
    mode: str | None
    model: str | None
    device: str
    batch_size: int
    status: str
    started_at: Timestamp
    finished_at: Timestamp | None
    total: int
    done: int
    labeled: int
    hard: int
    cancel_requested: bool
    message: str | None
    created_by: str | None
    progress: float
    engine: str = Field("local", description="where it computed: local (the app's threads) or ray (a Ray cluster)")


class ConfirmIn(InModel):
    sample_ids: list[Id] = Field(..., min_length=1, max_length=100_000)


class ConfirmAboveIn(InModel):
    threshold: float = Field(..., ge=0, le=1)


class DiscardIn(InModel):
    sample_ids: list[Id] | None = Field(None, max_length=100_000, description="omitted: every prediction")


# -- users, teams and team labeling (F5, F6.1) ---------------------------------------------------
Email = Annotated[str, Field(min_length=1, max_length=254, description="a member's email address")]
Role = Literal["labeler", "reviewer", "manager"]
Rating = Literal["A", "B", "C", "D"]
Reason = Annotated[str, Field(max_length=1024)]


class LoginIn(InModel):
    username: str = Field(..., max_length=64)
    password: str = Field(..., max_length=1024)


class TeamIn(InModel):
    name: str = Field(..., max_length=64, description="unique among the owner's teams")
    description: str = Field("", max_length=256)


class TeamPatch(InModel):
    name: str | None = Field(None, max_length=64)
    description: str | None = Field(None, max_length=256)


class MemberIn(InModel):
    email: Email
    description: str = Field("", max_length=256)
    role: Role = "labeler"


class MemberPatch(InModel):
    description: str | None = Field(None, max_length=256)
    role: Role | None = None


class EmailsIn(InModel):
    emails: list[Email] = Field(..., min_length=1, max_length=100)


class TeamJobIn(InModel):
    team_id: Id
    mode: Literal["team", "manager"] = Field("team", description="team: assign every unlabeled sample now, "
                                             "evenly and at random; manager: the Team Manager assigns")
    labelers: list[Email] = Field([], max_length=100)
    reviewers: list[Email] = Field([], max_length=100)
    manager: Email | None = None
    auto_assign_new: bool = Field(False, description="assign samples a synchronize adds")
    load_prelabels: bool = Field(False, description="members start from the job's predictions")
    overlap: int = Field(1, ge=1, le=100, description="labelers per sample")


class AssignIn(InModel):
    sample_ids: list[Id] = Field(..., min_length=1, max_length=100_000)
    emails: list[Email] = Field(..., min_length=1, max_length=100)


class ReassignIn(InModel):
    from_email: Email
    to_email: Email


class JobMemberIn(InModel):
    email: Email
    role: Role = "labeler"


class ReviewIn(InModel):
    labeler: Email
    approve: bool
    rating: Rating | None = Field(None, description="approving needs one")
    reason: Reason | None = Field(None, description="rejecting needs one")


class AcceptanceIn(InModel):
    sample_by: Literal["percent", "count"] = "percent"
    amount: float = Field(10, gt=0, le=1_000_000_000, description="a percentage (0, 100] or a count")


class DecisionIn(InModel):
    email: Email = Field(..., description="the labeler of the sampled item")
    passed: bool
    rating: Rating | None = None
    reason: Reason | None = None


class FinishIn(InModel):
    overwrite: bool = Field(False, description="accepted work replaces labels the job already has")
    scope: Literal["all_pass", "all_reject", "remaining_pass", "remaining_reject"] = "remaining_pass"
