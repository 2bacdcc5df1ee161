"""Label management of text triplet jobs (F3.7): entity and relationship labels are renamed and
recolored everywhere; a relationship label can be deleted (its relations go); an entity label
defined at job creation cannot be deleted."""
from __future__ import annotations

import pytest

from store.annotations import add_label, delete_label, edit_label_set, recolor_label, rename_label, set_annotation
from store.errors import NotFound, ValidationError
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


# -- the label-set editor's save (issue 15): edit_label_set ------------------------------------------
def test_a_comma_list_gives_a_triplet_job_its_entity_labels(store, tmp_path):
    """"--labels drug,effect" on a triplet job used to give it zero entity labels, silently."""
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "a.txt").write_text(TEXT + "\n", encoding="utf-8")
    job = create_job(store, "t2", "text_triplet", source=str(folder),
                     label_set=LabelSet(labels=[Label("drug"), Label("effect")]))
    assert [e.name for e in job.label_set.entities] == ["drug", "effect"] and job.label_set.labels == []
    assert all(e.color for e in job.label_set.entities)
    add_label(store, job.id, "dose", "")  # the page's Add label adds an entity label too
    assert [e.name for e in get_job(store, job.id).label_set.entities] == ["drug", "effect", "dose"]


def test_edit_label_set_adds_relations_and_keeps_labels_samples_use(store, triplet):
    ls = get_job(store, triplet).label_set
    edited = LabelSet(entities=[*ls.entities, Label("dose", "#00aa00")],
                      relations=[*ls.relations, Relation("given at", "drug", "dose")])
    job = edit_label_set(store, triplet, edited)
    assert [r.name for r in job.label_set.relations] == ["causes", "given at"]
    assert job.label_set.entities[2].color == "#00aa00"
    # "effect" and "causes" are used by the sample: the editor may not drop them (Delete does)
    with pytest.raises(ValidationError, match="'effect' is used by 1 sample, 'causes' is used by 1 sample:"):
        edit_label_set(store, triplet, LabelSet(entities=[Label("drug"), Label("dose")]))
    assert [e.name for e in get_job(store, triplet).label_set.entities] == ["drug", "effect", "dose"]
    # an unused one may go
    job = edit_label_set(store, triplet, LabelSet(entities=job.label_set.entities[:2],
                                                  relations=job.label_set.relations[:1]))
    assert [e.name for e in job.label_set.entities] == ["drug", "effect"]
    # a relation to an entity that does not exist is refused by the set's own rules
    with pytest.raises(ValidationError, match="not defined"):
        edit_label_set(store, triplet, LabelSet(entities=job.label_set.entities,
                                                relations=[*job.label_set.relations, Relation("x", "drug", "nope")]))


def test_edit_label_set_keys_colors_and_attributes(store, tmp_path):
    folder = tmp_path / "w"
    folder.mkdir()
    job = create_job(store, "snd", "sound_classification", source=str(folder),
                     label_set=LabelSet(labels=[Label("dog"), Label("cat")]))
    assert [lab.shortcut for lab in job.label_set.labels] == ["1", "2"]
    job = edit_label_set(store, job.id, LabelSet(labels=[Label("dog", "#112233", "d"), Label("cat", "", "c"),
                                                         Label("bird")]))
    assert [(lab.name, lab.shortcut) for lab in job.label_set.labels] == [("dog", "d"), ("cat", "c"), ("bird", "1")]
    assert job.label_set.labels[0].color == "#112233" and job.label_set.labels[2].color
    with pytest.raises(ValidationError, match="used by more than one label"):
        edit_label_set(store, job.id, LabelSet(labels=[Label("dog", shortcut="x"), Label("cat", shortcut="x")]))


def test_edit_label_set_needs_the_right_to_manage_the_job(store, triplet):
    from store.errors import Forbidden
    from store.users import add_user

    add_user(store, "mallory", "m@example.org", password="correct horse battery", actor="cli")
    with pytest.raises((Forbidden, NotFound)):
        edit_label_set(store, triplet, LabelSet(entities=[Label("drug"), Label("effect"), Label("x")]), actor="mallory")
    assert len(get_job(store, triplet).label_set.entities) == 2
