"""The labeling-type registry: every type of SPEC F8.1 declared once, with what it needs."""
import importlib

import pytest

from store.formats import FORMATS, formats_for
from store.labelset import LabelSet, Label
from store.types import REGISTRY, get_type

SPEC_TYPES = ["image_classification", "object_detection", "image_segmentation", "text_classification",
              "named_entity_recognition", "text_triplet", "sound_classification", "speech_labeling",
              "speech_paragraph", "video_labeling"]
TEAM_TYPES = {"image_classification", "object_detection", "text_classification", "named_entity_recognition",
              "text_triplet", "speech_paragraph"}


def test_every_spec_type_is_registered_once():
    assert list(REGISTRY) == SPEC_TYPES


@pytest.mark.parametrize("type_id", SPEC_TYPES)
def test_type_declares_media_rules_and_formats(type_id):
    t = get_type(type_id)
    assert t.media in {"image", "audio", "text", "video"}
    assert t.extensions, "a type must say which files it accepts"
    assert "manifest" in t.formats
    assert t.team_labeling == (type_id in TEAM_TYPES)


@pytest.mark.parametrize("type_id", [t for t in SPEC_TYPES if REGISTRY[t].available])
def test_available_types_have_a_page_and_formats_both_ways(type_id):
    t = get_type(type_id)
    page = importlib.import_module(t.page)
    assert callable(page.build)
    for fmt in t.formats:
        if fmt in FORMATS:
            assert type_id in FORMATS[fmt].readers and type_id in FORMATS[fmt].writers
    assert formats_for(type_id, "read") and formats_for(type_id, "write")


def test_every_format_has_an_example_file():
    for fmt in FORMATS.values():
        assert fmt.example_text().strip(), f"format {fmt.id} has no example file"


def test_unknown_type_is_a_clear_error():
    from store.errors import ValidationError

    with pytest.raises(ValidationError, match="unknown labeling type 'pictures'"):
        get_type("pictures")


@pytest.mark.parametrize("type_id", SPEC_TYPES)
def test_a_job_of_every_type_can_be_created(store, type_id):
    from store.jobs import create_job

    if type_id == "text_triplet":
        ls = LabelSet(entities=[Label("drug"), Label("effect")])
    else:
        ls = LabelSet(labels=[Label("a-1")])
    job = create_job(store, f"job-{type_id}", type_id, label_set=ls)
    assert job.type == type_id
