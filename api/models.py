"""Request and response bodies of the API (pydantic), converted from the store's dataclasses."""
from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from store.labelset import LabelSet

Status = Literal["all", "unlabeled", "labeled", "to_be_confirmed"]


class LabelIn(BaseModel):
    name: str
    color: str = ""
    shortcut: str = ""
    attributes: dict[str, list[str]] = Field(default_factory=dict)


class RelationIn(BaseModel):
    name: str
    source: str
    target: str
    color: str = ""


class ClassIn(BaseModel):
    name: str
    labels: list[str]


class LabelSetIn(BaseModel):
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


class JobCreate(BaseModel):
    name: str | None = Field(None, description="unique; default task-xxxx")
    type: str = Field(..., description="labeling type id, e.g. image_classification")
    dataset: str | None = Field(None, description="folder on the server or s3://bucket/prefix/ (scanned)")
    dataset_id: int | None = Field(None, description="an existing dataset instead of `dataset`")
    labels: list[str] | LabelSetIn = Field(default_factory=list, description="names, or a full label set")
    description: str = ""
    instructions: str = ""
    team_labeling: bool = False

    def label_set(self) -> LabelSet:
        if isinstance(self.labels, LabelSetIn):
            return self.labels.to_label_set()
        return LabelSet.from_dict({"labels": list(self.labels)})


class JobPatch(BaseModel):
    name: str | None = None
    description: str | None = None
    instructions: str | None = None
    labels: list[str] | LabelSetIn | None = None


class JobCopy(BaseModel):
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
    created_at: datetime
    created_by: str | None
    updated_at: datetime
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
    created_at: datetime
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
    labeled_at: datetime | None
    hard: bool
    hard_coefficient: float | None
    hard_reason: str | None
    cluster: str | None
    from_inference: bool
    confidence: float | None
    meta: dict[str, Any]
    text: str | None = None
    file_url: str

    @classmethod
    def of(cls, s) -> "SampleOut":
        return cls(id=s.id, name=s.name, path=s.path, uri=s.uri, status=s.status, labels=s.labels,
                   annotation=s.annotation, labeled_by=s.labeled_by, labeled_at=s.labeled_at, hard=s.hard,
                   hard_coefficient=s.hard_coefficient, hard_reason=s.hard_reason, cluster=s.cluster,
                   from_inference=s.from_inference, confidence=s.confidence, meta=s.meta or {}, text=s.text,
                   file_url=f"/api/v1/samples/{s.id}/file")


class PageOut(BaseModel):
    items: list[SampleOut]
    total: int
    page: int
    page_size: int
    pages: int


class LabelsChange(BaseModel):
    sample_ids: list[int] = Field(..., min_length=1, max_length=100_000)
    labels: list[str] = Field(..., min_length=1)


class AnnotationIn(BaseModel):
    annotation: dict = Field(..., description='type-specific; image classification: {"labels": [...]}')


class SamplesDelete(BaseModel):
    sample_ids: list[int] = Field(..., min_length=1, max_length=100_000)
    delete_source: bool = False


class HardMark(BaseModel):
    sample_ids: list[int] = Field(..., min_length=1, max_length=100_000)
    hard: bool = True
    coefficient: float | None = Field(None, ge=0, le=1)
    reason: str | None = None


class LabelAdd(BaseModel):
    name: str
    color: str = ""


class LabelRename(BaseModel):
    name: str = Field(..., description="the new name")


class ImportIn(BaseModel):
    path: str = Field(..., description="file or folder on the server, or an s3:// URL / prefix")
    format: str | None = Field(None, description="a format id (manifest, csv, imagefolder...); none: plain files")


class SampleRef(BaseModel):
    source: str = Field(..., description="absolute path or s3:// URL of the file")
    labels: list[str] = Field(default_factory=list)


class SamplesAdd(BaseModel):
    samples: list[SampleRef] = Field(..., min_length=1, max_length=1_000_000)
    verify_files: bool = Field(True, description="open each file to check it (false: register references "
                                                 "as they are, checked when first shown)")


class ExportIn(BaseModel):
    format: str
    out: str = Field(..., description="file or folder on the server to write")
