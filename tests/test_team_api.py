"""Log in, visibility and the whole team labeling flow over HTTP, against the real app (a
subprocess on a data folder whose users were added before it started).

Users: creator (makes the jobs), l1 and l2 (labelers), rev (reviewer), outsider (in no team),
admin. The test never opens the store while the server runs (DuckDB: one writer process)."""
from __future__ import annotations

import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.app_server import AppServer, free_port

PASSWORD = "correct-horse-1"
USERS = ("creator", "l1", "l2", "rev", "outsider", "admin")


def email(name: str) -> str:
    return f"{name}@example.org"


def make_data_dir(tmp: Path) -> Path:
    from store import Settings, open_store
    from store.users import add_user, hash_password

    data = tmp / "data"
    store = open_store(Settings(data_dir=data, demo=False))
    try:
        h = hash_password(PASSWORD)
        for u in USERS:
            add_user(store, u, email(u), password_hash=h, is_admin=u == "admin", actor="cli")
    finally:
        store.close()
    return data


def start(tmp: Path, extra_env: dict | None = None) -> AppServer:
    return AppServer(make_data_dir(tmp), tmp / "server", extra_env=extra_env).start()


def client(server: AppServer, user: str | None = None) -> httpx.Client:
    c = httpx.Client(base_url=server.url, timeout=60)
    if user:
        r = c.post("/api/v1/login", json={"username": user, "password": PASSWORD})
        assert r.status_code == 200, r.text
    return c


def text_folder(tmp: Path, n: int) -> Path:
    folder = tmp / f"texts{n}"
    folder.mkdir()
    (folder / "t.txt").write_text("".join(f"text number {i}\n" for i in range(n)), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    app = start(tmp_path_factory.mktemp("team-app"))
    yield app
    app.stop()
    log = app.log(tail=10**7)
    assert "Traceback" not in log, f"the server logged an exception:\n{log[-6000:]}"


@pytest.fixture(scope="module")
def clients(server):
    cs = {u: client(server, u) for u in USERS}
    yield cs
    for c in cs.values():
        c.close()


def upload_folder(c: httpx.Client, job_id: int, folder: Path) -> dict:
    """A user who is not an admin adds data by upload (server folders are an admin's)."""
    files = [("files", (f.name, f.read_bytes())) for f in sorted(folder.iterdir()) if f.is_file()]
    r = c.post(f"/api/v1/jobs/{job_id}/uploads", files=files)
    assert r.status_code == 201, r.text
    return r.json()


def new_job_with_files(c: httpx.Client, folder: Path, name: str, type_id: str, labels: list[str]) -> dict:
    job = c.post("/api/v1/jobs", json={"name": name, "type": type_id, "labels": labels})
    assert job.status_code == 201, job.text
    upload_folder(c, job.json()["id"], folder)
    return job.json()


def setup_team_job(c: httpx.Client, folder: Path, name: str, labelers=("l1", "l2")) -> tuple[int, int]:
    job_id = new_job_with_files(c, folder, name, "text_classification", ["pos", "neg"])["id"]
    team = c.post("/api/v1/teams", json={"name": f"team {name}"})
    assert team.status_code == 201, team.text
    team_id = team.json()["id"]
    r = c.post(f"/api/v1/teams/{team_id}/members",
               json=[{"email": email(u), "description": "", "role": "labeler"} for u in labelers]
               + [{"email": email("rev"), "description": "checks", "role": "reviewer"}])
    assert r.status_code == 201, r.text
    r = c.post(f"/api/v1/jobs/{job_id}/team", json={"team_id": team_id, "labelers": [email(u) for u in labelers],
                                                     "reviewers": [email("rev")]})
    assert r.status_code == 201, r.text
    return job_id, team_id


# -- log in --------------------------------------------------------------------------------------
def test_login_and_sessions(server):
    with httpx.Client(base_url=server.url, timeout=60) as c:
        for user, pw in (("creator", "wrong-password"), ("nobody", PASSWORD)):
            r = c.post("/api/v1/login", json={"username": user, "password": pw})
            assert r.status_code == 401 and "set-cookie" not in r.headers
            assert r.json()["error"]["message"] == "wrong user name or password"  # same for an unknown user
        r = c.get("/api/v1/jobs")
        assert r.status_code == 401 and r.json()["error"]["status"] == 401
        page = c.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"] == "/login"
        r = c.post("/api/v1/login", json={"username": "l1", "password": PASSWORD})
        assert r.status_code == 200
        cookie = r.headers["set-cookie"]
        assert "labelport_session=" in cookie and "httponly" in cookie.lower()
        # the middleware's user (outer app) reaches the mounted API's handlers
        assert c.get("/api/v1/me").json() == {"username": "l1", "email": email("l1"), "is_admin": False,
                                              "multi_user": True}
        assert c.get("/", headers={"Accept": "text/html"}).status_code == 200
        assert c.post("/api/v1/logout").status_code == 200
        assert c.get("/api/v1/me").status_code == 401


def test_only_the_owner_manages_a_team(clients):
    team = clients["creator"].post("/api/v1/teams", json={"name": "owned"}).json()
    assert clients["outsider"].get(f"/api/v1/teams/{team['id']}").status_code == 404
    assert clients["outsider"].patch(f"/api/v1/teams/{team['id']}", json={"name": "x"}).status_code == 404
    assert [t["id"] for t in clients["outsider"].get("/api/v1/teams").json()] == []
    assert clients["admin"].patch(f"/api/v1/teams/{team['id']}", json={"description": "ok"}).status_code == 200
    assert clients["creator"].delete(f"/api/v1/teams/{team['id']}").status_code == 204


# -- visibility (F5.10) --------------------------------------------------------------------------
def test_outsiders_see_nothing_of_a_job(clients, tmp_path):
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir()
    for i in range(2):
        Image.new("RGB", (16, 16), (i * 100, 50, 50)).save(images / f"im{i}.png")
    creator, outsider = clients["creator"], clients["outsider"]
    job = new_job_with_files(creator, images, "private", "image_classification", ["a", "b"])
    sid = creator.get(f"/api/v1/jobs/{job['id']}/samples").json()["items"][0]["id"]
    assert creator.get(f"/media/{sid}/thumb").status_code == 200
    assert creator.get(f"/api/v1/samples/{sid}/file").status_code == 200
    assert job["id"] not in [j["id"] for j in outsider.get("/api/v1/jobs").json()]
    assert job["id"] in [j["id"] for j in clients["admin"].get("/api/v1/jobs").json()]
    for path in (f"/api/v1/jobs/{job['id']}", f"/api/v1/jobs/{job['id']}/samples",
                 f"/api/v1/jobs/{job['id']}/samples/{sid}", f"/api/v1/jobs/{job['id']}/stats",
                 f"/media/{sid}/thumb", f"/media/{sid}/file", f"/api/v1/samples/{sid}/file",
                 f"/api/v1/jobs/{job['id']}/my-samples"):
        r = outsider.get(path)
        assert r.status_code == 404, (path, r.status_code)
    for method, path, body in (("PATCH", f"/api/v1/jobs/{job['id']}", {"name": "mine"}),
                               ("DELETE", f"/api/v1/jobs/{job['id']}", None),
                               ("PUT", f"/api/v1/jobs/{job['id']}/samples/{sid}/annotation",
                                {"annotation": {"labels": ["a"]}})):
        assert outsider.request(method, path, json=body).status_code == 404, path
    assert creator.get(f"/api/v1/jobs/{job['id']}").json()["name"] == "private"


# -- the whole flow ------------------------------------------------------------------------------
def test_team_flow(clients, tmp_path):
    creator, l1, l2, rev = clients["creator"], clients["l1"], clients["l2"], clients["rev"]
    job_id, _ = setup_team_job(creator, text_folder(tmp_path, 4), "flow")
    assert clients["outsider"].get(f"/api/v1/jobs/{job_id}").status_code == 404
    # a labeler sees the job and only the samples assigned to them
    mine = {u: c.get(f"/api/v1/jobs/{job_id}/my-samples").json() for u, c in (("l1", l1), ("l2", l2))}
    assert mine["l1"]["total"] == mine["l2"]["total"] == 2
    assert {it["email"] for it in mine["l1"]["items"]} == {email("l1")}
    ids1 = [it["sample_id"] for it in mine["l1"]["items"]]
    ids2 = [it["sample_id"] for it in mine["l2"]["items"]]
    assert not set(ids1) & set(ids2)
    part = l1.get("/api/v1/me/jobs").json()
    assert [(p["job_id"], p["role"], p["states"]["unlabeled"]) for p in part] == [(job_id, "labeler", 2)]
    assert [j["id"] for j in l1.get("/api/v1/jobs").json()] == [job_id]
    assert l1.get(f"/api/v1/jobs/{job_id}").status_code == 200
    assert l1.get(f"/api/v1/jobs/{job_id}/samples").status_code == 403  # not all the job's samples
    assert l1.get(f"/api/v1/samples/{ids1[0]}/file").status_code == 200
    assert l1.get(f"/api/v1/samples/{ids2[0]}/file").status_code == 404  # someone else's sample
    # a labeler can neither review, accept nor write as the owner
    r = l1.post(f"/api/v1/jobs/{job_id}/review/{ids1[0]}", json={"labeler": email("l1"), "approve": True,
                                                                  "rating": "A"})
    assert r.status_code == 403 and r.json()["error"]["status"] == 403
    assert l1.get(f"/api/v1/jobs/{job_id}/review").status_code == 403
    assert l1.post(f"/api/v1/jobs/{job_id}/acceptances", json={"sample_by": "percent", "amount": 50}).status_code == 403
    assert l1.put(f"/api/v1/jobs/{job_id}/samples/{ids1[0]}/annotation",
                  json={"annotation": {"labels": ["pos"]}}).status_code == 403
    assert l1.post(f"/api/v1/jobs/{job_id}/team", json={"team_id": 1}).status_code == 403
    # label
    for c, ids, lab in ((l1, ids1, "pos"), (l2, ids2, "neg")):
        for sid in ids:
            r = c.put(f"/api/v1/jobs/{job_id}/my-samples/{sid}/annotation", json={"annotation": {"labels": [lab]}})
            assert r.status_code == 200 and r.json()["state"] == "to_be_reviewed", r.text
    assert l1.put(f"/api/v1/jobs/{job_id}/my-samples/{ids2[0]}/annotation",
                  json={"annotation": {"labels": ["pos"]}}).status_code == 404  # not assigned to l1
    # review: reject with a reason, fixed, approved with a rating
    queue = rev.get(f"/api/v1/jobs/{job_id}/review").json()
    assert queue["total"] == 4
    r = rev.post(f"/api/v1/jobs/{job_id}/review/{ids1[0]}", json={"labeler": email("l1"), "approve": False})
    assert r.status_code == 400 and "reason" in r.json()["error"]["message"]
    r = rev.post(f"/api/v1/jobs/{job_id}/review/{ids1[0]}", json={"labeler": email("l1"), "approve": False,
                                                                   "reason": "it is negative"})
    assert r.status_code == 200 and r.json()["state"] == "rejected"
    back = l1.get(f"/api/v1/jobs/{job_id}/my-samples", params={"state": "rejected"}).json()["items"]
    assert [(it["sample_id"], it["reason"]) for it in back] == [(ids1[0], "it is negative")]
    r = l1.put(f"/api/v1/jobs/{job_id}/my-samples/{ids1[0]}/annotation", json={"annotation": {"labels": ["neg"]}})
    assert r.json()["state"] == "to_be_reviewed"
    for it in rev.get(f"/api/v1/jobs/{job_id}/review").json()["items"]:
        r = rev.post(f"/api/v1/jobs/{job_id}/review/{it['sample_id']}", json={"labeler": it["email"],
                                                                              "approve": True, "rating": "A"})
        assert r.status_code == 200 and r.json()["rating"] == "A"
    assert rev.get(f"/api/v1/jobs/{job_id}/review").json()["total"] == 0
    assert rev.post(f"/api/v1/jobs/{job_id}/acceptances", json={"amount": 50}).status_code == 403
    # acceptance of 50%, then finish: the remaining pass
    acc = creator.post(f"/api/v1/jobs/{job_id}/acceptances", json={"sample_by": "percent", "amount": 50})
    assert acc.status_code == 201, acc.text
    acc_id = acc.json()["id"]
    items = creator.get(f"/api/v1/acceptances/{acc_id}/items").json()
    assert len(items) == 2
    decision = {"email": items[0]["email"], "passed": True, "rating": "B"}
    assert l1.post(f"/api/v1/acceptances/{acc_id}/items/{items[0]['sample_id']}", json=decision).status_code == 403
    report = creator.post(f"/api/v1/acceptances/{acc_id}/items/{items[0]['sample_id']}", json=decision).json()
    assert (report["sampled"], report["passed"], report["pending"], report["pass_rate"]) == (2, 1, 1, 1.0)
    assert l1.post(f"/api/v1/acceptances/{acc_id}/finish", json={"scope": "all_reject"}).status_code == 403
    done = creator.post(f"/api/v1/acceptances/{acc_id}/finish", json={"overwrite": False, "scope": "remaining_pass"})
    assert done.status_code == 200 and done.json()["accepted"] == 4, done.text
    labeled = creator.get(f"/api/v1/jobs/{job_id}/samples", params={"status": "labeled"}).json()
    assert labeled["total"] == 4
    assert {it["id"]: it["labels"] for it in labeled["items"]} == {ids1[0]: ["neg"], ids1[1]: ["pos"],
                                                                   ids2[0]: ["neg"], ids2[1]: ["neg"]}
    r = l1.put(f"/api/v1/jobs/{job_id}/my-samples/{ids1[1]}/annotation", json={"annotation": {"labels": ["neg"]}})
    assert r.status_code == 403  # accepted work is closed to members
    figures = creator.get(f"/api/v1/jobs/{job_id}/annotators").json()
    assert {a["annotator"]: a["accepted"] for a in figures["annotators"]} == {email("l1"): 2, email("l2"): 2}
    assert l1.get(f"/api/v1/jobs/{job_id}/annotators").status_code == 403
    # no SMTP: the notifications wait in the outbox; a user sees their own only
    own = l1.get("/api/v1/outbox").json()
    assert own and {m["to"] for m in own} == {email("l1")} and all(m["sent_at"] is None for m in own)
    assert l1.get("/api/v1/outbox", params={"email": email("l2")}).status_code == 403
    assert {email("l1"), email("l2"), email("rev")} <= {m["to"] for m in clients["admin"].get("/api/v1/outbox").json()}


def test_members_and_reassignment(clients, tmp_path):
    creator = clients["creator"]
    job_id, team_id = setup_team_job(creator, text_folder(tmp_path, 6), "members")
    members = {m["email"]: m for m in creator.get(f"/api/v1/jobs/{job_id}/members").json()}
    assert members[email("l1")]["open"] == 3 and members[email("rev")]["role"] == "reviewer"
    assert creator.delete(f"/api/v1/jobs/{job_id}/members/{email('l1')}").status_code == 409
    r = creator.post(f"/api/v1/teams/{team_id}/members/delete", json={"emails": [email("l1")]})
    assert r.status_code == 409
    r = creator.post(f"/api/v1/jobs/{job_id}/reassign", json={"from_email": email("l1"), "to_email": email("l2")})
    assert r.json() == {"moved": 3}
    assert creator.delete(f"/api/v1/jobs/{job_id}/members/{email('l1')}").status_code == 204
    assert clients["l1"].get(f"/api/v1/jobs/{job_id}").status_code == 404  # no longer part of it
    assert creator.post(f"/api/v1/jobs/{job_id}/members/{email('l2')}/notify").status_code == 200
    assert creator.post(f"/api/v1/jobs/{job_id}/members/stranger@example.org/notify").status_code == 404
    r = creator.post(f"/api/v1/jobs/{job_id}/members", json={"email": email("l1"), "role": "labeler"})
    assert r.status_code == 201
    ids = [it["id"] for it in creator.get(f"/api/v1/jobs/{job_id}/samples").json()["items"]]
    r = creator.post(f"/api/v1/jobs/{job_id}/assign", json={"sample_ids": ids, "emails": [email("l1")]})
    assert r.status_code == 200 and r.json() == {"assigned": {}}  # all taken already


# -- notifications by SMTP -----------------------------------------------------------------------
def test_notifications_go_by_smtp(tmp_path):
    from aiosmtpd.controller import Controller

    class Collect:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
            return "250 OK"

    handler, port = Collect(), free_port()
    smtp = Controller(handler, hostname="127.0.0.1", port=port)
    smtp.start()
    app = None
    try:
        app = start(tmp_path, {"LABELPORT_SMTP_HOST": "127.0.0.1", "LABELPORT_SMTP_PORT": str(port)})
        with closing(client(app, "creator")) as creator, closing(client(app, "admin")) as admin:
            job_id, _ = setup_team_job(creator, text_folder(tmp_path, 4), "mailed")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(handler.messages) < 3:
                time.sleep(0.2)
            to = sorted(r for rcpts, _ in handler.messages for r in rcpts)
            assert to == sorted([email("l1"), email("l2"), email("rev")])
            l1_mail = next(body for rcpts, body in handler.messages if rcpts == [email("l1")])
            assert "2 samples are assigned to you" in l1_mail and f"?job={job_id}" in l1_mail
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                box = admin.get("/api/v1/outbox").json()
                if all(m["sent_at"] for m in box):
                    break
                time.sleep(0.2)
            assert box and all(m["sent_at"] and not m["error"] for m in box)
    finally:
        if app:
            app.stop()
        smtp.stop()
    assert "Traceback" not in app.log(tail=10**7)
