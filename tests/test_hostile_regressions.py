"""Each access finding of issue 14 ("Each line below was reproduced") as its own test, against the
running app (tests/hostile.py: one app per mode; local mode and Space mode with the fake OpenID
provider and moto_server). Each runs in local mode; the S3 and /healthz ones in Space mode, and
the id spellings and exports in both (the issue saw them on a Space too). Every test states who
does what, the answer it wants, and what must not have changed; its checks are soft (each miss
is reported, not only the first)."""
from __future__ import annotations

import hashlib
import json
import sysconfig
from pathlib import Path

import httpx
import pytest

from tests.hostile import (PASSWD_MARK, HostileApp, api, component_map, diff, email, excerpt,  # noqa: F401
                           hostile_app, hostile_inputs, load_page, new_job, page_dependency, png_bytes, skip_unless)

MEDIA = ("thumb", "display", "crop?x1=0&y1=0&x2=1&y2=1", "file")


def says(r: httpx.Response, who: str) -> str:
    loc = r.headers.get("location")
    ctype = r.headers.get("content-type", "")
    text = excerpt(r.text) if ctype.startswith(("application/json", "text/")) or not r.content else \
        f"<{len(r.content)} bytes of {ctype or 'no type'}: {excerpt(r.content, 40)}>"
    try:  # an import record: what it did, not its timestamps
        body = r.json()
        if isinstance(body, dict) and "imported" in body:
            text = (f"import record status={body.get('status')} imported={body.get('imported')} "
                    f"errors={excerpt(json.dumps(body.get('errors', [])[:2]), 200)}")
    except ValueError:
        pass
    return (f"{r.request.method} {r.request.url.raw_path.decode()} as {who} -> {r.status_code}: {text}"
            + (f" [Location: {loc}]" if loc else ""))


class Checks:
    """Soft checks: every refusal of a test is tried and every miss reported, not only the first."""

    def __init__(self):
        self.problems: list[str] = []

    def refused(self, r: httpx.Response, who: str, codes: tuple[int, ...] = ()) -> bool:
        """A 4xx (one of ``codes`` when given): never 2xx, 3xx or 5xx."""
        ok = r.status_code in codes if codes else 400 <= r.status_code < 500
        if not ok:
            want = " or ".join(map(str, codes)) if codes else "4xx"
            self.problems.append(f"expected {want}: {says(r, who)}")
        return ok

    def check(self, ok: bool, message: str) -> bool:
        if not ok:
            self.problems.append(message)
        return ok

    def done(self) -> None:
        if self.problems:
            pytest.fail(f"{len(self.problems)} problems:\n" + "\n".join(self.problems[:60]), pytrace=False)


def unchanged(app: HostileApp, before: dict, chk: Checks) -> None:
    changes = diff(before, app.snapshot())
    chk.check(not changes, "the store changed (as the admin reads it):\n  " + "\n  ".join(changes))
    chk.check(app.healthy(), "the app no longer answers /healthz")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def all_samples(app: HostileApp, job_id: int) -> list[dict]:
    with app.client("admin") as admin:
        r = admin.get(f"/api/v1/jobs/{job_id}/samples", params={"page_size": 500})
        assert r.status_code == 200, says(r, "admin")
        return r.json()["items"]


def served_server_file(content: bytes) -> str | None:
    if PASSWD_MARK.encode() in content:
        return "/etc/passwd"
    if content[8:12] == b"DUCK":
        return "a DuckDB file"
    return None


def check_no_server_file_served(app: HostileApp, job_id: int, users: tuple[str, ...], chk: Checks) -> None:
    """No sample of the job names /etc/passwd or the DuckDB file, and none serves their bytes."""
    db = str((app.data_dir / "labeling.duckdb").resolve())
    samples = all_samples(app, job_id)
    bad = [s["uri"] for s in samples if "passwd" in s["uri"] or ".duckdb" in s["uri"] or s["uri"].startswith(db)]
    chk.check(not bad, f"job {job_id} holds samples with server files as their source: {bad}")
    for user in users:
        with app.client(user) as c:
            for s in samples:
                for path in (f"/media/{s['id']}/file", f"/api/v1/samples/{s['id']}/file"):
                    r = c.get(path)
                    what = served_server_file(r.content) if r.status_code == 200 else None
                    chk.check(what is None, f"{what} served: {says(r, user)}")
                    chk.check(r.status_code < 500, f"5xx: {says(r, user)}")


# -- job ids spelled 1.0 / 5.0 -------------------------------------------------------------------------------
def test_job_id_spellings_do_not_bypass_job_access(hostile_app: HostileApp):
    """An outsider gets 404 on GET /jobs/N but 200 on /jobs/N.0; PATCH and DELETE on /jobs/N.0 work
    on someone else's job; a labeler writes labels with POST /jobs/N.0/samples/labels."""
    app, o, chk = hostile_app, hostile_app.objects, Checks()
    before = app.snapshot()
    with app.client("outsider") as outsider, app.client("labeler") as labeler, app.client("creator") as creator:
        for jid in (o.job_team, o.job_admin):
            chk.refused(outsider.get(f"/api/v1/jobs/{jid}"), "outsider", (404,))
            for spelled in (f"{jid}.0", f"{jid}.00", f"{jid}e0", f"+{jid}", f"0{jid}"):
                chk.refused(outsider.get(f"/api/v1/jobs/{spelled}"), "outsider")
                chk.refused(outsider.patch(f"/api/v1/jobs/{spelled}", json={"name": "mine"}), "outsider")
                chk.refused(outsider.post(f"/api/v1/jobs/{spelled}/samples/labels",
                                          json={"sample_ids": o.samples_team, "labels": ["a"]}), "outsider")
                chk.refused(outsider.delete(f"/api/v1/jobs/{spelled}"), "outsider")
        for spelled in (str(o.job_team), f"{o.job_team}.0"):
            chk.refused(labeler.post(f"/api/v1/jobs/{spelled}/samples/labels",
                                     json={"sample_ids": o.samples_team, "labels": ["b"]}), "labeler")
        # the owner too: only the canonical spelling is an id
        chk.refused(creator.get(f"/api/v1/jobs/{o.job_team}.0"), "creator")
        chk.refused(creator.patch(f"/api/v1/jobs/{o.job_team}.0", json={"description": "x"}), "creator")
        r = creator.get(f"/api/v1/jobs/{o.job_team}")
        chk.check(r.status_code == 200, f"the owner lost their job: {says(r, 'creator')}")
    unchanged(app, before, chk)
    chk.done()


# -- media ids +1, %201, 0000000000000000001 -------------------------------------------------------------------
def test_media_id_spellings_do_not_bypass_sample_access(hostile_app: HostileApp):
    """/media/+1/file, /media/%201/file, /media/0000000000000000001/file and /api/v1/samples/+1/file
    served another user's files (thumb, display and crop too)."""
    app, o, chk = hostile_app, hostile_app.objects, Checks()
    for sid in (o.samples_team[1], o.samples_admin[0]):
        forms = (f"+{sid}", f"%20{sid}", str(sid).rjust(19, "0"), f"{sid}%20", f"{sid}.0", f"0{sid}")
        with app.client("outsider") as outsider, app.client("creator") as creator:
            for kind in MEDIA:
                chk.refused(outsider.get(f"/media/{sid}/{kind}"), "outsider", (404,))
                for form in forms:
                    for who, c in (("outsider", outsider), ("creator", creator)):
                        chk.refused(c.get(f"/media/{form}/{kind}"), who)
            for form in forms:
                for who, c in (("outsider", outsider), ("creator", creator)):
                    chk.refused(c.get(f"/api/v1/samples/{form}/file"), who)
            chk.refused(outsider.get(f"/api/v1/samples/{sid}/file"), "outsider", (404,))
    with app.client("creator") as creator:  # the owner's canonical id still works
        r = creator.get(f"/media/{o.samples_team[1]}/file")
        chk.check(r.status_code == 200 and r.content[:4] == b"\x89PNG", f"the owner lost a file: {says(r, 'creator')}")
    chk.done()


# -- /etc/passwd and the DuckDB file as a sample's source ------------------------------------------------------
def test_server_files_are_never_registered_or_served_as_samples(hostile_app: HostileApp):
    """A sample whose source is /etc/passwd (or the DuckDB file) was served. Tried through a
    manifest (uploaded on the labeling page by the job's owner; a server path over the API) and
    through POST /jobs/{id}/samples references with verify_files false, as a non-admin and as an
    admin."""
    skip_unless(hostile_app, "local")  # the same code in Space mode; its app is kept for the S3 tests
    app, chk = hostile_app, Checks()
    db = str((app.data_dir / "labeling.duckdb").resolve())
    sources = ["/etc/passwd", db, db + ".wal", "../../../../../../../../etc/passwd", "file:///etc/passwd"]
    manifest = app.work / "hostile-manifest.manifest"
    manifest.write_text("".join(json.dumps({"source": s}) + "\n" for s in sources), encoding="utf-8")
    job, _, _ = new_job(app, "creator", "srvref")
    admin_job, _, _ = new_job(app, "admin", "asrvref")
    absolute = [s for s in sources if not s.startswith("..")]
    with app.client("creator") as creator, app.client("admin") as admin:
        for verify in (False, True):
            chk.refused(creator.post(f"/api/v1/jobs/{job}/samples", json={
                "samples": [{"source": s} for s in absolute], "verify_files": verify}), "creator")
        chk.refused(creator.post(f"/api/v1/jobs/{job}/imports", json={"path": str(manifest), "format": "manifest"}),
                    "creator")
        chk.refused(creator.post(f"/api/v1/jobs/{job}/imports", json={"path": "/etc"}), "creator")
        # the admin may read server folders, but these files are no samples (wrong kind; the app's own data)
        for verify in (False, True):
            r = admin.post(f"/api/v1/jobs/{admin_job}/samples", json={
                "samples": [{"source": s} for s in absolute], "verify_files": verify})
            chk.check(r.status_code < 500, f"5xx: {says(r, 'admin')}")
            if r.status_code < 300:
                chk.check(r.json()["imported"] == 0,
                          f"the admin registered server files as samples: {says(r, 'admin')}")
        r = admin.post(f"/api/v1/jobs/{admin_job}/imports", json={"path": str(manifest), "format": "manifest"})
        chk.check(r.status_code < 500, f"5xx: {says(r, 'admin')}")
        if r.status_code < 300:
            chk.check(r.json()["imported"] == 0, f"the admin's manifest registered server files: {says(r, 'admin')}")
    # the owner uploads the manifest on the labeling page (the "Annotation file" import of the page)
    g = app.gradio("creator")
    try:
        load_page(g)
        opened = g.call(g.dependency("open_labeling"), [job])
        if chk.check(opened.status == "ok", f"the creator could not open their own job's labeling page: "
                                            f"{opened.message}"):
            # the panels every labeling page shows, filled for the job's type as the browser has them
            panels = g.call(g.dependency("load_panels"), [None])
            chk.check(panels.status == "ok", f"the panels of the creator's job did not load: {panels.message}")
            dep = page_dependency(g, "on_format", "page-panels")
            comps = component_map(g.config())
            uploaded = g.upload([manifest])[0]
            data = []
            for cid in dep["inputs"]:
                comp = comps[cid]
                label = str(comp["props"].get("label") or "")
                data.append(job if comp["type"] == "state" else "manifest" if label == "Format"
                            else uploaded if comp["type"] == "file" else "")
            res = g.call(dep, data)
            chk.check(res.status in ("ok", "refused", "error"),
                      f"the manifest upload on the page: {res.status} {res.message}")
    finally:
        g.close()
    check_no_server_file_served(app, job, ("creator", "admin"), chk)
    check_no_server_file_served(app, admin_job, ("admin",), chk)
    chk.check(app.healthy(), "the app no longer answers /healthz")
    chk.done()


# -- exports to a server path ------------------------------------------------------------------------------------
def test_exports_never_overwrite_or_write_server_files(hostile_app: HostileApp):
    """POST /jobs/N/exports {"out": ANY_PATH} overwrote any file the process could write; a .pth
    file written into site-packages gave code execution at the next Python start."""
    app, o, chk = hostile_app, hostile_app.objects, Checks()
    existing = app.canary / "existing-export.jsonl"
    digest = sha(existing)
    pth = Path(sysconfig.get_paths()["purelib"]) / f"zz_hostile_{o.marker}.pth"
    new_path = app.canary / f"new-export-{o.marker}.jsonl"
    try:
        with app.client("creator") as creator, app.client("labeler") as labeler, \
                app.client("outsider") as outsider, app.client("admin") as admin:
            for who, c in (("creator", creator), ("labeler", labeler), ("outsider", outsider)):
                for out in (existing, pth, new_path):
                    chk.refused(c.post(f"/api/v1/jobs/{o.job_team}/exports",
                                       json={"format": "manifest", "out": str(out)}), who)
                    if o.version:
                        chk.refused(c.post(f"/api/v1/jobs/{o.job_team}/versions/{o.version}/exports",
                                           json={"format": "manifest", "path": str(out)}), who)
            # not even an admin overwrites a file
            chk.refused(admin.post(f"/api/v1/jobs/{o.job_admin}/exports",
                                   json={"format": "manifest", "out": str(existing)}), "admin")
            if o.version:
                chk.refused(admin.post(f"/api/v1/jobs/{o.job_team}/versions/{o.version}/exports",
                                       json={"format": "manifest", "path": str(existing)}), "admin")
            # a non-admin exports by download
            r = creator.get(f"/api/v1/jobs/{o.job_team}/export", params={"format": "manifest"})
            chk.check(r.status_code == 200 and b"tfile-" in r.content, f"the download failed: {says(r, 'creator')}")
        chk.check(sha(existing) == digest, f"{existing} was overwritten")
        chk.check(not pth.exists(), f"an export wrote {pth} into site-packages")
        chk.check(not new_path.exists(), f"a non-admin's export wrote {new_path} on the server")
    finally:
        pth.unlink(missing_ok=True)  # never leave a .pth behind: it would run at every Python start
    chk.check(app.healthy(), "the app no longer answers /healthz")
    chk.done()


# -- delete_source ---------------------------------------------------------------------------------------------
def test_delete_source_never_removes_folders_or_other_datasets_files(hostile_app: HostileApp):
    """delete_source removed whole referenced folders with rmtree, including
    store://datasets/<another dataset>."""
    skip_unless(hostile_app, "local")  # the same code in Space mode; its app is kept for the S3 tests
    app, o, chk = hostile_app, hostile_app.objects, Checks()
    data_files = app.data_files()
    admin_files = {k: v for k, v in data_files.items() if f"/{o.dataset_admin}/" in f"/{k}"}
    assert admin_files, f"the admin's uploads are not under the data folder: {sorted(data_files)[:10]}"
    canary = app.canary_files()
    job, own_ids, _ = new_job(app, "creator", "delsrc", 2)
    dataset_prefix = o.uris_admin[0].rsplit("/", 1)[0] + "/"
    refs = [str(app.canary / "folder"), str(app.canary / "secret.txt"), o.uris_admin[0], dataset_prefix,
            str(app.data_dir / "objects"), str(app.data_dir)]
    with app.client("creator") as creator, app.client("admin") as admin:
        for ref in refs:
            chk.refused(creator.post(f"/api/v1/jobs/{job}/samples", json={"samples": [{"source": ref}],
                                                                           "verify_files": False}), "creator")
        samples = all_samples(app, job)
        foreign = [s for s in samples if s["id"] not in own_ids]
        chk.check(not foreign, f"the creator's job now holds files it did not upload: {[s['uri'] for s in foreign]}")
        for s in foreign:  # what the creator reads through them
            r = creator.get(f"/api/v1/samples/{s['id']}/file")
            chk.check(r.status_code != 200, f"the creator reads {s['uri']} through their own job: {says(r, 'creator')}")
        ids = [s["id"] for s in samples]
        r = creator.post(f"/api/v1/jobs/{job}/samples/delete", json={"sample_ids": ids, "delete_source": True})
        chk.check(r.status_code < 500, f"5xx: {says(r, 'creator')}")
        # nothing of the admin's dataset went, and it is still served
        for sid in o.samples_admin:
            r = admin.get(f"/media/{sid}/file")
            chk.check(r.status_code == 200 and r.content[:4] == b"\x89PNG",
                      f"the admin's sample is gone: {says(r, 'admin')}")
    now = app.data_files()
    gone = sorted(k for k in admin_files if now.get(k) != admin_files[k])
    chk.check(not gone, f"files of the admin's dataset were deleted or changed by the creator's delete_source: {gone}")
    chk.check(app.canary_files() == canary,
              f"files outside the data folder changed: {diff(canary, app.canary_files())}")
    if app.mode == "local":  # an admin references a folder and deletes with delete_source: the folder stays
        folder = app.work / "canary-admin" / "folder"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "a.png").write_bytes(png_bytes(3))
        (folder / "keep.txt").write_text("not referenced\n", encoding="utf-8")
        ajob, _, _ = new_job(app, "admin", "adelsrc", 1)
        with app.client("admin") as admin:
            r = admin.post(f"/api/v1/jobs/{ajob}/samples", json={"samples": [{"source": str(folder)},
                                                                              {"source": str(folder / "a.png")}],
                                                                  "verify_files": False})
            chk.check(r.status_code < 500, f"5xx: {says(r, 'admin')}")
            ids = [s["id"] for s in all_samples(app, ajob)]
            r = admin.post(f"/api/v1/jobs/{ajob}/samples/delete", json={"sample_ids": ids, "delete_source": True})
            chk.check(r.status_code < 500, f"5xx: {says(r, 'admin')}")
        chk.check(folder.is_dir() and (folder / "keep.txt").is_file(),
                  f"the admin's delete_source removed the folder {folder} (or a file it did not name)")
    chk.check(app.healthy(), "the app no longer answers /healthz")
    chk.done()


# -- s3:// sources (Space mode, the mirror's bucket) -------------------------------------------------------------
def test_s3_sources_are_refused_and_the_mirror_stays(hostile_app: HostileApp):
    """A stranger on a Space read the mirror's users.parquet (password hashes) and sessions.parquet
    with the server's own AWS keys, read an object of another bucket, then deleted it."""
    app, o, chk = hostile_app, hostile_app.objects, Checks()
    skip_unless(app, "space")
    s3 = app.s3
    mirror_keys = app.mirror_keys()
    assert any(k.endswith("users.parquet") for k in mirror_keys), sorted(mirror_keys)
    mirror_root = f"s3://{s3['mirror_bucket']}/{s3['mirror_prefix']}/"
    users_parquet = f"s3://{s3['mirror_bucket']}/{s3['users_parquet']}"
    sessions = [f"s3://{s3['mirror_bucket']}/{k}" for k in mirror_keys if k.endswith("sessions.parquet")]
    other = f"s3://{s3['other_bucket']}/{s3['other_key']}"
    other_prefix = f"s3://{s3['other_bucket']}/private/"
    job, _, _ = new_job(app, "creator", "s3steal")
    before = app.snapshot()
    users = ["creator", "outsider"] + (["stranger"] if "stranger" in app.tokens else [])
    for user in users:
        with app.client(user) as c:
            for src in (mirror_root, other_prefix, f"s3://{s3['mirror_bucket']}/"):
                chk.refused(c.post("/api/v1/jobs", json={"name": f"steal-{user}-{o.marker}",
                                                         "type": "image_classification", "dataset": src}), user)
            target = job if user == "creator" else o.job_team
            for path in (users_parquet, mirror_root, other, other_prefix):
                chk.refused(c.post(f"/api/v1/jobs/{target}/imports", json={"path": path}), user)
                chk.refused(c.post(f"/api/v1/jobs/{target}/imports", json={"path": path, "format": "manifest"}), user)
            for src in (users_parquet, *sessions, other):
                chk.refused(c.post(f"/api/v1/jobs/{target}/samples", json={
                    "samples": [{"source": src}], "verify_files": False}), user)
    with app.client("admin") as admin:  # the mirror is never a source, not even an admin's
        chk.refused(admin.post("/api/v1/jobs", json={"name": f"steal-admin-{o.marker}", "type": "image_classification",
                                                     "dataset": mirror_root}), "admin")
        chk.refused(admin.post(f"/api/v1/jobs/{o.job_admin}/samples", json={
            "samples": [{"source": users_parquet}], "verify_files": False}), "admin")
        chk.refused(admin.post(f"/api/v1/jobs/{o.job_admin}/imports", json={"path": mirror_root}), "admin")
    # whatever got in: read it, then delete it with its source, as the attacker would
    with app.client("creator") as creator:
        got_in = [s for s in all_samples(app, job) if s["uri"].startswith("s3://")]
        for s in got_in:
            r = creator.get(f"/api/v1/samples/{s['id']}/file")
            chk.check(r.status_code != 200 or (b"argon2" not in r.content and s3["other_body"] not in r.content),
                      f"an S3 object outside the app's storage was served: {says(r, 'creator')}")
        if got_in:
            creator.post(f"/api/v1/jobs/{job}/samples/delete",
                         json={"sample_ids": [s["id"] for s in got_in], "delete_source": True})
    after = app.snapshot()
    stolen = [s["uri"] for k, v in after.items() if k.startswith("job ") for s in v["samples"]
              if isinstance(s, dict) and str(s.get("uri", "")).startswith("s3://")]
    chk.check(not stolen, f"samples with s3:// sources of the mirror or another bucket: {stolen}")
    changes = diff(before, after)
    chk.check(not changes, "the store changed:\n  " + "\n  ".join(changes))
    gone = mirror_keys - app.mirror_keys()
    chk.check(not gone, f"objects of the mirror were deleted: {sorted(gone)}")
    from tests.hostile import list_keys

    chk.check(s3["other_key"] in list_keys(s3["endpoint"], s3["other_bucket"]), f"{other} was deleted")
    chk.check(app.healthy(), "the app no longer answers /healthz")
    chk.done()


def test_healthz_names_no_bucket(hostile_app: HostileApp):
    """The unauthenticated /healthz named the mirror bucket."""
    app, chk = hostile_app, Checks()
    skip_unless(app, "space")
    bucket = app.s3["mirror_bucket"]
    for user in (None, "outsider", "creator"):
        with app.client(user) as c:
            r = c.get("/healthz")
            who = user or "anonymous"
            chk.check(r.status_code == 200 and r.json().get("ok") is True, f"not healthy: {says(r, who)}")
            chk.check(bucket not in r.text and "s3://" not in r.text and "mirror" not in r.text,
                      f"/healthz tells a non-admin about the bucket: {says(r, who)}")
    chk.done()


# -- datasets ------------------------------------------------------------------------------------------------------
def test_jobs_on_someone_elses_dataset_are_refused(hostile_app: HostileApp):
    """POST /jobs {"dataset_id": <someone else's>} -> 201, then their files were served."""
    skip_unless(hostile_app, "local")  # the same code in Space mode; its app is kept for the S3 tests
    app, o, chk = hostile_app, hostile_app.objects, Checks()
    before = app.snapshot()
    attempts = (("creator", o.dataset_admin), ("outsider", o.dataset_team), ("outsider", o.dataset_admin),
                ("labeler", o.dataset_admin), ("labeler", o.dataset_team), ("reviewer", o.dataset_team))
    for user, dataset in attempts:
        with app.client(user) as c:
            for did in (dataset, str(dataset)):
                r = c.post("/api/v1/jobs", json={"name": f"steal-{user}-{did!r}-{o.marker}",
                                                 "type": "image_classification", "dataset_id": did})
                chk.refused(r, user)
    # the same through the page: "Existing dataset" with the admin's dataset
    from tests.hostile import inputs_by_label

    g = app.gradio("creator")
    try:
        load_page(g)
        data = inputs_by_label(g, "on_create", {"Name": f"steal-ui-{o.marker}", "Scene / labeling type":
                                                "image_classification", "Dataset": "Existing dataset",
                                                "Existing dataset": o.dataset_admin, "Files to upload": None})
        res = g.call(g.dependency("on_create"), data)
        chk.check(res.status != "ok", f"the creator made a job on the admin's dataset through the page: "
                                      f"{excerpt(res.text, 300)}")
        chk.check(f"ajob-{o.marker}" not in res.text, f"the page shows the admin's dataset: {excerpt(res.text, 300)}")
    finally:
        g.close()
    unchanged(app, before, chk)
    chk.done()


# -- a labeler and the job routes ---------------------------------------------------------------------------------
def test_labeler_cannot_label_the_team_job_through_job_routes_or_the_page(hostile_app: HostileApp):
    """A labeler opened the creator's team job on the labeling page and applied labels (they
    landed as Labeled, no review), and deleted samples."""
    skip_unless(hostile_app, "local")  # the same code in Space mode; its app is kept for the S3 tests
    app, o, chk = hostile_app, hostile_app.objects, Checks()
    before = app.snapshot()
    j, s = o.job_team, o.samples_team
    with app.client("labeler") as labeler:
        for jid in (str(j), f"{j}.0"):
            for method, path, body in (
                    ("POST", f"/api/v1/jobs/{jid}/samples/labels", {"sample_ids": s, "labels": ["b"]}),
                    ("POST", f"/api/v1/jobs/{jid}/samples/labels/remove", {"sample_ids": s, "labels": ["a"]}),
                    ("PUT", f"/api/v1/jobs/{jid}/samples/{s[1]}/annotation", {"annotation": {"labels": ["b"]}}),
                    ("DELETE", f"/api/v1/jobs/{jid}/samples/{s[0]}/annotation", None),
                    ("POST", f"/api/v1/jobs/{jid}/samples/hard", {"sample_ids": s}),
                    ("POST", f"/api/v1/jobs/{jid}/samples/confirm", {"sample_ids": s}),
                    ("POST", f"/api/v1/jobs/{jid}/samples/delete", {"sample_ids": s[2:3], "delete_source": True}),
                    ("GET", f"/api/v1/jobs/{jid}/samples", None)):
                chk.refused(labeler.request(method, path, json=body), "labeler", (403, 404) if jid == str(j) else ())
        # what the labeler may do
        for path in (f"/api/v1/jobs/{j}", f"/api/v1/jobs/{j}/labels", f"/api/v1/jobs/{j}/my-samples"):
            r = labeler.get(path)
            chk.check(r.status_code == 200, f"the labeler lost a read: {says(r, 'labeler')}")
    g = app.gradio("labeler")
    try:
        load_page(g)
        res = g.call(g.dependency("open_labeling"), [j])
        chk.check(res.status != "ok", f"the labeler opened the creator's labeling page: {excerpt(res.text, 300)}")
        comps = component_map(g.config())
        for name in ("on_apply", "on_delete"):
            dep = page_dependency(g, name, "page-checklist")
            res = g.call(dep, hostile_inputs(app, dep, comps))
            chk.check(res.status != "ok", f"the labeler's {name} on the labeling page went through: "
                                          f"{excerpt(res.text, 300)}")
    finally:
        g.close()
    unchanged(app, before, chk)
    chk.done()


# -- deleting a sample and the assignments ---------------------------------------------------------------------------
def test_deleting_a_sample_removes_it_from_assignments(hostile_app: HostileApp):
    """A deleted sample stayed in the labeler's assignments and was later counted as accepted."""
    skip_unless(hostile_app, "local")  # the same code in Space mode; its app is kept for the S3 tests
    app, o, chk = hostile_app, hostile_app.objects, Checks()
    job, ids, _ = new_job(app, "creator", "assigned", 3, team=True)
    with app.client("creator") as creator, app.client("labeler") as labeler, app.client("reviewer") as reviewer:
        api(creator, "POST", f"/api/v1/jobs/{job}/team",
            json={"team_id": o.team, "labelers": [email("labeler")], "reviewers": [email("reviewer")]})
        mine = api(labeler, "GET", f"/api/v1/jobs/{job}/my-samples")
        assert sorted(it["sample_id"] for it in mine["items"]) == sorted(ids), mine
        api(labeler, "PUT", f"/api/v1/jobs/{job}/my-samples/{ids[0]}/annotation",
            json={"annotation": {"labels": ["a"]}})
        r = creator.post(f"/api/v1/jobs/{job}/samples/delete", json={"sample_ids": ids[:2]})
        assert r.status_code == 200 and r.json()["removed"] == 2, says(r, "creator")
        mine = api(labeler, "GET", f"/api/v1/jobs/{job}/my-samples")
        listed = [it["sample_id"] for it in mine["items"]]
        chk.check(listed == [ids[2]] and mine["total"] == 1,
                  f"the labeler's assignments after deleting {ids[:2]}: {excerpt(json.dumps(mine), 400)}")
        queue = api(reviewer, "GET", f"/api/v1/jobs/{job}/review")
        chk.check(ids[0] not in [it["sample_id"] for it in queue["items"]],
                  f"the review queue keeps the deleted sample {ids[0]}: {excerpt(json.dumps(queue), 400)}")
        chk.refused(labeler.put(f"/api/v1/jobs/{job}/my-samples/{ids[0]}/annotation",
                                json={"annotation": {"labels": ["b"]}}), "labeler", (404,))
        members = {m["email"]: m for m in api(creator, "GET", f"/api/v1/jobs/{job}/members")}
        chk.check(members[email("labeler")]["assigned"] == 1, f"the job's members after the deletion: {members}")
        # the only labeled sample is gone: nothing to accept
        r = creator.post(f"/api/v1/jobs/{job}/acceptances", json={"sample_by": "count", "amount": 1})
        chk.check(r.status_code == 400, f"an acceptance started on deleted work: {says(r, 'creator')}")
        figures = api(creator, "GET", f"/api/v1/jobs/{job}/annotators")
        chk.check(all(a.get("accepted", 0) == 0 for a in figures["annotators"]), f"figures: {figures}")
    chk.done()


# -- the model registry --------------------------------------------------------------------------------------------
def test_model_registry_is_an_admins(hostile_app: HostileApp):
    """Any user deleted anyone's model; POST /models probed server folders."""
    app, o, chk = hostile_app, hostile_app.objects, Checks()
    if o.model is None:
        pytest.skip(f"{app.mode} mode: the admin could not register a model folder (local paths are off)")
    before = app.snapshot()
    model_dir = app.work / "model-embed"
    for user in ("creator", "labeler", "outsider"):
        with app.client(user) as c:
            for mid in (str(o.model), f"{o.model}.0", f"+{o.model}"):
                chk.refused(c.delete(f"/api/v1/models/{mid}"), user, (403, 404) if mid == str(o.model) else ())
            answers = []
            for source in ("/etc", str(model_dir), f"/nonexistent-{o.marker}", str(app.data_dir)):
                r = c.post("/api/v1/models", json={"source": source, "name": f"probe-{user}", "version": "9"})
                chk.refused(r, user, (403,))
                answers.append((r.status_code, r.json().get("error", {}).get("message", "")))
            chk.check(len(set(answers)) == 1, f"POST /models answers differ by folder (a probe) as {user}: {answers}")
    with app.client("admin") as admin:
        chk.check(o.model in [m["id"] for m in api(admin, "GET", "/api/v1/models")], "the model was deleted")
    unchanged(app, before, chk)
    chk.done()
