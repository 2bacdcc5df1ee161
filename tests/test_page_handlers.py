"""Page handlers are methods of small objects (issue 15), so they can be called as a test calls a
function: the events the browser tests do not reach are checked here with a real store."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from pages.common import AppContext, UserError
from pages.team_job import TeamJobHandlers
from store.team_jobs import my_samples
from tests.factories import team_cats, upload_images


def as_user(name: str) -> SimpleNamespace:
    """What a handler reads of gr.Request: the logged-in user."""
    return SimpleNamespace(username=name)


def test_assign_evenly_gives_the_new_samples_to_the_labelers(store):
    job = team_cats(store, "pw-pw-pw-pw", n=4)
    upload_images(store, job.id, 3, prefix="late", start=10)  # arrive after the team job was made
    h = TeamJobHandlers(AppContext(store))
    out = h.tj_on_assign(job.id, ["ann@example.org"], as_user("boss"))
    assert out[-1] == "Assigned ann@example.org: 3."
    assert my_samples(store, job.id, "ann")[1] == 7  # the team job's 4 and the 3 new ones
    with pytest.raises(UserError, match="assigned already"):
        h.tj_on_assign(job.id, ["ann@example.org"], as_user("boss"))


def test_next_after_a_sample_left_the_view_is_the_one_after_it(store, tmp_path):
    """Saved on the Unlabeled tab, the open text leaves the view: Next opens the text after it,
    not the first of the next page (which skipped the rest of the page)."""
    from pages.labeling.spans import SpansPage
    from store.annotations import set_annotation
    from store.jobs import create_job
    from store.labelset import Label, LabelSet
    from store.samples import SampleQuery, query_samples

    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "a.txt").write_text("".join(f"text number {i}\n" for i in range(6)), encoding="utf-8")
    job = create_job(store, "ner", "named_entity_recognition", source=str(folder),
                     label_set=LabelSet(labels=[Label("X")]))
    ids = [s.id for s in query_samples(store, job.id, SampleQuery(page_size=10)).items]
    page = SpansPage.__new__(SpansPage)  # the view's queries need only the store
    page.store = store
    set_annotation(store, job.id, ids[1], {"spans": [{"start": 0, "end": 4, "label": "X"}]})
    assert page.neighbour(job.id, "unlabeled", 1, ids[1], 1, 3) == (ids[2], 1)
    assert page.neighbour(job.id, "unlabeled", 1, ids[1], -1, 3) == (ids[0], 1)
    assert page.neighbour(job.id, "all", 1, ids[2], 1, 3) == (ids[3], 2)  # across pages
    assert page.neighbour(job.id, "all", 2, ids[5], 1, 3) == (None, 2)  # the end


def test_the_shared_panels_fill_for_the_opened_jobs_type_and_refresh_only_its_page(store, tmp_path):
    """One Add data / Export and one Auto labeling panel serve every labeling page (ui.py): opening
    a job fills them for its type (its files, formats, runs; no Auto labeling where the type has
    none), and an import or a finished run refreshes the page of the open job's type only."""
    import gradio as gr

    from components.autolabel_panel import AutolabelPanel
    from components.data_panel import DataPanel
    from store.jobs import create_job
    from store.labelset import Label, LabelSet
    from tests.factories import new_job
    from ui import PanelsLoader, RefreshRoute, labeling_pages

    images = new_job(store, "pics")
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "a.txt").write_text("one\ntwo\n", encoding="utf-8")
    triplets = create_job(store, "rel", "text_triplet", source=str(folder), label_set=LabelSet(labels=[Label("X")]))
    ctx = AppContext(store)
    with gr.Blocks():
        job = gr.State(None)
        data, auto = DataPanel(ctx, job), AutolabelPanel(ctx, job)
    load = PanelsLoader(store, data, auto)
    out = dict(zip(data.outputs + auto.outputs, load((images.id, "n0", None))))
    assert "PNG" in out[data.up_files].label
    assert {v for _, v in out[data.fmt].choices} >= {"manifest", "imagefolder"} and out[data.fmt].value == "manifest"
    assert out[auto.panel].visible is True
    assert [v for _, v in out[auto.kind].choices] == ["active_learning", "prelabel", "grouping"]
    out = dict(zip(data.outputs + auto.outputs, load((triplets.id, "n1", None))))
    assert "TXT" in out[data.up_files].label and "conll" not in {v for _, v in out[data.out_fmt].choices}
    assert out[auto.panel].visible is False  # text triplets have no auto labeling
    assert load(None) is not None  # nothing opened in the session: no change (gr.skip())

    # the pages as ui.py builds them: one per page module; detection and segmentation share "shapes"
    view_of = {t: key for key, (_module, type_ids) in labeling_pages().items() for t in type_ids}
    assert view_of["object_detection"] == view_of["image_segmentation"] == "shapes"
    assert view_of["named_entity_recognition"] == view_of["text_triplet"] == "text_spans"
    assert view_of["image_classification"] == view_of["text_classification"] == view_of["sound_classification"] \
        == "checklist"
    route = RefreshRoute(store, ["checklist", "text_spans", "shapes"], view_of)
    tokens = route(triplets.id)
    assert isinstance(tokens[1], str) and all(not isinstance(t, str) for t in (tokens[0], tokens[2]))
    segments = new_job(store, "cells", type_id="image_segmentation")
    tokens = route(segments.id)
    assert isinstance(tokens[2], str) and all(not isinstance(t, str) for t in tokens[:2])
    assert not any(isinstance(t, str) for t in route(None))  # no job open: no page refreshes
    assert not any(isinstance(t, str) for t in route(999_999))  # gone meanwhile: likewise


def test_every_event_shows_its_progress_on_the_top_bar_indicator(store):
    """Gradio's front end updates the loading status of every component any event wrote, on each
    event: the UI's events show their progress on one indicator (ui.progress_on), which kept the
    browser's work per click flat (~0.4 s less per click on the labeling pages)."""
    from ui import build_ui

    config = build_ui(store).get_config_file()
    busy = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "lp-busy")
    with_outputs = [d for d in config["dependencies"] if d.get("outputs")]
    assert len(with_outputs) > 100
    assert all(d.get("show_progress_on") == [busy] for d in with_outputs), \
        [d.get("api_name") for d in with_outputs if d.get("show_progress_on") != [busy]][:10]


def test_a_page_loads_once_for_each_opening_of_a_job(store):
    """Gradio reports a trigger State as changed by every event that lists it among its outputs
    and ran while another event changed it (the page's `land`, answered after the user clicked
    Label): the page's load ran twice, and the second, answered after the user had started
    editing, replaced an unsaved span with the stored text (seen in CI). A page's loader and the
    panels' loader run once for each opening, per session; reopening (a new nonce) loads again."""
    from gradio.context import LocalContext

    from ui import PageLoader

    calls = []
    loader = PageLoader(lambda job, sample=None: calls.append((job, sample)) or ["view"])

    def in_session(session: str, opened):
        token = LocalContext.request.set(SimpleNamespace(session_hash=session, username=None))
        try:
            return loader(opened)
        finally:
            LocalContext.request.reset(token)

    assert in_session("s1", (7, "n1", None)) == ["view"]
    assert in_session("s1", (7, "n1", None)) != ["view"]  # the same opening reported again: no change
    assert in_session("s2", (7, "n1", None)) == ["view"]  # another browser's
    assert in_session("s1", (7, "n2", 3)) == ["view"]  # opened again (a deep link to sample 3)
    assert in_session("s1", None) != ["view"]  # nothing opened in this session
    assert calls == [(7, None), (7, None), (7, 3)]


def test_the_page_load_never_replaces_a_job_the_user_already_picked(store):
    """My Creations' picker (seen in CI under load): a job picked before the page's load event
    answered was replaced by the first job, and Label opened that other job. The load now sends
    the choices without a value (Gradio keeps the picked one) and the listed jobs with the default
    apart: KEEP_PICK_JS keeps a picked job that is still listed, else takes the default; a deep
    link's job is still set."""
    from pages.jobs import KEEP_PICK_JS, JobsHandlers
    from tests.factories import new_job

    a, b = new_job(store, "first"), new_job(store, "second")
    h = JobsHandlers(AppContext(store))
    import json

    _frame, picker, listed = h.on_page_load(as_user(None))
    assert "value" not in picker.constructor_args and {v for _, v in picker.constructor_args["choices"]} == {a.id, b.id}
    listed = json.loads(listed)
    assert sorted(listed["ids"]) == sorted([a.id, b.id]) and listed["default"] in (a.id, b.id)
    _frame, picker, listed = h.on_page_load(as_user(None), picked=a.id)
    assert picker.constructor_args["value"] == a.id == json.loads(listed)["default"]
    assert "includes(picked) ? picked" in KEEP_PICK_JS


def test_click_to_segment_is_offered_on_segmentation_once_a_sam_model_is_registered(store, tmp_path):
    """The segmentation page's tools: polygon and extreme points; with a SAM model registered,
    click to segment too (never on object detection)."""
    import gradio as gr

    from autolabel.models import register_model
    from pages.common import AppContext
    from pages.labeling.shapes import ShapesPage
    from tests import tiny_models as T
    from tests.factories import new_job, upload_images

    job = new_job(store, "seg", type_id="image_segmentation")
    boxes = new_job(store, "boxes", type_id="object_detection")
    (sid,) = upload_images(store, job.id, 1)
    with gr.Blocks():  # one page labels both types: the tools come with the job
        page = ShapesPage(AppContext(store), gr.State(None))
    assert page.type_ids == ("object_detection", "image_segmentation")
    assert page.tools_for(job, sid) == ("polygon", "extreme_points")
    assert page.tools_for(boxes, sid)[0] == "rectangle"
    register_model(store, str(T.sam_model(tmp_path / "sam")))
    assert page.tools_for(job, sid) == ("polygon", "extreme_points", "segment")
    assert "segment" not in page.tools_for(boxes, sid)


def test_one_page_per_widget_is_filled_for_the_type_of_the_job_it_opens(store, tmp_path):
    """Detection and segmentation share the shape page, NER and triplets the span page (ui.py
    builds one page per page module): each opening fills it with the job's type (its tools, its
    labels or entities and relations, Confirm and the Add label row where the type has them), and
    opening the other type after it leaves nothing of the first."""
    import gradio as gr

    from pages.labeling.shapes import ShapesPage
    from pages.labeling.spans import SpansPage
    from store.jobs import create_job
    from store.labelset import Label, LabelSet, Relation
    from tests.factories import new_job

    ctx = AppContext(store)
    with gr.Blocks():
        shapes, spans = ShapesPage(ctx, gr.State(None)), SpansPage(ctx, gr.State(None))
    boxes = new_job(store, "boxes", type_id="object_detection")
    cells = new_job(store, "cells", type_id="image_segmentation")
    upload_images(store, boxes.id, 1)
    upload_images(store, cells.id, 1)
    canvas = shapes.outputs.index(shapes.canvas)
    for job, first_tool in ((boxes, "rectangle"), (cells, "polygon"), (boxes, "rectangle")):
        value = shapes.load(job.id)[canvas]
        assert value["tools"][0] == first_tool and value["sample_id"] is not None
        assert ("extreme_points" in value["tools"]) == (job.type == "image_segmentation")

    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "a.txt").write_text("Ada Lovelace met Babbage in London\n", encoding="utf-8")
    ner = create_job(store, "ner", "named_entity_recognition", source=str(folder),
                     label_set=LabelSet(labels=[Label("PER"), Label("LOC")]))
    rel = create_job(store, "rel", "text_triplet", source=str(folder),
                     label_set=LabelSet(entities=[Label("PER"), Label("ORG")],
                                       relations=[Relation("works_for", "PER", "ORG")]))

    def shown(job) -> dict:
        out = dict(zip(spans.outputs, spans.load(job.id)))
        return {"mode": out[spans.picker]["mode"], "confirm": out[spans.confirm_btn].visible,
                "add": out[spans.add_row].visible, "note": out[spans.lm_note].visible}

    ner_shows = {"mode": "ner", "confirm": True, "add": True, "note": False}
    rel_shows = {"mode": "triplet", "confirm": False, "add": False, "note": True}
    assert [shown(ner), shown(rel), shown(ner)] == [ner_shows, rel_shows, ner_shows]

    # image, text and sound classification share one page: image cards, texts, or files that play
    from pages.labeling.checklist import ChecklistPage
    from store.annotations import apply_labels
    from store.imports import upload_files
    from tests.test_audio_types import wav_bytes

    with gr.Blocks():
        checklist = ChecklistPage(ctx, gr.State(None))
    texts = create_job(store, "texts", "text_classification", source=str(folder),
                       label_set=LabelSet(labels=[Label("pos", shortcut="p"), Label("neg")]))
    sounds = new_job(store, "sounds", labels=("yes", "no"), type_id="sound_classification")
    upload_files(store, sounds.id, [("a.wav", wav_bytes(1.0))])
    from store.samples import SampleQuery, query_samples

    apply_labels(store, sounds.id, [query_samples(store, sounds.id, SampleQuery()).items[0].id], ["yes"])
    images = new_job(store, "images", labels=("cat", "dog"))
    upload_images(store, images.id, 1)

    def listed(job) -> tuple:
        out = dict(zip(checklist.outputs, checklist.load(job.id)))
        value, table = out[checklist.records], out[checklist.labels_table]
        (item,) = value["items"]
        return (value["noun"], item["audio"] is not None, item.get("thumb"), item.get("text"),
                [c["name"] for c in item["labels"]], list(table["Shortcut"]), out[checklist.page_info].split(" · ")[0])

    text_shows = ("texts", False, None, "Ada Lovelace met Babbage in London", [], ["p", "1"], "1 texts")
    sound_shows = ("files", True, None, None, ["yes"], ["1", "2"], "1 files")
    image_id = query_samples(store, images.id, SampleQuery()).items[0].id
    image_shows = ("images", False, f"/media/{image_id}/thumb", None, [], ["1", "2"], "1 images")
    assert [listed(texts), listed(sounds), listed(images), listed(texts)] == [text_shows, sound_shows, image_shows,
                                                                            text_shows]

    # "view" opens a record below the list: an image with its picture, a text as text (never rendered)
    opened = dict(zip(checklist.preview_outputs, checklist.preview_of(images.id, image_id)))
    assert opened[checklist.preview_img].visible is True and opened[checklist.preview_text].visible is False
    text_id = query_samples(store, texts.id, SampleQuery()).items[0].id
    opened = dict(zip(checklist.preview_outputs, checklist.preview_of(texts.id, text_id)))
    assert opened[checklist.preview_img].visible is False
    assert opened[checklist.preview_text].value == "Ada Lovelace met Babbage in London"


def test_the_storage_tab_is_an_admins_and_says_where_the_store_is(store):
    from pages.storage import StorageHandlers
    from store.users import add_user

    add_user(store, "root", "root@example.org", "a-long-password-1", is_admin=True, actor="cli")
    add_user(store, "ann", "ann@example.org", "a-long-password-1", actor="cli")
    h = StorageHandlers(AppContext(store))
    assert h.load(SimpleNamespace(username="ann")) == "The storage settings and the mirror are an admin's."
    shown = h.load(SimpleNamespace(username="root"))
    assert "**Store:**" in shown and "**Mirror:** off" in shown
    with pytest.raises(UserError, match="no mirror is configured"):  # a message, not a crash
        h.on_mirror(SimpleNamespace(username="root"))


def test_a_pages_refresh_runs_only_for_a_job_of_its_types(store):
    """Gradio reports a State listed among an event's outputs as changed when another event changed
    it meanwhile, gr.skip() or not: the shape page's refresh ran for the image classification job
    an upload went to (IndexError in its log). A page's refresh now skips jobs of other types."""
    import gradio as gr

    from pages.labeling.base import ItsTypesOnly
    from pages.labeling.shapes import ShapesPage
    from tests.factories import new_job

    with gr.Blocks():
        shapes = ShapesPage(AppContext(store), gr.State(None))
    images, boxes = new_job(store, "images"), new_job(store, "boxes", type_id="object_detection")
    calls = []
    refresh = ItsTypesOnly(shapes, lambda *args: calls.append(args) or ["view"], 3)
    assert refresh(images.id, "all") == [gr.skip()] * 3 and calls == []
    assert refresh(None, "all") == [gr.skip()] * 3 and refresh(999_999, "all") == [gr.skip()] * 3
    assert refresh(boxes.id, "all") == ["view"] and calls == [(boxes.id, "all")]


def test_an_image_job_saved_before_keys_shows_the_keys_and_colors_its_next_save_stores(store):
    """Image classification labels had no shortcut keys or colors before they shared the
    classification page: an older job's buttons get the keys and colors a save of its set would
    store, so its keys work at once, and a save stores those very ones."""
    import gradio as gr

    from pages.labeling.checklist import ChecklistPage
    from store.jobs import get_job, modify_job
    from store.labelset import Label, LabelSet
    from tests.factories import new_job

    job = new_job(store, "old", labels=("cat", "dog"))
    old = LabelSet(labels=[Label("cat"), Label("dog")]).to_json()  # as such a job's set was stored
    with store.db.transaction() as cur:
        cur.execute("UPDATE jobs SET label_set = ? WHERE id = ?", [old, job.id])
    with gr.Blocks():
        page = ChecklistPage(AppContext(store), gr.State(None))
    shown = dict(zip(page.outputs, page.load(job.id)))[page.records]["labels"]
    assert [(lab["name"], lab["shortcut"]) for lab in shown] == [("cat", "1"), ("dog", "2")]
    assert all(lab["color"].startswith("#") for lab in shown)
    modify_job(store, job.id, label_set=get_job(store, job.id).label_set)  # the next save of its set
    saved = get_job(store, job.id).label_set.labels
    assert [(lab.name, lab.shortcut, lab.color) for lab in saved] == [
        (lab["name"], lab["shortcut"], lab["color"]) for lab in shown]
