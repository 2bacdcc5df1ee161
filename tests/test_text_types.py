"""Text types: validation of classification labels, NER spans and triplets (SPEC F3.5-F3.7).

Offsets are Python str indices (Unicode code points), end exclusive."""
from dataclasses import replace

import pytest

from store.errors import ValidationError
from store.labelset import Label, LabelSet, Relation
from store.types import REGISTRY, get_type

NER = get_type("named_entity_recognition")
TRI = get_type("text_triplet")
TC = get_type("text_classification")
NER_SET = LabelSet(labels=[Label("person"), Label("place"), Label("<b>bold</b>")])
TRI_SET = LabelSet(entities=[Label("drug"), Label("effect"), Label("gene")],
                   relations=[Relation("causes", "drug", "effect")])


def spans(*items):
    return {"spans": [{"start": s, "end": e, "label": lab} for s, e, lab in items]}


def test_text_types_are_modules_in_registry_order():
    assert list(REGISTRY)[3:6] == ["text_classification", "named_entity_recognition", "text_triplet"]
    for t in (TC, NER, TRI):
        assert t.validate is not None and t.media == "text"
    assert TC.relabel is None  # label management uses the SQL fast path


def test_text_classification_labels():
    ls = LabelSet(labels=[Label("sports"), Label("news")])
    ann = TC.validate({"labels": ["news", "sports", "news"]}, ls)
    assert ann.data == {"labels": ["news", "sports"]} and ann.labels == ["news", "sports"]
    with pytest.raises(ValidationError, match="not in this job's label set"):
        TC.validate({"labels": ["weather"]}, ls)
    with pytest.raises(ValidationError, match="labels"):
        TC.validate({"labels": "news"}, ls)


@pytest.mark.parametrize("text,word,label", [
    ("I ❤️ 🎉 Zürich!", "Zürich", "place"),             # emoji: ❤️ is two code points, 🎉 one
    ("东京是日本的首都", "日本", "place"),                   # CJK
    ("Cafe\u0301 owner Jose\u0301 said", "Jose\u0301", "person"),  # combining acute accents
    ("👩‍👩‍👧 family of Ana", "Ana", "person"),           # ZWJ emoji sequence
])
def test_ner_offsets_are_code_points(text, word, label):
    start = text.index(word)
    ann = NER.validate(spans((start, start + len(word), label)), NER_SET, {"text": text})
    (span,) = ann.data["spans"]
    assert text[span["start"]:span["end"]] == word
    assert span["id"] == "T1" and ann.labels == [label]
    # the end is exclusive: one past the text is refused
    with pytest.raises(ValidationError, match="out of range"):
        NER.validate(spans((0, len(text) + 1, label)), NER_SET, {"text": text})
    NER.validate(spans((0, len(text), label)), NER_SET, {"text": text})


@pytest.mark.parametrize("bad", [(-1, 2), (3, 3), (5, 2), (0, 99)])
def test_ner_out_of_range_spans_are_refused(bad):
    with pytest.raises(ValidationError, match="out of range"):
        NER.validate(spans((*bad, "person")), NER_SET, {"text": "Ada went home"})


def test_ner_overlap_duplicate_and_bad_values_are_refused():
    text = "Ada Lovelace went to London"
    with pytest.raises(ValidationError, match="overlap"):
        NER.validate(spans((0, 12, "person"), (4, 12, "place")), NER_SET, {"text": text})
    with pytest.raises(ValidationError, match="duplicates"):
        NER.validate(spans((0, 3, "person"), (0, 3, "person")), NER_SET, {"text": text})
    with pytest.raises(ValidationError, match="whole numbers"):
        NER.validate(spans((0.5, 3, "person")), NER_SET, {"text": text})
    with pytest.raises(ValidationError, match="whole numbers"):
        NER.validate(spans((True, 3, "person")), NER_SET, {"text": text})
    with pytest.raises(ValidationError, match="not in this job's label set"):
        NER.validate(spans((0, 3, "org")), NER_SET, {"text": text})
    # adjacent spans are fine; spans come back sorted with ids
    ann = NER.validate(spans((21, 27, "place"), (0, 3, "person")), NER_SET, {"text": text})
    assert [(s["start"], s["id"]) for s in ann.data["spans"]] == [(0, "T2"), (21, "T1")]
    assert NER.validate({"spans": []}, NER_SET, {"text": text}).labels == []


def test_html_in_labels_is_kept_as_text():
    text = "<script>alert(1)</script> hi"
    ann = NER.validate(spans((0, 8, "<b>bold</b>")), NER_SET, {"text": text})
    assert ann.data["spans"][0]["label"] == "<b>bold</b>" and ann.labels == ["<b>bold</b>"]
    ls = LabelSet(labels=[Label("<img src=x onerror=alert(1)>")])
    assert TC.validate({"labels": ["<img src=x onerror=alert(1)>"]}, ls).labels == ["<img src=x onerror=alert(1)>"]


def test_ner_relabel_renames_and_drops():
    data = {"spans": [{"id": "T1", "start": 0, "end": 3, "label": "person"},
                      {"id": "T2", "start": 5, "end": 9, "label": "place"}]}
    assert NER.label_names(NER.relabel(data, "person", "human")) == ["human", "place"]
    assert NER.relabel(data, "person", None)["spans"] == [data["spans"][1]]


TEXT = "Aspirin causes nausea in some 患者 😷."


def triplet(rels, ents=None):
    ents = ents if ents is not None else [
        {"id": "E1", "start": 0, "end": 7, "label": "drug"}, {"id": "E2", "start": 15, "end": 21, "label": "effect"},
        {"id": "E3", "start": 30, "end": 32, "label": "gene"}]
    return {"entities": ents, "relations": rels}


def test_triplet_valid():
    ann = TRI.validate(triplet([{"from": "E1", "to": "E2", "label": "causes"}]), TRI_SET, {"text": TEXT})
    assert ann.data["relations"] == [{"id": "R1", "from": "E1", "to": "E2", "label": "causes"}]
    assert ann.labels == ["drug", "effect", "gene", "causes"]
    assert TEXT[30:32] == "患者"


def test_triplet_mismatched_relation_names_both_ends():
    with pytest.raises(ValidationError) as e:
        TRI.validate(triplet([{"from": "E2", "to": "E1", "label": "causes"}]), TRI_SET, {"text": TEXT})
    assert "'drug'" in str(e.value) and "'effect'" in str(e.value) and "E2 is 'effect'" in str(e.value)
    with pytest.raises(ValidationError, match="from a 'drug' entity to a 'effect' entity"):
        TRI.validate(triplet([{"from": "E1", "to": "E3", "label": "causes"}]), TRI_SET, {"text": TEXT})


def test_triplet_refusals():
    with pytest.raises(ValidationError, match="does not exist"):
        TRI.validate(triplet([{"from": "E1", "to": "E9", "label": "causes"}]), TRI_SET, {"text": TEXT})
    with pytest.raises(ValidationError, match="itself"):
        TRI.validate(triplet([{"from": "E1", "to": "E1", "label": "causes"}],
                             [{"id": "E1", "start": 0, "end": 7, "label": "drug"}]), TRI_SET, {"text": TEXT})
    with pytest.raises(ValidationError, match="relationship label 'treats'"):
        TRI.validate(triplet([{"from": "E1", "to": "E2", "label": "treats"}]), TRI_SET, {"text": TEXT})
    with pytest.raises(ValidationError, match="entity label 'person'"):
        TRI.validate(triplet([], [{"id": "E1", "start": 0, "end": 7, "label": "person"}]), TRI_SET, {"text": TEXT})
    with pytest.raises(ValidationError, match="out of range"):
        TRI.validate(triplet([], [{"id": "E1", "start": 0, "end": 700, "label": "drug"}]), TRI_SET, {"text": TEXT})
    with pytest.raises(ValidationError, match="used twice"):
        TRI.validate(triplet([], [{"id": "E1", "start": 0, "end": 7, "label": "drug"},
                                  {"id": "E1", "start": 15, "end": 21, "label": "effect"}]), TRI_SET, {"text": TEXT})


def test_triplet_relabel_drops_entities_and_their_relations():
    data = TRI.validate(triplet([{"from": "E1", "to": "E2", "label": "causes"}]), TRI_SET, {"text": TEXT}).data
    dropped = TRI.relabel(data, "drug", None)
    assert [e["id"] for e in dropped["entities"]] == ["E2", "E3"] and dropped["relations"] == []
    renamed = TRI.relabel(data, "causes", "leads to")
    assert renamed["relations"][0]["label"] == "leads to"
    assert TRI.label_names(TRI.relabel(data, "causes", None)) == ["drug", "effect", "gene"]


def test_set_annotation_checks_offsets_against_the_sample_text(store, monkeypatch, tmp_path):
    from store.annotations import set_annotation
    from store.imports import upload_files
    from store.jobs import create_job
    from store.samples import SampleQuery, query_samples, sample_bytes

    monkeypatch.setitem(REGISTRY, "named_entity_recognition", replace(NER, page="pages.fake"))
    job = create_job(store, "ner", "named_entity_recognition", label_set=LabelSet(labels=[Label("place")]))
    rec = upload_files(store, job.id, [("a.txt", "Hello Zürich 🎉\nHello Zürich 🎉\n".encode())])
    assert rec.imported == 2, rec.errors  # equal texts: two samples
    items = query_samples(store, job.id, SampleQuery(page_size=50)).items
    sid = items[0].id
    assert items[0].text == "Hello Zürich 🎉" and items[0].path.endswith(":1")
    assert sample_bytes(store, sid) == "Hello Zürich 🎉".encode()
    set_annotation(store, job.id, sid, spans((6, 12, "place")))
    with pytest.raises(ValidationError, match="out of range of a 14-character text"):
        set_annotation(store, job.id, sid, spans((6, 15, "place")))
