"""Label management of text triplet jobs (F3.7): entity and relationship labels are renamed and
recolored everywhere; a relationship label can be deleted (its relations go); an entity label
defined at job creation cannot be deleted."""
from __future__ import annotations

import pytest

from store.annotations import delete_label, recolor_label, rename_label, set_annotation
from store.errors import ValidationError
from store.jobs import create_job, get_job
from store.labelset import Label, LabelSet, Relation
from store.samples import SampleQuery, query_samples

TEXT = "Aspirin causes nausea"
ANN = {"entities": [{"id": "E1", "start": 0, "end": 7, "label": "drug"},
                    {"id": "E2", "start": 15, "end": 21, "label": "effect"}],
       "relations": [{"id": "R1", "from": "E1", "to": "E2", "label": "causes"}]}


@pytest.fixture
def triplet(store, tmp_path):
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_text(TEXT + "\n", encoding="utf-8")
    ls = LabelSet(entities=[Label("drug", "#3366ff"), Label("effect")],
                  relations=[Relation("causes", "drug", "effect")])
    job = create_job(store, "t", "text_triplet", source=str(folder), label_set=ls)
    sid = query_samples(store, job.id, SampleQuery()).items[0].id
    set_annotation(store, job.id, sid, ANN)
    return job.id


def _ann(store, job_id):
    return query_samples(store, job_id, SampleQuery()).items[0]


def test_rename_and_recolor_entity_label_everywhere(store, triplet):
    assert rename_label(store, triplet, "drug", "medicine") == 1
    recolor_label(store, triplet, "medicine", "#FF0000")
    ls = get_job(store, triplet).label_set
    assert [(e.name, e.color) for e in ls.entities][0] == ("medicine", "#ff0000")
    assert (ls.relations[0].source, ls.relations[0].target) == ("medicine", "effect")
    s = _ann(store, triplet)
    assert s.annotation["entities"][0]["label"] == "medicine" and "drug" not in s.labels


def test_entity_label_cannot_be_deleted_but_a_relationship_label_can(store, triplet):
    with pytest.raises(ValidationError, match="cannot be deleted"):
        delete_label(store, triplet, "drug")
    assert delete_label(store, triplet, "causes") == 1
    s = _ann(store, triplet)
    assert s.annotation["relations"] == [] and len(s.annotation["entities"]) == 2
    assert get_job(store, triplet).label_set.relations == []
