"""The span picker's value contract (components/span_picker.py) and the text list's items."""
from __future__ import annotations

from components.span_picker import annotation_of, picker_value, span_picker
from components.text_list import list_item, remove_request
from store.labelset import Label, Relation


def test_ner_value_and_annotation_round_trip():
    ann = {"spans": [{"id": "T1", "start": 5, "end": 7, "label": "LOC"}]}
    v = picker_value(3, "Hi 😀 東京", ann, [Label("LOC", "#FF0000"), Label("PER")])
    assert v["mode"] == "ner" and v["sample_id"] == 3 and v["dirty"] is False
    assert v["labels"] == [{"name": "LOC", "color": "#ff0000"}, {"name": "PER", "color": "#3cb44b"}]
    assert v["relations_allowed"] == [] and "entities" not in v
    assert annotation_of(v) == ann


def test_triplet_value_offers_relations_and_round_trips():
    ann = {"entities": [{"id": "E1", "start": 0, "end": 1, "label": "drug"},
                        {"id": "E2", "start": 2, "end": 3, "label": "effect"}],
           "relations": [{"id": "R1", "from": "E1", "to": "E2", "label": "causes"}]}
    v = picker_value(1, "a b", ann, [Label("drug"), Label("effect")], [Relation("causes", "drug", "effect")],
                     mode="triplet")
    assert v["relations_allowed"] == [{"name": "causes", "source": "drug", "target": "effect"}]
    assert annotation_of(v) == ann
    assert annotation_of(None) == {"spans": []}
    assert annotation_of({"mode": "triplet"}) == {"entities": [], "relations": []}


def test_widget_builds_and_list_helpers():
    import gradio as gr

    with gr.Blocks():
        w = span_picker()
    assert hasattr(w, "save")
    assert remove_request({"remove": {"id": "4", "label": "a"}}) == (4, "a")
    assert remove_request({"remove": None}) is None and remove_request("x") is None

    class S:
        id, name, text, labels, status, labeled_by, labeled_at = 1, "f.txt:1", "x" * 500, ["a", "a"], "labeled", None, None
    item = list_item(S(), {"a": "#123456"}, removable=False)
    assert item["text"].endswith("…") and len(item["text"]) == 401
    assert item["labels"] == [{"name": "a", "color": "#123456", "removable": False}]
