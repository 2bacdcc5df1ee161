"""The one access model (store/access.py, SPEC F6.2/F6.3/F5.10) at the store level: every store
function that reads or changes a job, sample, dataset, model or server path asks it with the
acting user, whoever calls. A real DuckDB store; real users (Argon2 hashes)."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from store import access
from store.annotations import apply_labels, set_annotation
from store.datasets import list_datasets
from store.errors import Forbidden, NotFound, ValidationError
from store.exports import export_job
from store.imports import ImportItem, import_items, import_location, upload_files
from store.jobs import copy_job, create_job, delete_job, list_jobs, modify_job
from store.labelset import parse_labels_argument
from store.samples import delete_samples
from store.team_jobs import make_team_job, my_samples
from store.teams import add_members, create_team
from store.users import add_user, hash_password

HASH = hash_password("password123")


def png(seed: int) -> bytes:
    import io

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (seed * 40 % 256, 10, 10)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def world(store):
    """admin, a creator with a team job (labeler, reviewer), an outsider."""
    for name, admin in (("admin", True), ("creator", False), ("lab", False), ("rev", False), ("outsider", False)):
        add_user(store, name, f"{name}@example.org", password_hash=HASH, is_admin=admin, actor="cli")
    job = create_job(store, "team-job", "image_classification", label_set=parse_labels_argument("a,b"),
                     actor="creator")
    upload_files(store, job.id, [(f"p{i}.png", png(i)) for i in range(4)], actor="creator")
    team = create_team(store, "crew", owner="creator")
    add_members(store, team.id, [("lab@example.org", "", "labeler"), ("rev@example.org", "", "reviewer")],
                actor="creator")
    make_team_job(store, job.id, team.id, labelers=["lab@example.org"], reviewers=["rev@example.org"],
                  actor="creator", seed=1)
    ids = [r[0] for r in store.db.fetchall("SELECT sample_id FROM job_samples WHERE job_id = ? ORDER BY 1", [job.id])]
    return store, job, ids


@pytest.mark.parametrize("raw", ["1.0", "+1", " 1", "1 ", "01", "0000000000000000001", "1e0", "0x1", "-1", "",
                                 "１", "١", "99999999999999999999", "0", None, True, 1.5, "1/", "1%00"])
def test_ids_are_parsed_strictly(raw):
    with pytest.raises(ValidationError):
        access.parse_id(raw)


def test_canonical_ids_parse():
    assert access.parse_id("1") == 1 and access.parse_id(42) == 42 and access.parse_id(7.0) == 7
    assert access.parse_id(str(2**63 - 1)) == 2**63 - 1


def test_roles_and_actions_on_a_team_job(world):
    store, job, _ = world
    assert access.require_job(store, "creator", job.id, "manage") == "owner"
    assert access.require_job(store, "admin", job.id, "manage") == "owner"
    assert access.require_job(store, "lab", job.id, "view") == "labeler"
    assert access.require_job(store, "rev", job.id, "read") == "reviewer"
    for action in ("read", "label", "manage", "review"):
        with pytest.raises(Forbidden):
            access.require_job(store, "lab", job.id, action)
    for action in ("label", "manage", "accept"):
        with pytest.raises(Forbidden):
            access.require_job(store, "rev", job.id, action)
    for action in ("view", "read", "label", "manage"):
        with pytest.raises(NotFound):  # a job one is not part of does not exist for them
            access.require_job(store, "outsider", job.id, action)
    with pytest.raises(ValidationError):
        access.require_job(store, "creator", f"{job.id}.0", "read")


def test_store_writes_ask_the_rule_whoever_calls(world):
    store, job, ids = world
    for who, error in (("lab", Forbidden), ("rev", Forbidden), ("outsider", NotFound)):
        with pytest.raises(error):
            apply_labels(store, job.id, ids[:1], ["a"], actor=who)
        with pytest.raises(error):
            set_annotation(store, job.id, ids[0], {"labels": ["a"]}, actor=who)
        with pytest.raises(error):
            delete_samples(store, job.id, ids[:1], actor=who)
        with pytest.raises(error):
            modify_job(store, job.id, name="mine", actor=who)
        with pytest.raises(error):
            copy_job(store, job.id, actor=who)
        with pytest.raises(error):
            delete_job(store, job.id, actor=who)
    assert store.db.scalar("SELECT count(*) FROM job_samples WHERE job_id = ? AND status = 'labeled'", [job.id]) == 0
    assert [j.name for j in list_jobs(store, actor="outsider")] == []
    assert [j.name for j in list_jobs(store, actor="lab")] == ["team-job"]  # visible (My Participations)
    assert apply_labels(store, job.id, ids[:1], ["a"], actor="creator") == 1


def _reads(store, job_id: int, sample_id: int):
    """Every store read of a job's contents, as (name, call(actor))."""
    from store import annotations, imports, predictions, review, runs, samples, stats, team_jobs, versions
    from store.jobs import get_job

    q = samples.SampleQuery()
    extra = {samples.query_samples: (q,), samples.page_sample_ids: (q,), samples.get_sample: (sample_id,),
             review.shapes_of_label: ("a",)}
    fns = [samples.query_samples, samples.page_sample_ids, samples.get_sample, samples.counts,
           samples.status_counts, samples.label_counts, samples.labelers, samples.clusters,
           annotations.label_usage, stats.job_stats, imports.list_imports, versions.list_versions, runs.list_runs,
           runs.active_run, predictions.confidence_histogram, predictions.run_samples, review.shapes_of_label,
           team_jobs.annotator_stats, team_jobs.agreement, get_job, team_jobs.get_team_job,
           team_jobs.current_acceptance]
    return [(fn.__name__, lambda a, fn=fn: fn(store, job_id, *extra.get(fn, ()), actor=a)) for fn in fns]


def test_store_reads_ask_the_rule_whoever_calls(world):
    """Reads take the actor too: an outsider finds nothing, a labeler reads only what "view"
    allows (the job, its label set, its totals and its team settings), the reviewer the rest but
    acceptance."""
    store, job, ids = world
    view_only = {"get_job", "get_team_job", "counts", "status_counts", "label_counts", "label_usage"}

    def allowed(name, call, *who):
        for actor in who:
            if name == "shapes_of_label":  # allowed; then quick review refuses an image classification job
                with pytest.raises(ValidationError, match="quick review is for"):
                    call(actor)
            else:
                call(actor)

    reads = _reads(store, job.id, ids[0])
    assert len(reads) == 22
    for name, call in reads:
        with pytest.raises(NotFound):
            call("outsider")
        allowed(name, call, "creator", "admin", None)  # the owner, an admin, the system
        if name in view_only:
            allowed(name, call, "lab", "rev")
        elif name == "current_acceptance":
            for who in ("lab", "rev"):
                with pytest.raises(Forbidden):
                    call(who)
        else:
            with pytest.raises(Forbidden):
                call("lab")
            allowed(name, call, "rev")


def test_sample_file_reads_ask_the_rule(world):
    from store import samples

    store, job, ids = world
    for fn in (samples.sample_thumbnail, samples.sample_bytes, samples.sample_display, samples.sample_size,
               samples.get_sample_uri):
        with pytest.raises(NotFound):
            fn(store, ids[0], actor="outsider")
        assert fn(store, ids[0], actor="creator")
    with pytest.raises(NotFound):
        samples.sample_crop(store, ids[0], (0, 0, 4, 4), actor="outsider")
    for call in (lambda a: samples.sample_outline(store, ids[0], [[1, 0], [2, 1], [1, 2], [0, 1]], actor=a),
                 lambda a: samples.sample_segment(store, ids[0], [[1, 1]], actor=a),  # no SAM model: 422 for the creator
                 lambda a: samples.segment_tools(store, ids[0], actor=a)):
        with pytest.raises(NotFound):
            call("outsider")
    assert samples.segment_tools(store, ids[0], actor="lab")["sam"] is False  # the labeler it is assigned to
    with pytest.raises(ValidationError, match="needs a SAM model"):
        samples.sample_segment(store, ids[0], [[1, 1]], actor="creator")


# Store functions on a job, sample, team, run or version that take no actor, and why: internal steps
# of work that an entry point already allowed (a run's progress, an import's record), or helpers of
# functions that ask the rule themselves. A new public function on those ids must take the actor or
# be named here with its reason.
NO_ACTOR = {
    "access.require_sample_in_job": "a part of the rule itself",
    "audio.open_audio": "opens the file for waveform_peaks/segment_audio_bytes/detect_speech, which ask",
    "video.open_video": "opens the file for video_frame, which asks",
    "datasets.get_dataset": "internal: edges ask require_dataset",
    "datasets.register_samples": "inside imports that asked require_job(..., 'manage')",
    "events.list_events": "internal: the audit log, read by statistics after job_stats asked",
    "history.history_size": "internal: the figures of job_stats and history_overview, which ask",
    "import_records.finish_import": "closes the record an allowed import opened",
    "models.get_model": "the model registry is readable by every signed-in user (SPEC F4.1)",
    "predictions.flag_hard_examples": "written by a run that start_run allowed",
    "runs.check_preconditions": "part of start_run, which asks",
    "runs.update_progress": "written by a run that start_run allowed",
    "runs.cancel_requested": "read by a run that start_run allowed",
    "runs.finish_run": "written by a run that start_run allowed",
    "samples.set_cluster": "written by auto grouping that start_run allowed",
    "team_jobs.assign_new_samples": "after an import that asked require_job(..., 'manage')",
    "team_jobs.get_assignment": "its callers (save_my_annotation, review_sample) ask with the user",
    "team_jobs.get_acceptance": "its callers (acceptance_items, decide, finish) ask with the user",
    "versions.read_version_data": "takes a Version that get_version returned to an allowed actor",
    "versions.version_samples": "takes a Version that get_version returned to an allowed actor",
}
ID_PARAMS = {"job_id", "sample_id", "dataset_id", "run_id", "model_id", "acceptance_id", "version", "record",
             "team_id"}


def test_every_store_function_on_an_object_takes_the_actor():
    import importlib
    import inspect
    import pkgutil

    import store as store_pkg

    missing, named = [], set()
    for info in pkgutil.iter_modules(store_pkg.__path__):
        mod = importlib.import_module(f"store.{info.name}")
        for name, fn in vars(mod).items():
            if name.startswith("_") or not inspect.isfunction(fn) or fn.__module__ != mod.__name__:
                continue
            params = list(inspect.signature(fn).parameters)
            if len(params) < 2 or params[0] != "store" or params[1] not in ID_PARAMS:
                continue
            key = f"{info.name}.{name}"
            if {"actor", "username"} & set(params):
                continue
            named.add(key)
            if key not in NO_ACTOR:
                missing.append(key)
    assert not missing, f"these store functions take no actor (add it, or say why in NO_ACTOR): {missing}"
    assert set(NO_ACTOR) <= named, f"NO_ACTOR names functions that take an actor now: {set(NO_ACTOR) - named}"


ENTRY_POINTS = ("pages", "api", "server.py", "ui.py", "auth.py", "invite.py")


def store_functions_named_in(tree) -> dict:
    """name as called (f or module.f) -> the store function, from a file's `from store... import`."""
    import ast
    import importlib
    import inspect

    names = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "store"):
            continue
        mod = importlib.import_module(node.module)
        for alias in node.names:
            obj, as_name = getattr(mod, alias.name, None), alias.asname or alias.name
            if inspect.isfunction(obj):
                names[as_name] = obj
            elif inspect.ismodule(obj):
                names.update({f"{as_name}.{n}": f for n, f in vars(obj).items() if inspect.isfunction(f)})
    return names


def test_every_entry_point_passes_the_user_to_the_store():
    """A store function that takes the actor is given one by every page, route and handler (None
    would be the system: no check at all). Found by reading the code, so a new call is covered."""
    import ast
    import inspect

    root = Path(__file__).resolve().parent.parent
    files = [f for e in ENTRY_POINTS for f in ((root / e).rglob("*.py") if (root / e).is_dir() else [root / e])]
    missing = []
    for f in files:
        tree = ast.parse(f.read_text(encoding="utf-8"))
        names = store_functions_named_in(tree)
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            fn = names.get(ast.unparse(call.func))
            params = list(inspect.signature(fn).parameters) if fn else []
            if "actor" not in params:
                continue
            if (len(call.args) > params.index("actor") or any(k.arg in ("actor", None) for k in call.keywords)
                    or any(isinstance(a, ast.Starred) for a in call.args)):
                continue
            missing.append(f"{f.relative_to(root)}:{call.lineno} {ast.unparse(call.func)}()")
    assert len(files) > 20 and not missing, f"store calls without the user: {missing}"


def test_sample_files_follow_the_job(world):
    store, job, ids = world
    mine = {a.sample_id for a in my_samples(store, job.id, "lab", page_size=100)[0]}
    assert mine == set(ids)
    assert access.can_read_sample(store, ids[0], "creator") and access.can_read_sample(store, ids[0], "admin")
    assert access.can_read_sample(store, ids[0], "lab") and access.can_read_sample(store, ids[0], "rev")
    assert not access.can_read_sample(store, ids[0], "outsider")
    with pytest.raises(NotFound):
        access.require_sample_file(store, "outsider", ids[0])
    with pytest.raises(ValidationError):
        access.require_sample_file(store, "creator", f"+{ids[0]}")


def test_deleting_a_sample_removes_its_team_work(world):
    store, job, ids = world
    delete_samples(store, job.id, ids[:1], actor="creator")
    assert ids[0] not in {a.sample_id for a in my_samples(store, job.id, "lab", page_size=100)[0]}
    assert not store.db.fetchone("SELECT 1 FROM assignments WHERE sample_id = ?", [ids[0]])
    assert not access.can_read_sample(store, ids[0], "lab")


def test_datasets_have_owners(world):
    store, job, _ = world
    assert [d.id for d in list_datasets(store, actor="outsider")] == []
    assert [d.id for d in list_datasets(store, actor="creator")] == [job.dataset_id]
    with pytest.raises(NotFound):
        create_job(store, "steal", "image_classification", dataset_id=job.dataset_id, actor="outsider")
    assert create_job(store, "again", "image_classification", dataset_id=job.dataset_id, actor="admin").id


def test_server_paths_and_buckets_are_an_admins(world, tmp_path, monkeypatch):
    store, job, _ = world
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "x.png").write_bytes(png(1))
    for source in (str(folder), "/etc", "s3://some-bucket/prefix/"):
        with pytest.raises(Forbidden):
            create_job(store, None, "image_classification", source=source, actor="creator")
        with pytest.raises(Forbidden):
            import_location(store, job.id, source, actor="creator")
    with pytest.raises(Forbidden):  # the app's own data folder: never a source, even for an admin
        create_job(store, None, "image_classification", source=str(store.settings.data_dir), actor="admin")
    monkeypatch.setenv("LABELPORT_IMPORT_ROOTS", str(tmp_path / "elsewhere"))
    with pytest.raises(Forbidden, match="import roots"):
        create_job(store, None, "image_classification", source=str(folder), actor="admin")
    monkeypatch.setenv("LABELPORT_IMPORT_ROOTS", str(tmp_path))
    assert create_job(store, None, "image_classification", source=str(folder), actor="admin").id


def test_references_outside_the_store_are_refused(world):
    """References named one by one (the REST API): a refused one refuses the request, before any
    import record is written; files of another dataset are refused like server paths."""
    store, job, _ = world
    other = create_job(store, "other", "image_classification", actor="admin")
    upload_files(store, other.id, [("o.png", png(9))], actor="admin")
    other_uri = store.db.scalar("SELECT uri FROM samples WHERE dataset_id = ?", [other.dataset_id])
    for uri in ("/etc/passwd", str(store.settings.database), "s3://bucket/key.png", other_uri):
        with pytest.raises(Forbidden):
            import_items(store, job.id, [ImportItem(uri, "x")], None, "refs", actor="creator")
    with pytest.raises(Forbidden, match="database"):
        import_items(store, job.id, [ImportItem(str(store.settings.database), "db")], None, "refs", actor="admin")
    assert store.db.scalar("SELECT count(*) FROM imports WHERE path = 'refs'") == 0


def test_the_mirror_is_never_a_source(store):
    from dataclasses import replace

    store.settings = replace(store.settings, mirror="s3://mirror-bucket/lp")
    with pytest.raises(Forbidden, match="mirror"):
        access.check_s3_source(store, "cli", "s3://mirror-bucket/lp/mirror/LATEST.json")
    with pytest.raises(Forbidden, match="mirror"):
        access.check_s3_source(store, "cli", "s3://mirror-bucket/")
    access.check_s3_source(store, "cli", "s3://other-bucket/lp/")


def test_exports_to_the_server(world, tmp_path, monkeypatch):
    store, job, _ = world
    with pytest.raises(Forbidden):
        export_job(store, job.id, "manifest", tmp_path / "out.manifest", actor="creator")
    existing = tmp_path / "keep.manifest"
    existing.write_text("precious")
    with pytest.raises(ValidationError, match="never overwrites"):
        export_job(store, job.id, "manifest", existing, actor="admin")
    assert existing.read_text() == "precious"
    monkeypatch.setenv("LABELPORT_EXPORT_ROOT", str(tmp_path / "exports"))
    with pytest.raises(Forbidden, match="export root"):
        export_job(store, job.id, "manifest", tmp_path / "elsewhere.manifest", actor="admin")
    assert export_job(store, job.id, "manifest", tmp_path / "exports" / "a.manifest", actor="admin").samples == 4
    with pytest.raises(Forbidden):  # the download path of a labeler: no read right either
        export_job(store, job.id, "manifest", tmp_path / "x", actor="lab", server_path=False)


def test_delete_source_removes_own_files_never_folders(world, tmp_path):
    store, job, ids = world
    other = create_job(store, "other", "image_classification", actor="outsider")
    upload_files(store, other.id, [("o.png", png(9))], actor="outsider")
    other_key = store.db.scalar("SELECT uri FROM samples WHERE dataset_id = ?", [other.dataset_id])
    # a sample of the creator's dataset that points at another dataset's file and at a folder
    with store.db.transaction() as cur:
        cur.execute("UPDATE samples SET uri = ? WHERE id = ?", [other_key, ids[1]])
        cur.execute("UPDATE samples SET uri = ? WHERE id = ?", [f"store://datasets/{job.dataset_id}/", ids[2]])
    res = delete_samples(store, job.id, ids[:3], delete_source=True, actor="creator")
    assert res.removed == 3 and res.files_deleted == 1
    assert any("another dataset" in e for e in res.errors) and any("folder" in e for e in res.errors)
    assert store.objects.exists(other_key[len("store://"):])
    assert Path(store.objects.local_path(f"datasets/{job.dataset_id}")).is_dir()


def test_models_are_registered_by_admins(world, tmp_path):
    from autolabel.models import register_model
    from store.models import add_model, delete_model

    store, _, _ = world
    with pytest.raises(Forbidden):  # refused before the folder is even looked at
        register_model(store, str(tmp_path / "no-such-model"), actor="creator")
    m = add_model(store, "m", "some/model", "1", "image-classification", ["a"], actor="admin")
    with pytest.raises(Forbidden):
        delete_model(store, m.id, actor="outsider")
    delete_model(store, m.id, actor="admin")


def test_single_user_mode_is_open(store):
    job = create_job(store, "solo", "image_classification", actor="local")
    assert access.require_job(store, "local", job.id, "manage") == "owner"
    assert access.is_admin(store, "local")


def test_page_handlers_read_as_the_events_user(world):
    """The labeling pages' reads pass the user of the Gradio event being handled (pages/common.py's
    acting_user reads the request Gradio keeps in a context variable while a handler runs)."""
    from types import SimpleNamespace

    from gradio.context import LocalContext

    from pages.common import acting_user
    from store.samples import SampleQuery, query_samples

    store, job, _ids = world
    assert acting_user() is None  # no event: code, not a person
    token = LocalContext.request.set(SimpleNamespace(username="outsider"))
    try:
        assert acting_user() == "outsider"
        with pytest.raises(NotFound):
            query_samples(store, job.id, SampleQuery(), actor=acting_user())
        LocalContext.request.set(SimpleNamespace(username="creator"))
        assert query_samples(store, job.id, SampleQuery(), actor=acting_user()).total == 4
    finally:
        LocalContext.request.reset(token)


def test_deep_links_land_where_the_role_reaches(world):
    """pages/links.py: a link's place, as each user lands on it (issue 15)."""
    from pages.links import HOME, Link, landing, parse_link

    store, job, ids = world
    link, problem = parse_link({"job": str(job.id), "tab": "label", "sample": str(ids[1])})
    assert problem is None and link == Link(job.id, "label", ids[1])
    assert landing(store, "creator", link) == (link, None)
    assert landing(store, "admin", link) == (link, None)
    to, note = landing(store, "lab", link)  # the creator's page is not the labeler's: My Participations
    assert to == Link(job.id, "participations", ids[1]) and "My Participations" in note
    assert landing(store, "rev", Link(job.id, "", None)) == (Link(job.id, "team-review"), None)
    assert landing(store, "rev", Link(job.id, "stats")) == (Link(job.id, "stats"), None)
    for who in ("outsider", "nobody"):
        to, note = landing(store, who, link)
        assert to == HOME and "does not exist" in note
    to, note = landing(store, "creator", Link(job.id, "label", 10**9))
    assert to == Link(job.id, "label") and "not in this job" in note
    for bad in ({"job": "1.0"}, {"job": "+1"}, {"job": str(job.id), "sample": "0x1"}, {"tab": "<script>"},
                {"job": str(job.id), "tab": "../users"}):
        to, problem = parse_link(bad)
        assert to == HOME and problem and "<" not in problem, bad
    assert parse_link({}) == (HOME, None) and parse_link({"tab": "teams"}) == (Link(tab="teams"), None)
    assert Link(job.id, "label", ids[0]).query == f"job={job.id}&tab=label&sample={ids[0]}"


def test_cached_answers_follow_every_change_at_once(store, monkeypatch):
    """The admin flag is cached with the sessions and dropped with any account change; within a
    page's view (reads_only) a role is read once, and the next view reads it afresh."""
    import store.access as access
    from store.access import is_admin, reads_only, require_job
    from store.jobs import create_job
    from store.users import add_user, set_admin, set_disabled

    add_user(store, "root", "root@example.org", "a-long-password-1", is_admin=True, actor="cli")
    add_user(store, "kim", "kim@example.org", "a-long-password-1", is_admin=True, actor="cli")
    assert is_admin(store, "kim")
    set_admin(store, "kim", False, actor="root")
    assert not is_admin(store, "kim")
    set_admin(store, "kim", True, actor="root")
    set_disabled(store, "kim", True, actor="root")
    assert not is_admin(store, "kim")

    job = create_job(store, "mine", "image_classification", actor="root")
    asked = []
    real = access._job_role
    monkeypatch.setattr(access, "_job_role", lambda *a: asked.append(a) or real(*a))

    @reads_only
    def view():
        for _ in range(5):
            require_job(store, "root", job.id, "read")
        with pytest.raises(NotFound):
            require_job(store, "kim", job.id, "read")  # disabled: no role, every time

    view()
    assert len(asked) == 2
    view()
    assert len(asked) == 4  # a new view asks again
    require_job(store, "root", job.id, "read")
    require_job(store, "root", job.id, "read")
    assert len(asked) == 6  # outside a view: every time
