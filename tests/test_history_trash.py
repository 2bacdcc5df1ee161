"""Nothing a person does loses labels (issue 20): versions and edit conflicts, the annotation
history with restore, and the trash for jobs and samples: the store and the REST API."""
from __future__ import annotations

from datetime import timedelta

import pytest

from store import history, trash
from store.annotations import apply_labels, rename_label, set_annotation
from store.errors import Conflict, Forbidden, NotFound
from store.jobs import delete_job, get_job, list_jobs
from store.samples import SampleQuery, delete_samples, get_sample, query_samples
from store.users import add_user
from tests.factories import bulk_labeled, new_job, table_count, team_cats, upload_images

PASSWORD = "a-long-password-1"


def client_for(store, username=None, password=PASSWORD):
    from fastapi.testclient import TestClient

    from server import build_server

    c = TestClient(build_server(store, defer_ui=True))  # REST and media only: no UI built
    if username:
        r = c.post("/api/v1/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
    return c


def labels_of(store, job_id, sid):
    return get_sample(store, job_id, sid).labels


# -- versions and conflicts --------------------------------------------------------------------------

def test_two_clients_edit_the_same_sample_nothing_is_lost(store):
    for name in ("ann", "bob"):
        add_user(store, name, f"{name}@example.org", PASSWORD, is_admin=True, actor="cli")
    job = new_job(store, labels=("cat", "dog", "bird"), actor="ann")
    (sid,) = upload_images(store, job.id, 1)
    a, b = client_for(store, "ann"), client_for(store, "bob")
    url = f"/api/v1/jobs/{job.id}/samples/{sid}"
    ra, rb = a.get(url), b.get(url)  # both open version 0
    assert ra.headers["etag"] == rb.headers["etag"] == '"0"' and ra.json()["version"] == 0
    first = a.put(url + "/annotation", json={"annotation": {"labels": ["cat"]}}, headers={"If-Match": '"0"'})
    assert first.status_code == 200 and first.headers["etag"] == '"1"' and first.json()["version"] == 1
    second = b.put(url + "/annotation", json={"annotation": {"labels": ["dog"]}}, headers={"If-Match": '"0"'})
    assert second.status_code == 412, second.text
    err = second.json()["error"]
    assert "changed by ann" in err["message"] and second.headers["etag"] == '"1"'
    assert err["details"]["current"]["annotation"] == {"labels": ["cat"]}
    assert err["details"]["current"]["saved_by"] == "ann" and err["details"]["current"]["version"] == 1
    assert labels_of(store, job.id, sid) == ["cat"]  # nothing was overwritten
    # bob keeps his: saves over version 1 knowingly
    over = b.put(url + "/annotation", json={"annotation": {"labels": ["dog"]}}, headers={"If-Match": 'W/"1"'})
    assert over.status_code == 200 and over.json()["version"] == 2
    hist = a.get(url + "/history").json()
    assert [(v["version"], v["labels"], v["saved_by"], v["current"]) for v in hist] == [
        (2, ["dog"], "bob", True), (1, ["cat"], "ann", False)]
    # restore the first: a new version with ann's labels
    back = a.post(url + "/history/1/restore")
    assert back.status_code == 200 and back.json() == {"version": 3} and back.headers["etag"] == '"3"'
    assert labels_of(store, job.id, sid) == ["cat"]
    assert a.get(url + "/history").json()[0]["source"] == "restore"
    # without If-Match, scripts save as before; a bad If-Match is a 400; an unknown version a 404
    assert a.put(url + "/annotation", json={"annotation": {"labels": ["bird"]}}).status_code == 200
    assert a.put(url + "/annotation", json={"annotation": {"labels": ["bird"]}},
                 headers={"If-Match": "yesterday"}).status_code == 400
    assert a.post(url + "/history/99/restore").status_code == 404
    assert a.delete(url + "/annotation", headers={"If-Match": '"3"'}).status_code == 412
    assert a.delete(url + "/annotation", headers={"If-Match": '"4"'}).status_code == 204
    assert get_sample(store, job.id, sid).status == "unlabeled"
    assert a.get(url + "/history").json()[1]["labels"] == ["bird"]  # the cleared labels are kept


def test_bulk_label_changes_carry_the_versions_they_read(store):
    job = new_job(store)
    ids = upload_images(store, job.id, 3)
    apply_labels(store, job.id, ids, ["cat"])
    read = {str(s.id): s.version for s in query_samples(store, job.id, SampleQuery()).items}
    assert set(read.values()) == {1}
    set_annotation(store, job.id, ids[1], {"labels": ["dog"]}, actor="someone")
    c = client_for(store)
    r = c.post(f"/api/v1/jobs/{job.id}/samples/labels", json={"sample_ids": ids, "labels": ["dog"], "versions": read})
    assert r.status_code == 409 and f"samples {ids[1]}" in r.json()["error"]["message"]
    assert [labels_of(store, job.id, s) for s in ids] == [["cat"], ["dog"], ["cat"]]  # nothing changed
    read[str(ids[1])] = 2
    r = c.post(f"/api/v1/jobs/{job.id}/samples/labels", json={"sample_ids": ids, "labels": ["dog"], "versions": read})
    assert r.status_code == 200 and r.json() == {"samples_changed": 3}


def test_every_write_path_keeps_a_version(store):
    """A human save, a label renamed everywhere, predictions and their confirmation, an import:
    each adds a version with its source; what samples held before history is version 0."""
    from store.predictions import Prediction, confirm_samples, write_predictions

    job = new_job(store, labels=("cat", "dog"))
    ids = upload_images(store, job.id, 2)
    set_annotation(store, job.id, ids[0], {"labels": ["cat"]})
    rename_label(store, job.id, "cat", "kitten")
    res = write_predictions(store, job.id, [Prediction(ids[1], {"labels": ["dog"]}, 0.9)], "m@1")
    assert res.written == 1, res
    confirm_samples(store, job.id, [ids[1]])
    h0 = history.sample_history(store, job.id, ids[0])
    assert [(v.version, v.labels, v.source) for v in h0] == [(2, ["kitten"], "label_management"),
                                                           (1, ["cat"], "human")]
    h1 = history.sample_history(store, job.id, ids[1])
    assert [(v.version, v.status, v.source) for v in h1] == [(2, "labeled", "confirmation"),
                                                           (1, "to_be_confirmed", "model")]
    assert history.history_size(store)["rows"] == 4
    # pruning: an admin's; the current versions stay
    with store.db.transaction() as cur:
        cur.execute("UPDATE annotation_history SET saved_at = saved_at - INTERVAL 40 DAY")
    assert history.prune_history(store, 30) == 2
    assert [v.version for v in history.sample_history(store, job.id, ids[0])] == [2]


def test_the_audit_trail_holds_every_save_once(store):
    """A save of one sample is recorded by its history row (who, when, what): no event of its own,
    one statement less on the hot path. An action over several samples also writes one event
    saying what was asked. list_events reads both, newest first."""
    from store.annotations import clear_annotation, remove_labels, set_labels
    from store.events import list_events

    job = new_job(store, labels=("cat", "dog"), actor="ann")
    ids = upload_images(store, job.id, 3)
    before = table_count(store, "events")
    set_annotation(store, job.id, ids[0], {"labels": ["cat"]}, actor="ann")
    apply_labels(store, job.id, [ids[1]], ["dog"], actor="bob")
    set_labels(store, job.id, ids[1], ["cat"], actor="bob")
    clear_annotation(store, job.id, ids[0], actor="ann")
    assert table_count(store, "events") == before  # each changed one sample: its history row says it
    apply_labels(store, job.id, ids, ["dog"], actor="cy")  # three samples: one event, three versions
    remove_labels(store, job.id, ids[:2], ["dog"], actor="cy")
    assert table_count(store, "events") == before + 2
    trail = list_events(store, job.id)
    saves = [(e["actor"], e["detail"]["sample_id"], e["detail"]["labels"]) for e in trail
             if e["action"] == "save_annotation"]
    assert sorted(saves, key=repr) == sorted([
        ("ann", ids[0], ["cat"]), ("bob", ids[1], ["dog"]), ("bob", ids[1], ["cat"]), ("ann", ids[0], []),
        ("cy", ids[0], ["dog"]), ("cy", ids[1], ["cat", "dog"]), ("cy", ids[2], ["dog"]),
        ("cy", ids[0], []), ("cy", ids[1], ["cat"])], key=repr)
    assert sorted(saves[:2], key=repr) == sorted([("cy", ids[0], []), ("cy", ids[1], ["cat"])], key=repr)  # newest
    actions = [e["action"] for e in trail]
    assert actions[0] == "remove_labels" and actions.count("apply_labels") == 1
    assert all(e["detail"]["source"] == "human" for e in trail if e["action"] == "save_annotation")
    assert [e["action"] for e in list_events(store, job.id, saves=False)][:2] == ["remove_labels", "apply_labels"]


def test_a_listing_reads_each_versions_outline_not_its_annotation(store):
    """The labeling view's History lists versions by outline (how many shapes, the transcript's
    start), read by the database: the same figures as the full annotations give."""
    job = new_job(store, labels=("cell",), type_id="object_detection")
    (sid,) = upload_images(store, job.id, 1)
    box = {"type": "rectangle", "label": "cell", "points": [[1, 1], [5, 5]]}
    for n in (1, 3, 0, 2):
        set_annotation(store, job.id, sid, {"shapes": [dict(box, id=f"s{i}") for i in range(n)]})
    other = new_job(store, "other", labels=("cell",), type_id="object_detection", dataset_id=job.dataset_id)
    set_annotation(store, other.id, sid, {"shapes": [box] * 4})  # the same sample in another job
    full = history.sample_history(store, job.id, sid)
    light = history.sample_history(store, job.id, sid, full=False)
    assert [v.version for v in light] == [v.version for v in full] == [4, 3, 2, 1]
    assert all(v.annotation is None for v in light)
    assert [v.outline for v in light] == [history.outline_of(v.annotation) for v in full]
    assert [v.outline.get("shapes", 0) for v in light] == [2, 0, 3, 1]
    assert [v.version for v in history.sample_history(store, job.id, sid, full=False, limit=2)] == [4, 3]
    # each version's outline is read once (store.caches.outlines): a save lists the history again,
    # and only the new version's JSON is read then; the other job's versions keep their own
    assert {k for k in store.caches.outlines.keys() if k[1] == sid} == {(job.id, sid, v) for v in (1, 2, 3, 4)}
    set_annotation(store, job.id, sid, {"shapes": [dict(box, id="s9")] * 5})
    store.caches.outlines.put((job.id, sid, 1), {"shapes": 99})  # had it been read again, 1 would say 1
    again = history.sample_history(store, job.id, sid, full=False)
    assert [(v.version, v.outline.get("shapes", 0)) for v in again] == [(5, 5), (4, 2), (3, 0), (2, 3), (1, 99)]
    assert [v.outline for v in history.sample_history(store, other.id, sid, full=False)] == [{"shapes": 4}]


# -- the trash -------------------------------------------------------------------------------------------

def team_state(store, job_id):
    """Everything of a job that must come back: labels with versions, history, team work."""
    q = lambda sql: sorted(map(tuple, store.db.fetchall(sql, [job_id])))  # noqa: E731
    return {
        "samples": q("SELECT sample_id, status, labels, annotation, labeled_by, version FROM job_samples WHERE job_id = ?"),
        "history": q("SELECT sample_id, version, labels, saved_by, source FROM annotation_history WHERE job_id = ?"),
        "assignments": q("SELECT sample_id, email, state, labels, rating, reviewer FROM assignments WHERE job_id = ?"),
        "members": q("SELECT email, role FROM job_members WHERE job_id = ?"),
        "team": q("SELECT team_id, mode FROM team_jobs WHERE job_id = ?"),
    }


def test_delete_a_team_job_and_restore_everything(store):
    from store.team_jobs import my_samples, review_sample, save_my_annotation

    job = team_cats(store, PASSWORD, n=4)
    mine, _ = my_samples(store, job.id, "ann")
    for a in mine[:3]:
        save_my_annotation(store, job.id, a.sample_id, "ann", {"labels": ["cat"]})
    review_sample(store, job.id, mine[0].sample_id, "ann@example.org", "rev", approve=True, rating="A")
    review_sample(store, job.id, mine[1].sample_id, "ann@example.org", "rev", approve=False, reason="a dog")
    set_annotation(store, job.id, mine[3].sample_id, {"labels": ["dog"]}, actor="boss")
    before = team_state(store, job.id)
    assert before["assignments"] and before["history"] and before["members"]

    trash_id = delete_job(store, job.id, actor="boss")
    gone = team_state(store, job.id)
    assert gone.pop("history") == before["history"]  # kept in place, listed by nothing while trashed
    assert all(not v for v in gone.values())
    with pytest.raises(NotFound):
        get_job(store, job.id)
    (item,) = trash.list_trash(store, actor="boss")
    assert (item.id, item.kind, item.job_name, item.samples, item.labeled) == (trash_id, "job", "team cats", 4, 1)
    assert trash.list_trash(store, actor="ann") == []  # a labeler could not delete it
    with pytest.raises(NotFound):
        trash.restore_job(store, job.id, actor="ann")
    # its name is free meanwhile; restoring keeps both
    other = new_job(store, "team cats", actor="boss")
    assert trash.restore_job(store, job.id, actor="boss") == job.id
    assert get_job(store, job.id).name.startswith("team cats (restored ")
    assert team_state(store, job.id) == before
    assert trash.list_trash(store, actor="boss") == [] and table_count(store, "trash_job_samples") == 0
    assert {j.id for j in list_jobs(store, actor="boss")} >= {job.id, other.id}


def test_samples_to_the_trash_and_back_source_files_are_final(store):
    job = new_job(store)
    ids = upload_images(store, job.id, 4)
    apply_labels(store, job.id, ids, ["cat"])
    res = delete_samples(store, job.id, ids[:2])
    assert res.removed == 2 and res.files_deleted == 0
    assert query_samples(store, job.id, SampleQuery()).total == 2
    (item,) = trash.list_trash(store)
    assert (item.kind, item.samples, item.labeled) == ("samples", 2, 2)
    assert trash.restore_samples(store, job.id, [ids[0]]) == 1
    assert trash.list_trash(store)[0].samples == 1
    assert labels_of(store, job.id, ids[0]) == ["cat"] and get_sample(store, job.id, ids[0]).version == 1
    with pytest.raises(NotFound):
        trash.restore_samples(store, job.id, [ids[2]])  # never deleted
    # deleting the files is final: not in the trash
    res = delete_samples(store, job.id, [ids[2]], delete_source=True)
    assert res.files_deleted == 1 and len(trash.list_trash(store)) == 1
    assert store.db.scalar("SELECT count(*) FROM samples WHERE id = ?", [ids[2]]) == 0
    # the rest of the trash is restorable through the API
    c = client_for(store)
    r = c.post("/api/v1/trash/samples/restore", json={"job_id": job.id, "sample_ids": [ids[1]]})
    assert r.status_code == 200 and r.json() == {"samples_changed": 1}
    assert c.get("/api/v1/trash").json() == []


def test_trash_through_the_api_expiry_and_emptying(store, settings):
    from dataclasses import replace

    add_user(store, "boss", "boss@example.org", PASSWORD, is_admin=True, actor="cli")
    add_user(store, "owner", "owner@example.org", PASSWORD, actor="cli")
    add_user(store, "eve", "eve@example.org", PASSWORD, actor="cli")
    job = new_job(store, "mine", actor="owner")
    ids = upload_images(store, job.id, 2)
    apply_labels(store, job.id, ids, ["dog"], actor="owner")
    owner, eve, boss = client_for(store, "owner"), client_for(store, "eve"), client_for(store, "boss")
    assert owner.delete(f"/api/v1/jobs/{job.id}").status_code == 204
    items = owner.get("/api/v1/trash").json()
    assert [(i["kind"], i["job_id"], i["labeled"], i["deleted_by"]) for i in items] == [("job", job.id, 2, "owner")]
    assert eve.get("/api/v1/trash").json() == []
    assert eve.post(f"/api/v1/trash/jobs/{job.id}/restore").status_code == 404
    assert eve.delete("/api/v1/trash").status_code == 403
    for spelling in (f"0{job.id}", f"{job.id}.0", "-1", "abc"):
        assert owner.post(f"/api/v1/trash/jobs/{spelling}/restore").status_code in (400, 404), spelling
    r = owner.post(f"/api/v1/trash/jobs/{job.id}/restore")
    assert r.status_code == 200 and r.json() == {"job_id": job.id, "name": "mine"}
    assert owner.get(f"/api/v1/jobs/{job.id}/samples/{ids[0]}").json()["labels"] == ["dog"]
    # emptying is an admin's, and final (with the history)
    delete_job(store, job.id, actor="owner")
    assert boss.delete("/api/v1/trash").json() == {"count": 1}
    assert owner.post(f"/api/v1/trash/jobs/{job.id}/restore").status_code == 404
    assert store.db.scalar("SELECT count(*) FROM annotation_history WHERE job_id = ?", [job.id]) == 0
    # items expire after trash_days
    other = new_job(store, "other", actor="owner")
    delete_job(store, other.id, actor="owner")
    with store.db.transaction() as cur:
        cur.execute("UPDATE trash SET expires_at = expires_at - INTERVAL 31 DAY")
    assert owner.get("/api/v1/trash").json() == [] and table_count(store, "trash_jobs") == 0
    assert replace(settings).trash_days == 30


def test_the_history_size_and_pruning_through_the_api(store):
    add_user(store, "boss", "boss@example.org", PASSWORD, is_admin=True, actor="cli")
    add_user(store, "owner", "owner@example.org", PASSWORD, actor="cli")
    job = new_job(store, "mine", actor="owner")
    (sid,) = upload_images(store, job.id, 1)
    for label in ("cat", "dog", None):
        if label:
            set_annotation(store, job.id, sid, {"labels": [label]}, actor="owner")
        else:  # a cleared annotation is a version too (no annotation to measure)
            from store.annotations import clear_annotation

            clear_annotation(store, job.id, sid, actor="owner")
    owner, boss = client_for(store, "owner"), client_for(store, "boss")
    assert owner.get(f"/api/v1/jobs/{job.id}/stats").json()["history"]["versions"] == 3
    assert owner.get("/api/v1/history").status_code == 403
    assert owner.post("/api/v1/history/prune", json={"older_than_days": 0}).status_code == 403
    size = boss.get("/api/v1/history").json()
    assert size["versions"] == 3 and size["bytes"] > 0 and size["oldest"]
    for bad in ({"older_than_days": -1}, {"older_than_days": "x"}, {}, {"older_than_days": 1e9}):
        assert boss.post("/api/v1/history/prune", json=bad).status_code in (400, 422), bad
    assert boss.post("/api/v1/history/prune", json={"older_than_days": 0}).json() == {"count": 2}
    assert boss.get("/api/v1/history").json()["versions"] == 1  # the current version stays
    assert owner.get(f"/api/v1/jobs/{job.id}/samples/{sid}/history").json()[0]["current"] is True


def test_ten_thousand_labeled_samples_survive_delete_and_restore(store):
    """The issue's measure: a job of 10,000 labeled samples deleted and restored, every label and
    history row back (registered in one statement, as benchmarks/store_scale.py does; after a
    mirror and a restore from S3: tests/test_mirror.py)."""
    job = new_job(store, labels=("cat", "dog"))
    n = 10_000
    bulk_labeled(store, job, n)
    before = team_state(store, job.id)
    assert len(before["samples"]) == n and len(before["history"]) == n
    delete_job(store, job.id)
    assert store.db.scalar("SELECT count(*) FROM job_samples WHERE job_id = ?", [job.id]) == 0
    trash.restore_job(store, job.id)
    assert team_state(store, job.id) == before


def test_a_stranger_cannot_read_history_or_restore(store):
    add_user(store, "owner", "owner@example.org", PASSWORD, actor="cli")
    add_user(store, "eve", "eve@example.org", PASSWORD, actor="cli")
    job = new_job(store, actor="owner")
    (sid,) = upload_images(store, job.id, 1)
    set_annotation(store, job.id, sid, {"labels": ["cat"]}, actor="owner")
    eve = client_for(store, "eve")
    for spelling in (str(job.id), f"0{job.id}", f"{job.id}%20"):
        assert eve.get(f"/api/v1/jobs/{spelling}/samples/{sid}/history").status_code in (400, 404)
        assert eve.post(f"/api/v1/jobs/{spelling}/samples/{sid}/history/1/restore").status_code in (400, 404)
    with pytest.raises(NotFound):
        history.sample_history(store, job.id, sid, actor="eve")
    with pytest.raises((NotFound, Forbidden)):
        trash.restore_samples(store, job.id, [sid], actor="eve")
    with pytest.raises(Forbidden):
        history.prune_history(store, 0, actor="eve")
    with pytest.raises(Conflict):
        apply_labels(store, job.id, [sid], ["dog"], actor="owner", versions={sid: 0})
    assert timedelta(days=store.settings.trash_days) == timedelta(days=30)
