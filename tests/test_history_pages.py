"""Issue 20's pages, their handlers called as a browser event would (a real store, the event's user
set as Gradio sets it): edit conflicts with Reload theirs / Keep mine / Compare, presence, the
History of the open sample with Restore, versions carried by bulk label changes, the Trash page;
and the store functions they added (presence, restoring a trash item whole)."""
from __future__ import annotations

import contextlib
from types import SimpleNamespace

import gradio as gr
import pytest

from store import history, trash
from store.annotations import set_annotation
from store.caches import Presence
from store.errors import Conflict, NotFound
from store.events import list_events
from store.jobs import delete_job, get_job, list_jobs
from store.presence import note_open
from store.samples import delete_samples, get_sample
from store.users import add_user
from tests.factories import new_job, upload_images

PASSWORD = "a-long-password-1"
BOX = {"id": "s1", "type": "rectangle", "label": "cell", "points": [[1, 1], [8, 8]]}
OTHER = {"id": "s1", "type": "rectangle", "label": "cell", "points": [[2, 2], [10, 9]]}


@contextlib.contextmanager
def as_user(name: str | None):
    """Run the handlers as the event of `name` (pages read it with common.acting_user)."""
    from gradio.context import LocalContext

    token = LocalContext.request.set(SimpleNamespace(username=name, session_hash=f"s-{name}"))
    try:
        yield
    finally:
        LocalContext.request.reset(token)


def users(store, *names, admin=True):
    for name in names:
        add_user(store, name, f"{name}@example.org", PASSWORD, is_admin=admin, actor="cli")


def canvas(sid, shapes, dirty=True):
    import json

    return {"sample_id": sid, "shapes": json.dumps(shapes), "dirty": dirty, "action": "save"}


def out_of(page, out: list, comp):
    return out[page.outputs.index(comp)]


# -- the store functions ---------------------------------------------------------------------------------

def test_presence_names_the_others_who_opened_the_sample_lately(store):
    users(store, "ann", "bob")
    users(store, "eve", admin=False)
    job = new_job(store, actor="ann")
    a, b = upload_images(store, job.id, 2)
    assert note_open(store, job.id, a, actor="ann") == []
    assert note_open(store, job.id, a, actor="bob") == ["ann"]
    assert note_open(store, job.id, a, actor="ann") == ["bob"]
    assert note_open(store, job.id, b, actor="bob") == []  # bob moved on: not on a any more
    assert note_open(store, job.id, a, actor="ann") == []
    with pytest.raises(NotFound):  # presence is access-checked: a stranger learns nothing
        note_open(store, job.id, a, actor="eve")
    p = Presence(window_s=120)
    p.note("x", 1, 5, at=0.0)
    assert p.note("y", 1, 5, at=100.0) == ["x"] and p.note("z", 1, 5, at=200.0) == ["y"]  # x: too long ago


def test_a_trash_item_is_restored_whole(store):
    users(store, "ann")
    job = new_job(store, "boxes", actor="ann")
    ids = upload_images(store, job.id, 4)
    set_annotation(store, job.id, ids[0], {"labels": ["cat"]}, actor="ann")
    delete_samples(store, job.id, ids[:2], actor="ann")
    (item,) = trash.list_trash(store, actor="ann")
    assert trash.restore_item(store, item.id, actor="ann") == {
        "kind": "samples", "job_id": job.id, "job_name": "boxes", "samples": 2}
    assert get_sample(store, job.id, ids[0]).labels == ["cat"] and trash.list_trash(store, actor="ann") == []
    delete_samples(store, job.id, ids[:1], actor="ann")
    delete_job(store, job.id, actor="ann")
    samples_item, job_item = sorted(trash.list_trash(store, actor="ann"), key=lambda it: it.kind != "samples")
    with pytest.raises(Conflict, match="restore the job first"):
        trash.restore_item(store, samples_item.id, actor="ann")
    back = trash.restore_item(store, job_item.id, actor="ann")
    assert back["kind"] == "job" and back["job_name"] == "boxes" and [j.id for j in list_jobs(store, actor="ann")]
    assert trash.restore_item(store, samples_item.id, actor="ann")["samples"] == 1
    assert get_sample(store, job.id, ids[0]).labels == ["cat"]


# -- the labeling views --------------------------------------------------------------------------------

def shapes_page(store):
    from pages.common import AppContext
    from pages.labeling.shapes import ShapesPage

    with gr.Blocks():
        return ShapesPage(AppContext(store), gr.State(None))


def test_a_save_over_a_newer_version_asks_then_keeps_mine_and_the_history_restores(store):
    """ann and bob open the same image; ann saves; bob's save meets her version: the notice names
    her, Compare shows both, Keep mine saves his (an overwrite in the audit trail); the History
    lists every version; restoring ann's brings her box back; Restore waits for unsaved shapes."""
    from pages.labeling.versions import CompareVersions, RestoreVersion

    users(store, "ann", "bob")
    job = new_job(store, "boxes", labels=("cell",), type_id="object_detection", actor="ann")
    (sid,) = upload_images(store, job.id, 1)
    page = shapes_page(store)
    with as_user("ann"):
        ann_view = page.view(job.id, "all", "", 1, open_id=sid)
    with as_user("bob"):
        bob_view = page.view(job.id, "all", "", 1, open_id=sid)
    v = page.versions
    assert out_of(page, bob_view, v.opened) == {"sample_id": sid, "version": 0}
    assert "Also open by **ann**" in out_of(page, bob_view, v.presence)
    args = [job.id, "all", "", 1]
    with as_user("ann"):
        page.on_save(*args, canvas(sid, [BOX]), out_of(page, ann_view, v.opened))
    with as_user("bob"):
        out = page.on_save(*args, canvas(sid, [OTHER]), out_of(page, bob_view, v.opened))
        conflict = out_of(page, out, v.conflict)
        assert conflict == {"sample_id": sid, "version": 1}
        assert "Changed by ann at" in out_of(page, out, v.message) and "(version 1)" in out_of(page, out, v.message)
        assert out_of(page, out, v.box).visible is True
        assert isinstance(out_of(page, out, page.canvas), type(gr.skip()))  # his unsaved shapes stay
        rows = CompareVersions(v)(job.id, canvas(sid, [OTHER]), conflict).value["data"]
        assert [r[0] for r in rows] == ["Changed"] and "(2, 2)" in rows[0][1] and "(1, 1)" in rows[0][2]
        kept = page.on_save(*args, canvas(sid, [OTHER]), out_of(page, bob_view, v.opened), conflict)
    assert get_sample(store, job.id, sid).annotation["shapes"][0]["points"] == [[2, 2], [10, 9]]
    assert out_of(page, kept, v.opened) == {"sample_id": sid, "version": 2}  # the page remembers the new one
    assert out_of(page, kept, v.box).visible is False
    over = [e for e in list_events(store, job.id) if e["action"] == "overwrite_annotation"]
    assert over and over[0]["actor"] == "bob" and over[0]["detail"]["overwritten_by"] == "ann"
    assert [v.source for v in history.sample_history(store, job.id, sid)] == ["overwrite", "human"]
    table = out_of(page, kept, v.table)
    assert list(table["Version"]) == ["2 (current)", "1"] and list(table["Who"])[:2] == ["bob", "ann"]
    restore = RestoreVersion(page, page.on_discard)
    with as_user("bob"), pytest.raises(gr.Error, match="Unsaved changes"):
        restore(*args, canvas(sid, [OTHER]), out_of(page, kept, v.opened), 1)
    with as_user("bob"):
        back = restore(*args, canvas(sid, [OTHER], dirty=False), out_of(page, kept, v.opened), 1)
    assert get_sample(store, job.id, sid).annotation["shapes"][0]["points"] == [[1, 1], [8, 8]]
    assert out_of(page, back, v.opened)["version"] == 3 and history.sample_history(store, job.id, sid)[0].source == "restore"


def test_spans_and_transcripts_compare_and_reload_theirs(store, tmp_path):
    from pages.common import AppContext
    from pages.labeling.spans import SpansPage
    from pages.labeling.versions import span_changes, text_changes
    from store.jobs import create_job
    from store.labelset import Label, LabelSet

    text = "Ada met Bob in Paris"
    rows = span_changes(text, {"spans": [{"start": 0, "end": 3, "label": "PER"}, {"start": 15, "end": 20, "label": "LOC"}]},
                        {"spans": [{"start": 0, "end": 3, "label": "PER"}, {"start": 8, "end": 11, "label": "PER"}]})
    assert rows == [["Only in mine", "LOC “Paris”", ""], ["Only in theirs", "", "PER “Bob”"],
                    ["Same in both", "1 spans", "1 spans"]]
    assert text_changes("hello", "hullo")[0][0] == "Changed"
    users(store, "ann", "bob")
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "a.txt").write_text(text + "\n", encoding="utf-8")
    job = create_job(store, "ner", "named_entity_recognition", source=str(folder),
                     label_set=LabelSet(labels=[Label("PER"), Label("LOC")]), actor="ann")
    with gr.Blocks():
        page = SpansPage(AppContext(store), gr.State(None))
    with as_user("bob"):
        opened = out_of(page, page.view(job.id, "all", 1), page.versions.opened)
    sid = opened["sample_id"]
    set_annotation(store, job.id, sid, {"spans": [{"start": 0, "end": 3, "label": "PER"}]}, actor="ann")
    mine = {"sample_id": sid, "text": text, "mode": "ner", "dirty": True,
            "spans": [{"id": "T1", "start": 15, "end": 20, "label": "LOC"}]}
    with as_user("bob"):
        out = page.on_save(job.id, "all", 1, mine, opened)
        assert "Changed by ann" in out_of(page, out, page.versions.message)
        fresh = page.on_discard(job.id, "all", 1, mine)  # Reload theirs
    assert [s["label"] for s in out_of(page, fresh, page.picker)["spans"]] == ["PER"]
    assert out_of(page, fresh, page.versions.opened)["version"] == 1


def test_bulk_label_changes_carry_the_versions_the_grid_showed(store):
    """Apply on checked image cards after someone saved one of them: refused with the message,
    nothing changed, the grid shows what they hold now (still checked)."""
    from pages.common import AppContext
    from pages.labeling.checklist import ChecklistPage

    users(store, "ann", "bob")
    job = new_job(store, actor="ann")
    ids = upload_images(store, job.id, 2)
    with gr.Blocks():
        page = ChecklistPage(AppContext(store), gr.State(None))
    args = [job.id, "all", "All", [], "", "", "", "All", False, 1, 48]
    with as_user("bob"):
        shown = out_of(page, page.view(*args), page.records)
    assert all(it["thumb"] == f"/media/{it['id']}/thumb" for it in shown["items"]) and shown["noun"] == "images"
    set_annotation(store, job.id, ids[0], {"labels": ["cat"]}, actor="ann")
    picked = page.check_page(shown)
    with as_user("bob"):
        out = page.on_apply(picked, ["dog"], *args)
    assert get_sample(store, job.id, ids[0]).labels == ["cat"] and get_sample(store, job.id, ids[1]).labels == []
    assert out_of(page, out, page.records)["selected"] == ids
    with as_user("bob"):
        page.on_apply(out_of(page, out, page.records), ["dog"], *args)  # the refreshed versions: applied
    assert get_sample(store, job.id, ids[0]).labels == ["cat", "dog"]


def test_the_open_record_saves_its_labels_with_a_new_one_or_meets_the_newer_version(store):
    """"view" opens a record below the classification list; its Save carries the version it
    opened. Saved meanwhile by someone else: the conflict notice, nothing saved and no new label
    in the set; Keep mine then saves both (one store call, store.annotations.set_labels)."""
    from pages.common import AppContext
    from pages.labeling.checklist import ChecklistPage

    users(store, "ann", "bob")
    job = new_job(store, actor="ann")
    (sid,) = upload_images(store, job.id, 1)
    with gr.Blocks():
        page = ChecklistPage(AppContext(store), gr.State(None))
    args = [job.id, "all", "All", [], "", "", "", "All", False, 1, 24]
    with as_user("bob"):
        shown = page.preview_of(job.id, sid)
    opened = shown[page.preview_outputs.index(page.versions.opened)]
    set_annotation(store, job.id, sid, {"labels": ["cat"]}, actor="ann")
    outputs = page.outputs + page.versions.outputs
    with as_user("bob"):
        out = page.on_preview_save(sid, ["dog", "lynx"], *args, opened)
    assert "Changed by ann" in out[outputs.index(page.versions.message)]
    assert get_sample(store, job.id, sid).labels == ["cat"] and "lynx" not in get_job(store, job.id).label_set.names()
    conflict = out[outputs.index(page.versions.conflict)]
    with as_user("bob"):  # Keep mine
        page.on_preview_save(sid, ["dog", "lynx"], *args, opened, conflict)
    assert get_sample(store, job.id, sid).labels == ["dog", "lynx"]
    assert get_job(store, job.id).label_set.names() == ["cat", "dog", "lynx"]


def test_the_trash_page_restores_and_only_an_admin_empties(store):
    from pages.common import AppContext, UserError
    from pages.trash import TrashHandlers

    users(store, "root")
    users(store, "ann", admin=False)
    job = new_job(store, "mine", actor="ann")
    upload_images(store, job.id, 2)
    delete_job(store, job.id, actor="ann")
    h = TrashHandlers(AppContext(store))
    table, picker, box, history_box, history_md = h.load(None, SimpleNamespace(username="ann"))
    assert list(table["Job"]) == ["mine"] and box.visible is False and picker.value is not None
    assert history_box.visible is False and history_md == ""  # the history's size is an admin's
    out = h.on_restore(picker.value, SimpleNamespace(username="ann"))
    assert "Restored job **mine**" in out[-1] and len(out[0]) == 0
    delete_job(store, job.id, actor="ann")
    with pytest.raises(UserError, match="confirmation"):
        h.on_empty(False, SimpleNamespace(username="root"))
    with pytest.raises(gr.Error, match="admin"):
        h.on_empty(True, SimpleNamespace(username="ann"))
    assert h.load(None, SimpleNamespace(username="root"))[2].visible is True
    assert "1 item deleted for good" in h.on_empty(True, SimpleNamespace(username="root"))[-2]
    assert trash.list_trash(store, actor="root") == []


def test_an_admin_sees_the_historys_size_in_the_statistics_and_prunes_it(store):
    """The history is counted in the job's statistics (page and API) and on the Trash page, where an
    admin drops versions older than N days behind a confirmation; current versions stay."""
    from pages.common import AppContext, UserError
    from pages.trash import TrashHandlers
    from store.stats import job_stats

    users(store, "root")
    users(store, "ann", admin=False)
    job = new_job(store, "mine", actor="ann")
    ids = upload_images(store, job.id, 2)
    for label in ("cat", "dog", "cat"):
        set_annotation(store, job.id, ids[0], {"labels": [label]}, actor="ann")
    st = job_stats(store, job.id, actor="ann")
    assert st.history_versions == 3 and st.history_bytes > 0
    assert st.as_dict()["history"] == {"versions": 3, "bytes": st.history_bytes}
    root, ann = SimpleNamespace(username="root"), SimpleNamespace(username="ann")
    from pages.statistics import StatisticsHandlers

    assert "3 versions in the history (" in StatisticsHandlers(AppContext(store)).load(job.id, ann)[0]
    h = TrashHandlers(AppContext(store))
    *_, history_box, history_md = h.load(None, root)
    assert history_box.visible is True and "keeps **3** versions" in history_md
    with pytest.raises(UserError, match="confirmation"):
        h.on_prune(30, False, root)
    with pytest.raises(UserError, match="days"):
        h.on_prune(-1, True, root)
    with pytest.raises(gr.Error, match="admin"):
        h.on_prune(30, True, ann)
    with store.db.transaction() as cur:
        cur.execute("UPDATE annotation_history SET saved_at = saved_at - INTERVAL 40 DAY")
    assert "0 versions older than 60 days" in h.on_prune(60, True, root)[-2]
    assert job_stats(store, job.id).history_versions == 3
    out = h.on_prune(30, True, root)
    assert "2 versions older than 30 days dropped" in out[-2] and out[-1] is False
    assert "keeps **1** versions" in out[4] and job_stats(store, job.id).history_versions == 1
    assert [v.labels for v in history.sample_history(store, job.id, ids[0], actor="ann")] == [["cat"]]


def test_a_transcript_saved_meanwhile_is_compared_and_kept_over(store):
    """The open-sample pages (transcript, segments) share the same notice: Label meets ann's newer
    transcript, Compare shows both texts, Keep mine saves bob's over it."""
    from pages.common import AppContext
    from pages.labeling.transcript import TranscriptPage
    from pages.labeling.versions import CompareVersions
    from store.imports import upload_files
    from tests.test_audio_types import wav_bytes

    users(store, "ann", "bob")
    job = new_job(store, "speech", labels=(), type_id="speech_labeling", actor="ann")
    upload_files(store, job.id, [("a.wav", wav_bytes(1.0))])
    with gr.Blocks():
        page = TranscriptPage(AppContext(store), gr.State(None))
    with as_user("bob"):
        shown = page.view(job.id, "all", 1)
    opened, v = out_of(page, shown, page.versions.opened), page.versions
    sid = opened["sample_id"]
    set_annotation(store, job.id, sid, {"content": "hello there"}, actor="ann")
    with as_user("bob"):
        out = page.on_label(job.id, "all", 1, sid, "hello their", opened)
        conflict = out_of(page, out, v.conflict)
        assert "Changed by ann" in out_of(page, out, v.message)
        rows = CompareVersions(v)(job.id, "hello their", conflict).value["data"]
        assert rows == [["Changed", "hello their", "hello there"]]
        kept = page.on_label(job.id, "all", 1, sid, "hello their", opened, conflict)
    assert get_sample(store, job.id, sid).annotation == {"content": "hello their"}
    assert out_of(page, kept, v.opened)["version"] == 2 and len(kept) == len(page.outputs)
