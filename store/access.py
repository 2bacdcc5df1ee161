"""Who may do what (SPEC F6.2, F6.3, F5.10): the one access model of the product.

Every store function that reads or changes a job, a sample (or its file), a dataset, a model,
a user or a server path asks this module, with the acting user, whoever calls it (REST route,
Gradio handler, CLI, background run). The edges keep no rules of their own: they may ask the
same functions early to answer 404/403 fast.

Actors
- a user name (a session's user): their own jobs and datasets, their roles on team jobs;
- an admin (``users.is_admin``): everything;
- ``LOCAL_USER`` in single-user mode (no users configured): everything, on the machine it runs on;
- a system actor (``SYSTEM_ACTORS``: the CLI, the users file, the sign-in flow, background work):
  the machine's user, who may read the DuckDB file anyway. Their names are reserved: no account
  may take one. ``None`` is a system actor too (internal calls); edges never pass None.

Roles on a job: ``owner`` (its creator, an admin, single-user mode), ``manager``, ``reviewer``,
``labeler`` (team members, by their user's email). A job one has no role on does not exist for
them (NotFound, 404). An action the role does not allow is Forbidden (403).

Server paths and buckets are an admin's (and the CLI's), inside configured roots:
``LABELPORT_IMPORT_ROOTS`` (folders datasets may be read from, ``:``-separated),
``LABELPORT_EXPORT_ROOT`` (the folder exports to a server path are written under) and
``LABELPORT_S3_ALLOW`` (``bucket`` or ``bucket/prefix`` entries, comma-separated). The app's own
data folder and the mirror's bucket prefix are never a source.
"""
from __future__ import annotations

import functools
import os
import re
from contextvars import ContextVar
from pathlib import Path

from .core import LOCAL_USER, Store
from .errors import Forbidden, NotFound, StoreError, ValidationError

SYSTEM_ACTORS = frozenset({"cli", "system", "users-file", "oauth", "autolabel"})
RESERVED_NAMES = SYSTEM_ACTORS | {LOCAL_USER}
ROLE_TITLES = {"owner": "the job's creator", "manager": "Team Manager", "reviewer": "Reviewer",
               "labeler": "Labeler"}

# What each action on a job needs (the owner may always). "view": know the job exists and read its
# label set, instructions and totals (samples per status and per label); "read": the job's whole sample list, statistics, exports by download;
# "label": write the job's own labels (team members label their assignments instead); "manage":
# modify, delete, copy, members, imports, acceptance; "review"/"assign": the team flow.
JOB_ACTIONS: dict[str, tuple[str, ...]] = {
    "view": ("labeler", "reviewer", "manager"),
    "read": ("reviewer", "manager"),
    "review": ("reviewer", "manager"),
    "assign": ("manager",),
    "label": (),
    "manage": (),
    "accept": (),
}

_ID = re.compile(r"[1-9][0-9]{0,18}")
MAX_ID = 2**63 - 1


def parse_id(raw, what: str = "id") -> int:
    """An id from outside, strictly: digits only, no sign, no leading zeros, no spaces, no
    decimals, 1..2**63-1. Every edge parses ids here, once, before anything else sees them."""
    if isinstance(raw, bool):
        raise ValidationError(f"{what} must be a whole number")
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, float) and raw.is_integer():
        value = int(raw)  # gradio's Number component hands floats over
    elif isinstance(raw, str) and _ID.fullmatch(raw):
        value = int(raw)
    else:
        raise ValidationError(f"{what} must be a whole number written with digits only, "
                              f"got {str(raw)[:40]!r}")
    if not 1 <= value <= MAX_ID:
        raise ValidationError(f"{what} must be between 1 and {MAX_ID}")
    return value


def parse_ids(raw, what: str = "id") -> list[int]:
    if raw is None:
        return []
    if isinstance(raw, (str, int, float)):
        raw = [raw]
    return [parse_id(r, what) for r in raw]


# -- actors ------------------------------------------------------------------------------------------
def is_system(actor: str | None) -> bool:
    return actor is None or actor in SYSTEM_ACTORS


def users_configured(store: Store) -> bool:
    """Are there users at all (else the app runs single-user)? Cached in the store (AuthCache);
    store/users.py drops the answer when it adds or deletes a user."""
    auth = store.caches.auth
    if auth.configured is None:
        auth.configured = bool(store.db.scalar("SELECT count(*) FROM users"))
    return auth.configured


def is_admin(store: Store, actor: str | None) -> bool:
    """System actors, the local user in single-user mode and configured admins."""
    if is_system(actor):
        return True
    if not users_configured(store):
        return True
    admins = store.caches.auth.admins  # dropped by store/users.py with every change to an account
    answer = admins.get(actor)
    if answer is None:
        answer = bool(store.db.scalar("SELECT is_admin AND NOT disabled FROM users WHERE username = ?", [actor]))
        if len(admins) < 10_000:
            admins[actor] = answer
    return answer


def require_admin(store: Store, actor: str | None, what: str = "this") -> None:
    if not is_admin(store, actor):
        raise Forbidden(f"{what} is an admin's action")


# -- jobs --------------------------------------------------------------------------------------------
def job_role(store: Store, job_id: int, actor: str | None) -> str | None:
    """The actor's role on the job (None: none); NotFound when the job does not exist."""
    return job_role_and_email(store, job_id, actor)[0]


_ROLES_READ: ContextVar[dict | None] = ContextVar("labelport_roles_read", default=None)


def reads_only(fn):
    """For a page's view (a read-only stretch of one event): a user's role on a job is read from
    the store once, however many store functions ask (a labeling page's view asked 9 times, each
    a query). Nothing that changes a role may run inside; each call starts afresh."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        token = _ROLES_READ.set({})
        try:
            return fn(*args, **kwargs)
        finally:
            _ROLES_READ.reset(token)
    return wrapper


def job_role_and_email(store: Store, job_id: int, actor: str | None) -> tuple[str | None, str | None]:
    """(role on the job, the user's email) in one query; NotFound when the job does not exist."""
    read = _ROLES_READ.get()
    if read is None:
        return _job_role(store, job_id, actor)[:2]
    key = (id(store), job_id, actor)
    if key not in read:
        read[key] = _job_role(store, job_id, actor)[:2]
    return read[key]


def _job_role(store: Store, job_id: int, actor: str | None, columns: str = "") -> tuple:
    """(role, email, the job's ``columns`` of ``jobs j`` as a tuple) in one query."""
    extra = f", {columns}" if columns else ""
    r = store.db.fetchone(
        "SELECT j.created_by, u.email, coalesce(u.is_admin AND NOT u.disabled, false), m.role, "
        f"coalesce(u.disabled, false){extra} FROM jobs j "
        "LEFT JOIN users u ON u.username = ? LEFT JOIN job_members m ON m.job_id = j.id AND m.email = u.email "
        "WHERE j.id = ?", [actor, job_id])
    if not r:
        raise NotFound(f"job {job_id} not found")
    created_by, email, admin, role, disabled = r[:5]
    if is_system(actor) or not users_configured(store):
        role = "owner"
    elif disabled:
        role = None
    elif admin or (actor and created_by == actor):
        role = "owner"
    elif not email:
        role = None
    return role, email, tuple(r[5:])


def require_job(store: Store, actor: str | None, job_id, action: str = "read") -> str:
    """The actor's role on the job when it allows ``action`` (see JOB_ACTIONS); NotFound when the
    actor has no role on it (the job does not exist for them), Forbidden when the role does not
    allow the action."""
    job_id = parse_id(job_id, "job id")
    if action not in JOB_ACTIONS:
        raise ValueError(f"unknown job action {action!r}")
    role = job_role(store, job_id, actor)
    return check_role(job_id, role, JOB_ACTIONS[action])


def require_job_row(store: Store, actor: str | None, job_id, action: str, columns: str) -> tuple:
    """require_job, and the job's row (``columns``, of ``jobs j``) read by the same query: a
    save asks once, not twice (store/jobs.py get_job)."""
    job_id = parse_id(job_id, "job id")
    if action not in JOB_ACTIONS:
        raise ValueError(f"unknown job action {action!r}")
    if is_admin(store, actor):  # the system, single-user mode, an admin (cached): the owner's role, no join
        row = store.db.fetchone(f"SELECT {columns} FROM jobs j WHERE j.id = ?", [job_id])
        if row is None:
            raise NotFound(f"job {job_id} not found (it may have been deleted)")
        return tuple(row)
    role, _, row = _job_role(store, job_id, actor, columns)
    check_role(job_id, role, JOB_ACTIONS[action])
    return row


def check_role(job_id: int, role: str | None, roles: tuple[str, ...]) -> str:
    if role is None:
        raise NotFound(f"job {job_id} not found")
    if role != "owner" and role not in roles:
        need = " or ".join(ROLE_TITLES[r] for r in roles) or "the job's creator"
        raise Forbidden(f"this needs {need}; you are {ROLE_TITLES.get(role, role)} on this job")
    return role


def visible_job_ids(store: Store, actor: str | None) -> set[int] | None:
    """Jobs the actor may see; None = all of them (admin, single-user, system)."""
    if is_admin(store, actor):
        return None
    if store.db.scalar("SELECT disabled FROM users WHERE username = ?", [actor]):
        return set()
    rows = store.db.fetchall(
        "SELECT id FROM jobs WHERE created_by = ? UNION SELECT m.job_id FROM job_members m "
        "JOIN users u ON u.email = m.email WHERE u.username = ?", [actor, actor])
    return {r[0] for r in rows}


def owned_job_ids(store: Store, actor: str | None) -> set[int] | None:
    """Jobs the actor owns (may label and manage); None = all of them."""
    if is_admin(store, actor):
        return None
    return {r[0] for r in store.db.fetchall("SELECT id FROM jobs WHERE created_by = ?", [actor])}


def may_handle_trash(store: Store, actor: str | None, kind: str, job_id: int, job_owner: str | None) -> bool:
    """The trash belongs to whoever could delete (issue 20): a deleted job to admins and its
    owner; samples deleted from a job to whoever may manage that job now."""
    if is_admin(store, actor):
        return True
    if kind == "job":
        return actor is not None and actor == job_owner and \
            not store.db.scalar("SELECT disabled FROM users WHERE username = ?", [actor])
    try:
        require_job(store, actor, job_id, "manage")
    except StoreError:
        return False
    return True


# -- samples and their files -------------------------------------------------------------------------
def require_sample_in_job(store: Store, job_id: int, sample_id) -> int:
    sample_id = parse_id(sample_id, "sample id")
    if not store.db.fetchone("SELECT 1 FROM job_samples WHERE job_id = ? AND sample_id = ?", [job_id, sample_id]):
        raise NotFound(f"sample {sample_id} is not in job {job_id}")
    return sample_id


def can_read_sample(store: Store, sample_id: int, actor: str | None) -> bool:
    """A sample's file (and thumbnail, display image, crop, frames, peaks) may be read by who may
    read a job holding it, and by team members the sample is assigned to (or their job's
    reviewers and managers)."""
    if is_admin(store, actor):
        return store.db.fetchone("SELECT 1 FROM samples WHERE id = ?", [sample_id]) is not None
    if store.db.fetchone("SELECT 1 FROM job_samples js JOIN jobs j ON j.id = js.job_id "
                         "WHERE js.sample_id = ? AND j.created_by = ?", [sample_id, actor]):
        return True
    return bool(store.db.fetchone(
        "SELECT 1 FROM users u JOIN assignments a ON a.sample_id = ? "
        "JOIN job_members m ON m.job_id = a.job_id AND m.email = u.email "
        "JOIN job_samples js ON js.job_id = a.job_id AND js.sample_id = a.sample_id "
        "WHERE u.username = ? AND NOT u.disabled AND (a.email = u.email OR m.role IN ('reviewer', 'manager'))",
        [sample_id, actor]))


def require_sample_file(store: Store, actor: str | None, sample_id) -> int:
    sample_id = parse_id(sample_id, "sample id")
    if not can_read_sample(store, sample_id, actor):
        raise NotFound(f"sample {sample_id} not found")
    return sample_id


# -- datasets ----------------------------------------------------------------------------------------
def visible_dataset_ids(store: Store, actor: str | None) -> set[int] | None:
    """Datasets the actor may build a job on: their own; None = all (admin)."""
    if is_admin(store, actor):
        return None
    return {r[0] for r in store.db.fetchall("SELECT id FROM datasets WHERE created_by = ?", [actor])}


def require_dataset(store: Store, actor: str | None, dataset_id) -> int:
    dataset_id = parse_id(dataset_id, "dataset id")
    visible = visible_dataset_ids(store, actor)
    if visible is not None and dataset_id not in visible:
        raise NotFound(f"dataset {dataset_id} not found")
    return dataset_id


# -- models ------------------------------------------------------------------------------------------
def require_model_manage(store: Store, actor: str | None, created_by: str | None) -> None:
    """Registering a model reads a server folder or a hub id: an admin's; deleting one is an
    admin's or its owner's."""
    if is_admin(store, actor) or (created_by is not None and created_by == actor):
        return
    raise Forbidden("deleting a model is for an admin or the user who registered it")


# -- teams -------------------------------------------------------------------------------------------
def require_team_owner(store: Store, team_id: int, username: str | None, read: bool = False):
    """Only a team's owner (or an admin; everyone in single-user mode) manages the team. With
    `read`, the team's members may see it too. Anyone else: the team does not exist for them
    (NotFound); a member trying to manage it: Forbidden. `username` None is the system (no check)."""
    from .teams import get_team

    team = get_team(store, team_id)
    if username is None or team.owner == username or is_admin(store, username):
        return team
    email = store.db.scalar("SELECT email FROM users WHERE username = ?", [username])
    member = bool(email and store.db.fetchone("SELECT 1 FROM team_members WHERE team_id = ? AND email = ?",
                                              [team_id, email]))
    if not member:
        raise NotFound(f"team {team_id} does not exist")
    if read:
        return team
    raise Forbidden("only the team's owner manages the team")


# -- server paths and buckets ------------------------------------------------------------------------
def _roots(value: str) -> list[Path]:
    return [Path(p).expanduser().resolve() for p in value.split(os.pathsep) if p.strip()]


def import_roots(store: Store) -> list[Path] | None:
    """Folders of the server that datasets may be read from; None: any folder (an admin's)."""
    value = store.settings.extra.get("import_roots") or os.environ.get("LABELPORT_IMPORT_ROOTS", "")
    return _roots(value) or None


def export_root(store: Store) -> Path | None:
    value = store.settings.extra.get("export_root") or os.environ.get("LABELPORT_EXPORT_ROOT", "")
    roots = _roots(value)
    return roots[0] if roots else None


def s3_allow(store: Store) -> list[tuple[str, str]] | None:
    """(bucket, prefix) pairs that may be sources; None: any bucket (an admin's)."""
    value = store.settings.extra.get("s3_allow") or os.environ.get("LABELPORT_S3_ALLOW", "")
    out = []
    for item in value.split(","):
        item = item.strip().removeprefix("s3://").strip("/")
        if item:
            bucket, _, prefix = item.partition("/")
            out.append((bucket, prefix))
    return out or None


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


PRIVATE_NAMES = (".duckdb", ".wal", "admin.token")


def _never_a_source(store: Store, path: Path) -> bool:
    """The app's own files are never read as a source through a path: the DuckDB file and the
    data folder around it (sessions, tokens, caches). Its object storage folder is the one part
    an admin may name (a published version's manifest, say); users reach it through datasets."""
    data = Path(store.settings.data_dir).expanduser().resolve()
    db = Path(store.settings.database).expanduser().resolve()
    objects = Path(store.settings.objects_root).expanduser().resolve()
    if path == db or path.name.endswith(PRIVATE_NAMES):
        return True
    return _inside(path, data) and not _inside(path, objects)


def check_server_path(store: Store, actor: str | None, path: str, purpose: str = "read") -> Path:
    """A folder or file of the server's disk named by a user: an admin's (or the CLI's), inside
    the configured roots, never the app's own data. Returns the resolved path."""
    require_admin(store, actor, "reading a folder of the server" if purpose == "read" else "writing to the server")
    store.locations.check_local_allowed(path)
    p = Path(str(path)).expanduser()
    if not p.is_absolute():
        p = p.absolute()
    real = p.resolve()
    if purpose == "read":
        if _never_a_source(store, real):
            raise Forbidden(f"{path}: the app's own data folder is never a dataset source")
        roots = import_roots(store)
        if roots is not None and not any(_inside(real, r) for r in roots):
            raise Forbidden(f"{path} is outside the import roots (LABELPORT_IMPORT_ROOTS)")
    else:
        root = export_root(store)
        if root is not None and not _inside(real, root):
            raise Forbidden(f"{path} is outside the export root (LABELPORT_EXPORT_ROOT={root})")
        if _never_a_source(store, real) and not is_system(actor):
            raise Forbidden(f"{path}: exports are not written into the app's own data folder")
    return real


def check_s3_source(store: Store, actor: str | None, url: str) -> None:
    """An s3:// source is read with the server's own credentials: an admin's, in an allowed bucket
    or prefix, never the mirror's prefix."""
    from .objects import parse_s3_url

    require_admin(store, actor, "reading an s3:// bucket with the server's credentials")
    bucket, key = parse_s3_url(url)
    mirror = store.settings.mirror
    if mirror:
        mb, mp = parse_s3_url(mirror if mirror.endswith("/") else mirror + "/")
        if bucket == mb and (not mp or key.startswith(mp) or mp.startswith(key)):
            raise Forbidden(f"s3://{bucket}/{mp}: the store's mirror is never a dataset source")
    allow = s3_allow(store)
    if allow is not None and not any(bucket == b and (not p or key.startswith(p.rstrip("/") + "/") or key == p)
                                     for b, p in allow):
        raise Forbidden(f"s3://{bucket}/{key} is not in the allowed buckets (LABELPORT_S3_ALLOW)")


def check_source_uri(store: Store, actor: str | None, uri: str) -> None:
    """A sample or dataset source named by a user: store:// keys of the app's storage go through
    their dataset; s3:// and server paths are checked as above."""
    if uri.startswith("store://"):
        return
    if uri.startswith("s3://"):
        check_s3_source(store, actor, uri)
    else:
        check_server_path(store, actor, uri.removeprefix("file://").split("#", 1)[0], "read")


def check_export_target(store: Store, actor: str | None, out: str | Path) -> Path:
    """An export written to the server: an admin's, inside LABELPORT_EXPORT_ROOT when set, never
    over an existing file (a new path, or an empty folder)."""
    real = check_server_path(store, actor, str(out), "write")
    if real.is_symlink() or Path(str(out)).expanduser().is_symlink():
        raise ValidationError(f"{out} is a symbolic link: export to a new path")
    if real.exists() and not real.is_dir():
        raise ValidationError(f"{out} exists already: an export never overwrites a file; give a new path")
    return real  # a folder: the format's writer wants it new or empty (or refuses: it writes a file)


def refused_sources(store: Store, actor: str | None, uris: list[str], dataset_id: int | None = None
                    ) -> dict[str, str]:
    """Of the files an import names, those the actor may not register, with the reason: the app's
    own files of the job's dataset (store://datasets/<its id>/...) for its owner; anything else
    (other datasets' files, server paths, s3:// URLs) needs an admin, inside the roots (asked once
    per folder or bucket prefix, not once per file: an import names hundreds of thousands)."""
    admin = is_admin(store, actor)
    own = f"store://datasets/{dataset_id}/"
    refused: dict[str, str] = {}
    if not admin:
        for u in uris:
            if u.startswith("store://") and not (dataset_id is not None and u.startswith(own)
                                                 and "/../" not in u):
                refused[u] = "the file belongs to another dataset"
    outside = [u for u in uris if not u.startswith(("store://", "content://"))]
    if not outside:
        return refused
    if not admin:
        refused.update({u: "files outside the app's storage (server paths, s3:// URLs) are an admin's to import"
                        for u in outside})
        return refused
    verdicts: dict[str, str | None] = {}
    for uri in outside:
        base = uri.split("#", 1)[0]
        folder = base.rsplit("/", 1)[0] + "/"
        if base.endswith(PRIVATE_NAMES):
            refused[uri] = "the app's own database is never a sample"
            continue
        if folder not in verdicts:
            try:
                check_source_uri(store, actor, folder if base.startswith("s3://") else folder.rstrip("/") or "/")
                verdicts[folder] = None
            except (Forbidden, ValidationError) as e:
                verdicts[folder] = str(e)
        if verdicts[folder]:
            refused[uri] = verdicts[folder]
    return refused


def deletable_source(store: Store, actor: str | None, uri: str, dataset_id: int) -> str | None:
    """Why a sample's file may not be deleted with it (None: it may). Files, never folders; the
    app's own files of the sample's dataset (``store://datasets/<its id>/...``) for the job's owner;
    files elsewhere (server paths, s3://, other datasets' keys) only for an admin."""
    base = uri.split("#", 1)[0]
    if "#" in uri:
        return "a text record lives in a shared file: remove the sample, the file stays"
    if uri.startswith("store://"):
        key = base[len("store://"):]
        if key.startswith(f"datasets/{dataset_id}/") and ".." not in key.split("/"):
            return None
        return None if is_admin(store, actor) else "the file belongs to another dataset"
    return None if is_admin(store, actor) else "files outside the app's storage are deleted by an admin only"


def member_roles(store: Store, actor: str | None) -> set[str]:
    """The roles the actor holds on any team job (labeler, reviewer, manager): which team pages
    the UI shows them."""
    if is_system(actor):
        return set()
    return {r[0] for r in store.db.fetchall(
        "SELECT DISTINCT m.role FROM job_members m JOIN users u ON u.email = m.email "
        "WHERE u.username = ? AND NOT u.disabled", [actor])}
