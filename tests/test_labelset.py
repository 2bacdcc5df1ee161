"""Label-set rules of SPEC F1.2 for every labeling type (store/labelset.py + the type registry)."""
from __future__ import annotations

import json
import re

import pytest

from store.errors import ValidationError
from store.jobs import create_job
from store.labelset import (MAX_LABELS, Label, LabelClass, LabelSet, Relation, parse_labels_argument,
                            validate_label_set)
from store.types import REGISTRY, get_type
from tests.factories import table_count

ALL_TYPES = sorted(REGISTRY)
COLOR_TYPES = ["object_detection", "image_segmentation", "text_classification", "named_entity_recognition",
               "text_triplet", "speech_paragraph", "video_labeling", "sound_classification", "image_classification"]
NO_COLOR_TYPES = ["speech_labeling"]


def plain(label_set: LabelSet) -> list[Label]:
    """The labels a plain name list became: a text triplet job's are its entity labels."""
    return label_set.labels or label_set.entities
ATTRIBUTE_TYPES = ["object_detection", "video_labeling"]
HEX = re.compile(r"^#[0-9a-f]{6}$|^#[0-9a-f]{3}$")


def rules(type_id: str):
    return get_type(type_id).rules


def labels(*names: str, **kw) -> LabelSet:
    return LabelSet(labels=[Label(n, **kw) for n in names])


def max_name(type_id: str) -> int:
    return rules(type_id).max_name


def test_registry_has_the_ten_types_of_spec_f8_1():
    assert set(REGISTRY) == {"image_classification", "object_detection", "image_segmentation",
                             "text_classification", "named_entity_recognition", "text_triplet",
                             "sound_classification", "speech_labeling", "speech_paragraph", "video_labeling"}
    assert max_name("speech_paragraph") == 256
    assert all(max_name(t) == 1024 for t in ALL_TYPES if t != "speech_paragraph")


def test_unknown_type_is_refused_with_the_list_of_types():
    with pytest.raises(ValidationError, match="unknown labeling type 'bogus'.*image_classification"):
        get_type("bogus")


# -- names ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["chat_noir", "кошка", "猫-1", "cat", "Dog-2", "9", "café", "बिल्ली", "ﾈｺ",
                                  "γάτα", "قطة", "a_b-c"])
def test_image_classification_accepts_letters_of_any_script_digits_dash_underscore(name):
    got = validate_label_set(labels(name), rules("image_classification"))
    assert got.names() == [name]


@pytest.mark.parametrize("name", ["a b", "a/b", "<script>", "a.b", "cat!", "a,b", "x\ty", "a\\b", "😀", "a+b",
                                  "'quoted'"])
def test_image_classification_refuses_other_characters(name):
    with pytest.raises(ValidationError, match=r"only letters, digits, '-' and '_'|control characters"):
        validate_label_set(labels(name), rules("image_classification"))


@pytest.mark.parametrize("type_id", ["text_classification", "named_entity_recognition", "text_triplet"])
def test_text_label_names_may_hold_other_characters(type_id):
    names = ["<script>alert(1)</script>", "a b", "a/b", "N.Y.", "😀 happy", "'quoted' & \"double\""]
    got = validate_label_set(labels(*names), rules(type_id))
    # a triplet job's plain names are its entity labels
    assert (got.names() if type_id != "text_triplet" else [e.name for e in got.entities]) == names


def test_names_are_trimmed_and_control_characters_refused():
    assert validate_label_set(labels("  cat  "), rules("text_classification")).names() == ["cat"]
    with pytest.raises(ValidationError, match="control characters"):
        validate_label_set(labels("a\x00b"), rules("text_classification"))


@pytest.mark.parametrize("type_id", ALL_TYPES)
def test_name_length_limit_is_named(type_id):
    limit = max_name(type_id)
    ok = "a" * limit
    assert [lab.name for lab in plain(validate_label_set(labels(ok), rules(type_id)))] == [ok]
    with pytest.raises(ValidationError, match=rf"{limit + 1} characters; the limit is {limit}"):
        validate_label_set(labels("a" * (limit + 1)), rules(type_id))


def test_1024_and_1025_characters_for_image_classification():
    assert validate_label_set(labels("x" * 1024), rules("image_classification")).names() == ["x" * 1024]
    with pytest.raises(ValidationError, match="limit is 1024"):
        validate_label_set(labels("x" * 1025), rules("image_classification"))


@pytest.mark.parametrize("type_id", ALL_TYPES)
@pytest.mark.parametrize("name", ["", "   "])
def test_empty_name_is_refused(type_id, name):
    with pytest.raises(ValidationError, match="empty.*1 to"):
        validate_label_set(labels(name), rules(type_id))


@pytest.mark.parametrize("type_id", ALL_TYPES)
def test_duplicate_names_are_refused(type_id):
    with pytest.raises(ValidationError, match="duplicate label name 'cat'.*unique"):
        validate_label_set(labels("cat", "dog", "cat"), rules(type_id))
    with pytest.raises(ValidationError, match="duplicate"):  # trimmed names collide too
        validate_label_set(labels("cat", " cat "), rules(type_id))


@pytest.mark.parametrize("type_id", ALL_TYPES)
def test_at_most_10000_labels(type_id):
    names = [f"l{i}" for i in range(MAX_LABELS)]
    assert len(plain(validate_label_set(labels(*names), rules(type_id)))) == MAX_LABELS
    with pytest.raises(ValidationError, match="10,000"):
        validate_label_set(labels(*names, "one_more"), rules(type_id))


def test_entities_and_relations_count_towards_the_limit():
    ents = [Label(f"e{i}") for i in range(6000)]
    rels = [Relation(f"r{i}", "e0", "e1") for i in range(4001)]
    with pytest.raises(ValidationError, match="at most 10,000"):
        validate_label_set(LabelSet(entities=ents, relations=rels), rules("text_triplet"))


def test_classes_count_towards_the_limit():
    classes = [LabelClass(f"c{i}", [f"l{j}" for j in range(1001)]) for i in range(10)]
    with pytest.raises(ValidationError, match="at most 10,000"):
        validate_label_set(LabelSet(classes=classes), rules("speech_paragraph"))


# -- colors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("type_id", COLOR_TYPES)
def test_colors_are_validated_normalised_and_defaulted(type_id):
    got = plain(validate_label_set(LabelSet(labels=[Label("a", "#FF8800"), Label("b"), Label("c", "#abc")]),
                                   rules(type_id)))
    assert got[0].color == "#ff8800"
    assert HEX.match(got[1].color)
    assert got[2].color == "#abc"
    for bad in ("red", "#12345", "#ggg", "ff8800", "#ff88001", "rgb(1,2,3)"):
        with pytest.raises(ValidationError, match="not a hex color"):
            validate_label_set(LabelSet(labels=[Label("a", bad)]), rules(type_id))


def test_default_colors_differ_between_labels():
    got = validate_label_set(labels("a", "b", "c", "d"), rules("object_detection"))
    assert len({lab.color for lab in got.labels}) == 4


@pytest.mark.parametrize("type_id", NO_COLOR_TYPES)
def test_types_without_colors_keep_none(type_id):
    got = validate_label_set(LabelSet(labels=[Label("a", "#ff0000")]), rules(type_id))
    assert got.labels[0].color == ""


# -- attributes (detection, video) ------------------------------------------------------------

@pytest.mark.parametrize("type_id", ATTRIBUTE_TYPES)
def test_detection_labels_may_have_attributes(type_id):
    ls = LabelSet(labels=[Label("cat", "#ff8800", attributes={"color": ["yellow", "black"], "size": ["s", "l"]})])
    got = validate_label_set(ls, rules(type_id))
    assert got.labels[0].attributes == {"color": ["yellow", "black"], "size": ["s", "l"]}


@pytest.mark.parametrize("type_id", sorted(set(ALL_TYPES) - set(ATTRIBUTE_TYPES)))
def test_other_types_refuse_attributes(type_id):
    with pytest.raises(ValidationError, match="no label attributes"):
        validate_label_set(LabelSet(labels=[Label("cat", attributes={"color": ["black"]})]), rules(type_id))


def test_attribute_names_and_values_are_checked():
    r = rules("object_detection")
    with pytest.raises(ValidationError, match="duplicate value"):
        validate_label_set(LabelSet(labels=[Label("cat", attributes={"color": ["black", "black"]})]), r)
    with pytest.raises(ValidationError, match="attribute name is empty"):
        validate_label_set(LabelSet(labels=[Label("cat", attributes={" ": ["black"]})]), r)
    with pytest.raises(ValidationError, match="attribute value name is empty"):
        validate_label_set(LabelSet(labels=[Label("cat", attributes={"color": [""]})]), r)


# -- shortcuts (sound classification) ---------------------------------------------------------

def test_sound_shortcuts_are_kept_and_unique():
    r = rules("sound_classification")
    got = validate_label_set(LabelSet(labels=[Label("dog", shortcut="1"), Label("cat", shortcut="2"), Label("x")]), r)
    assert [lab.shortcut for lab in got.labels] == ["1", "2", "3"]  # a label without a key gets the first free one


def test_sound_labels_from_a_comma_list_get_keys_and_colors():
    r = rules("sound_classification")
    got = validate_label_set(LabelSet(labels=[Label(n) for n in ("dog", "cat", "bird")] + [Label("car", shortcut="1")]), r)
    assert [lab.shortcut for lab in got.labels] == ["2", "3", "4", "1"]
    assert all(lab.color for lab in got.labels) and len({lab.color for lab in got.labels}) == 4
    many = validate_label_set(LabelSet(labels=[Label(f"l{i}") for i in range(40)]), r)
    keys = [lab.shortcut for lab in many.labels]
    assert keys[:11] == list("1234567890q") and keys[36:] == ["", "", "", ""] and len(set(keys[:36])) == 36
    # image and text classification (the same classification page) have them too; the other types have none
    assert validate_label_set(LabelSet(labels=[Label("a")]), rules("text_classification")).labels[0].shortcut == "1"
    assert validate_label_set(LabelSet(labels=[Label("a")]), rules("image_classification")).labels[0].shortcut == "1"
    assert validate_label_set(LabelSet(labels=[Label("a")]), rules("object_detection")).labels[0].shortcut == ""
    with pytest.raises(ValidationError, match="shortcut '1' is used by more than one label"):
        validate_label_set(LabelSet(labels=[Label("dog", shortcut="1"), Label("cat", shortcut="1")]), r)
    with pytest.raises(ValidationError, match="more than one label"):
        validate_label_set(LabelSet(labels=[Label("dog", shortcut="a"), Label("cat", shortcut="A")]), r)
    with pytest.raises(ValidationError, match="single key"):
        validate_label_set(LabelSet(labels=[Label("dog", shortcut="ab")]), r)


def test_shortcuts_are_dropped_for_types_without_them():
    got = validate_label_set(LabelSet(labels=[Label("dog", shortcut="1"), Label("cat", shortcut="1")]),
                             rules("named_entity_recognition"))
    assert [lab.shortcut for lab in got.labels] == ["", ""]


# -- text triplet -----------------------------------------------------------------------------

def test_triplet_entities_and_relations():
    ls = LabelSet(entities=[Label("drug", "#3366ff"), Label("adverse_effect")],
                  relations=[Relation("causes", "drug", "adverse_effect")])
    got = validate_label_set(ls, rules("text_triplet"))
    assert [e.name for e in got.entities] == ["drug", "adverse_effect"]
    assert got.entities[0].color == "#3366ff" and HEX.match(got.entities[1].color)
    assert got.relations[0].source == "drug" and got.relations[0].target == "adverse_effect"
    assert HEX.match(got.relations[0].color)


def test_triplet_relation_needs_two_entity_labels():
    r = rules("text_triplet")
    with pytest.raises(ValidationError, match="at least two entity labels"):
        validate_label_set(LabelSet(entities=[Label("drug")], relations=[Relation("r", "drug", "drug")]), r)
    with pytest.raises(ValidationError, match="at least two entity labels"):
        validate_label_set(LabelSet(relations=[Relation("r", "a", "b")]), r)


def test_triplet_relation_must_reference_defined_entities():
    r = rules("text_triplet")
    ents = [Label("drug"), Label("effect")]
    with pytest.raises(ValidationError, match="entity label 'disease', which is not defined"):
        validate_label_set(LabelSet(entities=ents, relations=[Relation("treats", "drug", "disease")]), r)
    with pytest.raises(ValidationError, match="not defined"):
        validate_label_set(LabelSet(entities=ents, relations=[Relation("treats", "dr", "effect")]), r)


def test_triplet_duplicates_refused():
    r = rules("text_triplet")
    with pytest.raises(ValidationError, match="duplicate entity label"):
        validate_label_set(LabelSet(entities=[Label("a"), Label("a")]), r)
    with pytest.raises(ValidationError, match="duplicate relationship label"):
        validate_label_set(LabelSet(entities=[Label("a"), Label("b")],
                                    relations=[Relation("r", "a", "b"), Relation("r", "b", "a")]), r)


@pytest.mark.parametrize("type_id", sorted(set(ALL_TYPES) - {"text_triplet"}))
def test_entities_belong_to_triplet_jobs_only(type_id):
    with pytest.raises(ValidationError, match="text triplet jobs only"):
        validate_label_set(LabelSet(entities=[Label("a"), Label("b")]), rules(type_id))


# -- speech paragraph -------------------------------------------------------------------------

def test_speech_paragraph_multi_label_classes():
    ls = LabelSet(classes=[LabelClass("type", ["noise", "speech"]), LabelClass("speaker", ["A", "B"]),
                           LabelClass("v1.0_x-y", ["A", "b.c_d-e"])], speech_content=True)
    got = validate_label_set(ls, rules("speech_paragraph"))
    assert [(c.name, c.labels) for c in got.classes] == [("type", ["noise", "speech"]), ("speaker", ["A", "B"]),
                                                         ("v1.0_x-y", ["A", "b.c_d-e"])]
    assert got.speech_content is True


@pytest.mark.parametrize("bad", ["a b", "a/b", "a:b", "<x>", "a+b", "é!"])
def test_speech_paragraph_names_hold_letters_digits_dot_underscore_dash(bad):
    r = rules("speech_paragraph")
    with pytest.raises(ValidationError, match=r"only letters, digits, '\.', '_' and '-'"):
        validate_label_set(LabelSet(classes=[LabelClass(bad, ["A"])]), r)
    with pytest.raises(ValidationError, match=r"only letters, digits, '\.', '_' and '-'"):
        validate_label_set(LabelSet(classes=[LabelClass("speaker", [bad])]), r)
    with pytest.raises(ValidationError, match=r"only letters, digits, '\.', '_' and '-'"):
        validate_label_set(labels(bad), r)


def test_speech_paragraph_names_of_any_script_and_length_limit():
    r = rules("speech_paragraph")
    got = validate_label_set(LabelSet(classes=[LabelClass("говорящий", ["बिल्ली", "猫.1"])]), r)
    assert got.classes[0].labels == ["बिल्ली", "猫.1"]
    validate_label_set(LabelSet(classes=[LabelClass("c" * 256, ["l" * 256])]), r)
    with pytest.raises(ValidationError, match="limit is 256"):
        validate_label_set(LabelSet(classes=[LabelClass("c" * 257, ["A"])]), r)
    with pytest.raises(ValidationError, match="limit is 256"):
        validate_label_set(LabelSet(classes=[LabelClass("c", ["l" * 257])]), r)


def test_speech_paragraph_class_rules():
    r = rules("speech_paragraph")
    with pytest.raises(ValidationError, match="has no labels"):
        validate_label_set(LabelSet(classes=[LabelClass("speaker", [])]), r)
    with pytest.raises(ValidationError, match="duplicate label in class 'speaker'"):
        validate_label_set(LabelSet(classes=[LabelClass("speaker", ["A", "A"])]), r)
    with pytest.raises(ValidationError, match="duplicate label class"):
        validate_label_set(LabelSet(classes=[LabelClass("s", ["A"]), LabelClass("s", ["B"])]), r)
    with pytest.raises(ValidationError, match="either single-label mode.*or multi-label mode"):
        validate_label_set(LabelSet(labels=[Label("x")], classes=[LabelClass("s", ["A"])]), r)
    # single-label mode with colors
    got = validate_label_set(labels("noise", "speech"), r)
    assert got.names() == ["noise", "speech"] and all(HEX.match(lab.color) for lab in got.labels)


@pytest.mark.parametrize("type_id", sorted(set(ALL_TYPES) - {"speech_paragraph"}))
def test_classes_belong_to_speech_paragraph_only(type_id):
    with pytest.raises(ValidationError, match="speech paragraph jobs only"):
        validate_label_set(LabelSet(classes=[LabelClass("speaker", ["A"])]), rules(type_id))


# -- parse_labels_argument (CLI --labels, SPEC F8.4) ------------------------------------------

def test_parse_comma_list():
    assert parse_labels_argument("cat, dog,,  bird ").names() == ["cat", "dog", "bird"]
    assert parse_labels_argument("").names() == []
    assert parse_labels_argument(None).names() == []


def test_parse_long_comma_list_is_not_taken_for_a_file_name():
    names = [f"label_{i:04d}" for i in range(300)]
    assert parse_labels_argument(",".join(names)).names() == names


F84 = {"labels": [{"name": "cat", "color": "#ff8800", "shortcut": "1", "attributes": {"color": ["yellow", "black"]}}],
       "entities": [{"name": "drug", "color": "#3366ff"}, {"name": "adverse_effect"}],
       "relations": [{"name": "causes", "source": "drug", "target": "adverse_effect"}],
       "classes": [{"name": "speaker", "labels": ["A", "B"]}], "speech_content": True}


def test_parse_json_file_in_the_spec_shape(tmp_path):
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(F84), encoding="utf-8")
    ls = parse_labels_argument(str(path))
    assert ls.labels == [Label("cat", "#ff8800", "1", {"color": ["yellow", "black"]})]
    assert [(e.name, e.color) for e in ls.entities] == [("drug", "#3366ff"), ("adverse_effect", "")]
    assert ls.relations == [Relation("causes", "drug", "adverse_effect")]
    assert ls.classes == [LabelClass("speaker", ["A", "B"])]
    assert ls.speech_content is True
    # the parts each type needs validate
    det = validate_label_set(LabelSet(labels=ls.labels), rules("object_detection"))
    assert det.labels[0].attributes == {"color": ["yellow", "black"]}
    snd = validate_label_set(LabelSet(labels=ls.labels[:0] + [Label("cat", shortcut="1")]), rules("sound_classification"))
    assert snd.labels[0].shortcut == "1"
    tri = validate_label_set(LabelSet(entities=ls.entities, relations=ls.relations), rules("text_triplet"))
    assert tri.relations[0].name == "causes"
    sp = validate_label_set(LabelSet(classes=ls.classes, speech_content=True), rules("speech_paragraph"))
    assert sp.classes[0].labels == ["A", "B"]


def test_parse_json_file_with_plain_names_and_unicode(tmp_path):
    path = tmp_path / "étiquettes.json"
    path.write_text(json.dumps({"labels": ["chat", "кошка"]}, ensure_ascii=False), encoding="utf-8")
    assert parse_labels_argument(str(path)).names() == ["chat", "кошка"]


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ('{"labels": [{"color": "#fff"}]}', 'needs a "name"'),
    ('{"labels": "cat"}', "list"),
    ('{"relations": [{"name": "r", "source": "a"}]}', "missing a field.*target"),
    ('{"relations": ["r"]}', "relation"),
    ('{"labels": [{"name": "cat", "attributes": {"color": "black"}}]}', "attributes of label 'cat'"),
])
def test_parse_bad_json_file(tmp_path, content, message):
    path = tmp_path / "labels.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValidationError, match=message):
        parse_labels_argument(str(path))


def test_parse_missing_json_file(tmp_path):
    with pytest.raises(ValidationError, match="label file not found"):
        parse_labels_argument(str(tmp_path / "nope.json"))


# -- a refused create saves nothing -----------------------------------------------------------

BAD_SETS = {
    "image_classification": labels("a b"),
    "object_detection": LabelSet(labels=[Label("cat", "red")]),
    "image_segmentation": labels("x", "x"),
    "text_classification": labels(""),
    "named_entity_recognition": labels("n" * 1025),
    "text_triplet": LabelSet(entities=[Label("a")], relations=[Relation("r", "a", "a")]),
    "sound_classification": LabelSet(labels=[Label("a", shortcut="1"), Label("b", shortcut="1")]),
    "speech_labeling": LabelSet(labels=[Label("x", attributes={"a": ["b"]})]),
    "speech_paragraph": LabelSet(classes=[LabelClass("a b", ["A"])]),
    "video_labeling": LabelSet(classes=[LabelClass("speaker", ["A"])]),
}


def _row_counts(store) -> dict[str, int]:
    return {t: table_count(store, t) for t in ("jobs", "datasets", "samples", "job_samples", "imports")}


@pytest.mark.parametrize("type_id", ALL_TYPES)
def test_a_refused_create_saves_nothing(store, tmp_path, type_id):
    folder = tmp_path / "data_folder"
    folder.mkdir()
    (folder / "a.txt").write_text("hello\n")
    before = _row_counts(store)
    with pytest.raises(ValidationError):
        create_job(store, "refused", type_id, source=str(folder), label_set=BAD_SETS[type_id])
    with pytest.raises(ValidationError):
        create_job(store, "refused", type_id, label_set=BAD_SETS[type_id])
    assert _row_counts(store) == before == {t: 0 for t in before}


def test_create_job_stores_the_normalised_label_set(store):
    job = create_job(store, "det", "object_detection",
                     label_set=LabelSet(labels=[Label(" cat ", "#FF8800", attributes={"color": ["black"]}), Label("dog")]))
    assert job.label_set.labels[0] == Label("cat", "#ff8800", "", {"color": ["black"]})
    assert HEX.match(job.label_set.labels[1].color)


def test_comma_list_keeps_commas_inside_brackets():
    from store.labelset import parse_labels_argument

    names = parse_labels_argument("Cause-Effect(e1,e2),Other, Entity-Origin(e2,e1) ,x").names()
    assert names == ["Cause-Effect(e1,e2)", "Other", "Entity-Origin(e2,e1)", "x"]
