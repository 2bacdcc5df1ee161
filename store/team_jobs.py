"""Team labeling (F5.3-F5.10): who may see and do what on a job, assignment (even and random,
optional overlap), labeling by members, review with ratings, acceptance by sampling with a
report, finish with overwrite policy and scope, inter-annotator agreement, per-annotator
figures. Every rule is here, so the UI, the API and the tests share them (F5.10).

Roles on a job: "owner" (the creator, or an admin; single-user mode: everyone), "manager",
"reviewer", "labeler" (members, by the email of their user). A user outside the job gets
NotFound — a job one is not part of does not exist for them."""
from __future__ import annotations

import json
import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass

from .history import record as record_history
from .core import Store
from .errors import Conflict, Forbidden, NotFound, ValidationError
from .events import now, record_event
from .jobs import get_job
from .notify import queue_notification
from .teams import OPEN_STATES, ROLES, require_team_owner
from .users import is_admin, user_email, users_configured

STATES = ("unlabeled", "to_be_confirmed", "rejected", "to_be_reviewed", "approved", "accepted")
RATINGS = ("A", "B", "C", "D")
MODES = {"team": "Team", "manager": "Task Manager"}
SCOPES = {"all_pass": "All pass", "all_reject": "All reject", "remaining_pass": "All remaining pass",
          "remaining_reject": "All remaining reject"}
MAX_REASON = 1024


@dataclass(frozen=True)
class TeamJob:
    job_id: int
    team_id: int
    mode: str
    manager: str | None
    auto_assign_new: bool
    load_prelabels: bool
    overlap: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)


# -- access ------------------------------------------------------------------------------------------
# The rules live in store/access.py; these names stay for the team flow's callers.
from .access import check_role as _check_role  # noqa: E402
from .access import job_role, require_job, visible_job_ids  # noqa: E402,F401
from .access import job_role_and_email as _role_and_email  # noqa: E402


def require_role(store: Store, job_id: int, username: str | None, *roles: str) -> str:
    """The user's role on the job if it is one of `roles` (owner always passes)."""
    return _check_role(job_id, job_role(store, job_id, username), roles)


def can_see_sample(store: Store, sample_id: int, username: str | None) -> bool:
    from .access import can_read_sample

    return can_read_sample(store, sample_id, username)


# -- set up ------------------------------------------------------------------------------------------
def get_team_job(store: Store, job_id: int, actor: str | None = None) -> TeamJob | None:
    require_job(store, actor, job_id, "view")
    r = store.db.fetchone("SELECT job_id, team_id, mode, manager, auto_assign_new, load_prelabels, overlap "
                          "FROM team_jobs WHERE job_id = ?", [job_id])
    return TeamJob(*r) if r else None


def _team_roles(store: Store, team_id: int) -> dict[str, str]:
    return dict(store.db.fetchall("SELECT email, role FROM team_members WHERE team_id = ?", [team_id]))


def make_team_job(store: Store, job_id: int, team_id: int, mode: str = "team", labelers: list[str] = (),
                  reviewers: list[str] = (), manager: str | None = None, auto_assign_new: bool = False,
                  load_prelabels: bool = False, overlap: int = 1, actor: str | None = None,
                  seed: int | None = None) -> dict[str, int]:
    """Turn a job into a team labeling job (F5.3). Team mode assigns every unlabeled sample at
    once, at random and evenly, to the labelers (each to `overlap` of them); Task Manager mode
    leaves assignment to the manager. Returns samples assigned per labeler."""
    job = get_job(store, job_id)
    require_role(store, job_id, actor)
    team = require_team_owner(store, team_id, actor)  # only your own team (or an admin's any team)
    if not job.labeling_type.team_labeling:
        raise ValidationError(f"{job.labeling_type.title} jobs have no team labeling")
    if get_team_job(store, job_id):
        raise Conflict("this job is already a team labeling job")
    if mode not in MODES:
        raise ValidationError("mode is 'team' or 'manager' (Task Manager)")
    roles = _team_roles(store, team.id)
    labelers = list(dict.fromkeys(e.strip().lower() for e in labelers))
    reviewers = list(dict.fromkeys(e.strip().lower() for e in reviewers))
    for e in labelers + reviewers + ([manager.strip().lower()] if manager else []):
        if e not in roles:
            raise ValidationError(f"{e} is not a member of team {team.name}")
    if mode == "team":
        if not labelers:
            raise ValidationError("choose at least one labeler")
        if not 1 <= int(overlap) <= len(labelers):
            raise ValidationError(f"overlap (labelers per sample) lies between 1 and the {len(labelers)} labelers")
    else:
        manager = (manager or "").strip().lower()
        if not manager or roles.get(manager) != "manager":
            raise ValidationError("Task Manager mode needs the team's Team Manager")
        overlap = 1
    members = {e: "labeler" for e in labelers}
    members.update({e: "reviewer" for e in reviewers if e not in members})
    if manager:
        members[manager] = "manager"
    with store.db.transaction() as cur:
        cur.execute("INSERT INTO team_jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [job_id, team.id, mode, manager or None, bool(auto_assign_new), bool(load_prelabels),
                     int(overlap), now()])
        cur.execute("UPDATE jobs SET team_labeling = true, updated_at = ? WHERE id = ?", [now(), job_id])
        cur.executemany("INSERT INTO job_members VALUES (?, ?, ?)", [[job_id, e, r] for e, r in members.items()])
        counts: dict[str, int] = {}
        if mode == "team":
            ids = [r[0] for r in cur.execute("SELECT sample_id FROM job_samples WHERE job_id = ? AND status <> "
                                             "'labeled' ORDER BY sample_id", [job_id]).fetchall()]
            counts = _assign(cur, job_id, ids, labelers, int(overlap), bool(load_prelabels), seed)
        for e, r in members.items():
            n = counts.get(e, 0)
            what = f"{n} samples are assigned to you" if n else f"you are {ROLES[r]}"
            queue_notification(cur, e, f"Labeling job {job.name}", f"{what} in the labeling job {job.name}.",
                               job_id)
        record_event(cur, actor, "make_team_job", job_id, team=team.id, mode=mode, assigned=counts)
    return counts


def _assign(cur, job_id: int, sample_ids: list[int], labelers: list[str], overlap: int, prelabels: bool,
            seed: int | None) -> dict[str, int]:
    """Even, random assignment: samples shuffled, labelers shuffled, then dealt round robin, each
    sample to `overlap` consecutive (so distinct) labelers: counts differ by at most one."""
    rng = random.Random(seed)
    ids = list(sample_ids)
    rng.shuffle(ids)
    order = list(labelers)
    rng.shuffle(order)
    # start where the labelers with the fewest open samples are, so later batches stay even too
    load = dict(cur.execute("SELECT email, count(*) FROM assignments WHERE job_id = ? GROUP BY email",
                            [job_id]).fetchall())
    order.sort(key=lambda e: load.get(e, 0))
    rows, counts = [], Counter()
    t = now()
    pre = {}
    if prelabels and ids:
        pre = {r[0]: (list(r[1]), r[2]) for r in cur.execute(
            "SELECT sample_id, labels, annotation FROM job_samples WHERE job_id = ? AND status = 'to_be_confirmed' "
            "AND sample_id IN (SELECT unnest(?::BIGINT[]))", [job_id, ids]).fetchall()}
    k = 0
    for sid in ids:
        for _ in range(overlap):
            e = order[k % len(order)]
            k += 1
            labels, ann = pre.get(sid, ([], None))
            rows.append([job_id, sid, e, "to_be_confirmed" if ann else "unlabeled", labels, ann, t])
            counts[e] += 1
    if rows:
        cur.executemany("INSERT OR IGNORE INTO assignments (job_id, sample_id, email, state, labels, annotation, "
                        "assigned_at) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    return dict(counts)


def assign_samples(store: Store, job_id: int, sample_ids: list[int], emails: list[str], actor: str | None = None,
                   seed: int | None = None) -> dict[str, int]:
    """Task Manager (or the creator) assigns samples evenly to the chosen labelers of the job."""
    require_role(store, job_id, actor, "manager")
    tj = _team_job(store, job_id)
    emails = [e.strip().lower() for e in emails]
    members = dict(store.db.fetchall("SELECT email, role FROM job_members WHERE job_id = ?", [job_id]))
    roles = _team_roles(store, tj.team_id)
    for e in emails:
        if e not in members and e not in roles:
            raise ValidationError(f"{e} is not a member of the job's team")
    if not emails or not sample_ids:
        raise ValidationError("choose samples and at least one labeler")
    with store.db.transaction() as cur:
        for e in emails:
            if e not in members:
                cur.execute("INSERT INTO job_members VALUES (?, ?, 'labeler')", [job_id, e])
        taken = {r[0] for r in cur.execute(
            "SELECT DISTINCT sample_id FROM assignments WHERE job_id = ? AND sample_id IN (SELECT unnest(?::BIGINT[]))",
            [job_id, [int(s) for s in sample_ids]]).fetchall()}
        free = [int(s) for s in sample_ids if int(s) not in taken]
        ok = {r[0] for r in cur.execute("SELECT sample_id FROM job_samples WHERE job_id = ? AND sample_id IN "
                                        "(SELECT unnest(?::BIGINT[]))", [job_id, free]).fetchall()}
        counts = _assign(cur, job_id, [s for s in free if s in ok], emails, 1, tj.load_prelabels, seed)
        for e, n in counts.items():
            queue_notification(cur, e, f"Labeling job {get_job(store, job_id).name}",
                               f"{n} more samples are assigned to you.", job_id)
        record_event(cur, actor, "assign", job_id, assigned=counts)
    return counts


def assign_new_samples(store: Store, job_id: int) -> dict[str, int]:
    """After a synchronize: new samples go to the labelers when the job asks for it (F5.3)."""
    tj = get_team_job(store, job_id)
    if not tj or not tj.auto_assign_new:
        return {}
    with store.db.transaction() as cur:
        labelers = [r[0] for r in cur.execute("SELECT email FROM job_members WHERE job_id = ? AND role = 'labeler' "
                                              "ORDER BY email", [job_id]).fetchall()]
        if not labelers:
            return {}
        ids = [r[0] for r in cur.execute(
            "SELECT js.sample_id FROM job_samples js WHERE js.job_id = ? AND js.status <> 'labeled' AND NOT EXISTS "
            "(SELECT 1 FROM assignments a WHERE a.job_id = js.job_id AND a.sample_id = js.sample_id)",
            [job_id]).fetchall()]
        counts = _assign(cur, job_id, ids, labelers, min(tj.overlap, len(labelers)), tj.load_prelabels, None)
        record_event(cur, None, "auto_assign", job_id, assigned=counts)
    return counts


def reassign(store: Store, job_id: int, from_email: str, to_email: str, actor: str | None = None) -> int:
    """Move a member's unfinished samples to another member (then the first can be removed)."""
    require_role(store, job_id, actor, "manager")
    tj = _team_job(store, job_id)
    from_email, to_email = from_email.strip().lower(), to_email.strip().lower()
    if to_email not in _team_roles(store, tj.team_id):
        raise ValidationError(f"{to_email} is not a member of the job's team")
    with store.db.transaction() as cur:
        if not cur.execute("SELECT 1 FROM job_members WHERE job_id = ? AND email = ?", [job_id, to_email]).fetchall():
            cur.execute("INSERT INTO job_members VALUES (?, ?, 'labeler')", [job_id, to_email])
        n = cur.execute(
            "UPDATE assignments SET email = ? WHERE job_id = ? AND email = ? AND state IN (SELECT unnest(?::VARCHAR[])) "
            "AND sample_id NOT IN (SELECT sample_id FROM assignments WHERE job_id = ? AND email = ?)",
            [to_email, job_id, from_email, list(OPEN_STATES), job_id, to_email]).fetchall()[0][0]
        record_event(cur, actor, "reassign", job_id, source=from_email, target=to_email, samples=n)
    return n


def job_members(store: Store, job_id: int, actor: str | None = None) -> list[dict]:
    """Annotator management (F5.9): the job's members with their work (the creator, its Team
    Manager and Reviewers; a Labeler sees their own work in My Participations)."""
    require_role(store, job_id, actor, "manager", "reviewer")
    rows = store.db.fetchall(
        "SELECT m.email, m.role, count(a.sample_id), count(a.sample_id) FILTER (WHERE a.state IN "
        "(SELECT unnest(?::VARCHAR[]))) FROM job_members m LEFT JOIN assignments a ON a.job_id = m.job_id AND "
        "a.email = m.email WHERE m.job_id = ? GROUP BY m.email, m.role ORDER BY m.role, m.email",
        [list(OPEN_STATES), job_id])
    return [{"email": r[0], "role": r[1], "role_title": ROLES[r[1]], "assigned": r[2], "open": r[3]} for r in rows]


def add_job_member(store: Store, job_id: int, email: str, role: str, actor: str | None = None) -> None:
    require_role(store, job_id, actor, "manager")
    tj = _team_job(store, job_id)
    email = email.strip().lower()
    if email not in _team_roles(store, tj.team_id):
        raise ValidationError(f"{email} is not a member of the job's team: add them to the team first")
    if role not in ROLES:
        raise ValidationError("role is labeler, reviewer or manager")
    with store.db.transaction() as cur:
        cur.execute("INSERT OR REPLACE INTO job_members VALUES (?, ?, ?)", [job_id, email, role])
        queue_notification(cur, email, f"Labeling job {get_job(store, job_id).name}",
                           f"You are {ROLES[role]} in the labeling job.", job_id)
        record_event(cur, actor, "add_job_member", job_id, email=email, role=role)


def remove_job_member(store: Store, job_id: int, email: str, actor: str | None = None) -> None:
    require_role(store, job_id, actor, "manager")
    email = email.strip().lower()
    with store.db.transaction() as cur:
        busy = cur.execute("SELECT count(*) FROM assignments WHERE job_id = ? AND email = ? AND state IN "
                           "(SELECT unnest(?::VARCHAR[]))", [job_id, email, list(OPEN_STATES)]).fetchall()[0][0]
        if busy:
            raise Conflict(f"{email} has {busy} assigned samples: reassign them first")
        n = cur.execute("DELETE FROM job_members WHERE job_id = ? AND email = ?", [job_id, email]).fetchall()[0][0]
        if not n:
            raise NotFound(f"{email} is not a member of this job")
        record_event(cur, actor, "remove_job_member", job_id, email=email)


def resend_notification(store: Store, job_id: int, email: str, actor: str | None = None) -> None:
    require_role(store, job_id, actor, "manager")
    email = email.strip().lower()
    if not store.db.fetchone("SELECT 1 FROM job_members WHERE job_id = ? AND email = ?", [job_id, email]):
        # only the job's members get its reminders (not any address a caller names)
        raise NotFound(f"{email} is not a member of this job")
    n = store.db.scalar("SELECT count(*) FROM assignments WHERE job_id = ? AND email = ?", [job_id, email])
    with store.db.transaction() as cur:
        queue_notification(cur, email, f"Labeling job {get_job(store, job_id).name}",
                           f"Reminder: {n} samples are assigned to you in the labeling job.", job_id)


def _team_job(store: Store, job_id: int) -> TeamJob:
    tj = get_team_job(store, job_id)
    if not tj:
        raise ValidationError("this job is not a team labeling job")
    return tj


# -- members' work -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Assignment:
    job_id: int
    sample_id: int
    email: str
    state: str
    labels: list[str]
    annotation: dict | None
    reason: str | None
    rating: str | None
    reviewer: str | None
    path: str
    text: str | None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


_A_COLS = ("a.job_id, a.sample_id, a.email, a.state, a.labels, a.annotation, a.reason, a.rating, a.reviewer, "
           "s.path, s.text")


def _assignment(r) -> Assignment:
    return Assignment(r[0], r[1], r[2], r[3], list(r[4]), json.loads(r[5]) if r[5] else None, r[6], r[7], r[8],
                      r[9], r[10])


def my_jobs(store: Store, username: str) -> list[dict]:
    """My Participations (F5.5): the jobs I am a member of, my role and my samples per state."""
    email = user_email(store, username)
    if not email:
        return []
    rows = store.db.fetchall(
        "SELECT j.id, j.name, j.type, m.role FROM job_members m JOIN jobs j ON j.id = m.job_id WHERE m.email = ? "
        "ORDER BY j.name", [email])
    out = []
    for jid, name, type_id, role in rows:
        by_state = dict(store.db.fetchall("SELECT state, count(*) FROM assignments WHERE job_id = ? AND email = ? "
                                          "GROUP BY state", [jid, email]))
        to_review = store.db.scalar("SELECT count(*) FROM assignments WHERE job_id = ? AND state = 'to_be_reviewed'",
                                    [jid]) if role in ("reviewer", "manager") else 0
        out.append({"job_id": jid, "name": name, "type": type_id, "role": role, "role_title": ROLES[role],
                    "states": {s: by_state.get(s, 0) for s in STATES}, "to_review": to_review})
    return out


def my_samples(store: Store, job_id: int, username: str, state: str | None = None, page: int = 1,
               page_size: int = 50) -> tuple[list[Assignment], int]:
    """The samples assigned to me on a job (a labeler sees only these)."""
    require_role(store, job_id, username, "labeler", "reviewer", "manager")
    email = user_email(store, username) or username
    if state is not None and state not in STATES:
        raise ValidationError(f"unknown state {state!r}: one of {', '.join(STATES)}")
    where, params = "a.job_id = ? AND a.email = ?", [job_id, email]
    if state:
        where += " AND a.state = ?"
        params.append(state)
    total = store.db.scalar(f"SELECT count(*) FROM assignments a WHERE {where}", params)
    rows = store.db.fetchall(f"SELECT {_A_COLS} FROM assignments a JOIN samples s ON s.id = a.sample_id "
                             f"WHERE {where} ORDER BY a.sample_id LIMIT ? OFFSET ?",
                             [*params, int(page_size), (max(1, int(page)) - 1) * int(page_size)])
    return [_assignment(r) for r in rows], total


def save_my_annotation(store: Store, job_id: int, sample_id: int, username: str, data: dict) -> Assignment:
    """A labeler labels (or fixes) an assigned sample: it goes To Be Reviewed. Approved and
    accepted samples are closed to members (F5.7). The hot path of team labeling: a handful of
    statements, one transaction."""
    role, email = _role_and_email(store, job_id, username)
    _check_role(job_id, role, ("labeler", "manager"))
    email = email or username
    job = get_job(store, job_id)
    row = store.db.fetchone("SELECT meta, text, path FROM samples WHERE id = ?", [sample_id])
    meta = json.loads(row[0]) if row and row[0] else None
    if row and row[1] is not None:
        meta = {**(meta or {}), "text": row[1]}
    ann = job.labeling_type.validate(data, job.label_set, meta)
    empty = not ann.labels
    state = "unlabeled" if empty else "to_be_reviewed"
    text = None if empty else json.dumps(ann.data, ensure_ascii=False)
    with store.db.transaction() as cur:
        r = cur.execute("UPDATE assignments SET state = ?, labels = ?, annotation = ?, labeled_at = ?, "
                        "reason = CASE WHEN ? THEN reason ELSE NULL END WHERE job_id = ? AND sample_id = ? AND "
                        "email = ? AND state NOT IN ('approved', 'accepted') RETURNING reason, rating, reviewer",
                        [state, ann.labels, text, now(), empty, job_id, sample_id, email]).fetchall()
        if not r:
            old = cur.execute("SELECT state FROM assignments WHERE job_id = ? AND sample_id = ? AND email = ?",
                              [job_id, sample_id, email]).fetchall()
            if not old:
                raise NotFound(f"sample {sample_id} is not assigned to you")
            raise Forbidden(f"this sample is {old[0][0]}: members can no longer edit it")
        record_event(cur, username, "team_label", job_id, sample_id=sample_id)
    return Assignment(job_id, sample_id, email, state, list(ann.labels), None if empty else ann.data, r[0][0],
                      r[0][1], r[0][2], row[2] if row else "", row[1] if row else None)


def get_assignment(store: Store, job_id: int, sample_id: int, email: str) -> Assignment:
    r = store.db.fetchone(f"SELECT {_A_COLS} FROM assignments a JOIN samples s ON s.id = a.sample_id "
                          "WHERE a.job_id = ? AND a.sample_id = ? AND a.email = ?", [job_id, sample_id, email])
    if not r:
        raise NotFound(f"sample {sample_id} is not assigned to {email}")
    return _assignment(r)


def _decision(ok: bool, rating: str | None, reason: str | None, no_rating: str, no_reason: str
              ) -> tuple[str | None, str | None]:
    """(rating, reason) of a pass (a rating A-D) or a rejection (a reason, at most MAX_REASON)."""
    if ok:
        rating = (rating or "").strip().upper()
        if rating not in RATINGS:
            raise ValidationError(no_rating)
        return rating, None
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(no_reason)
    if len(reason) > MAX_REASON:
        raise ValidationError(f"a reason has at most {MAX_REASON} characters")
    return None, reason


# -- review (F5.6) -----------------------------------------------------------------------------------
def review_queue(store: Store, job_id: int, username: str, state: str = "to_be_reviewed", page: int = 1,
                 page_size: int = 50) -> tuple[list[Assignment], int]:
    require_role(store, job_id, username, "reviewer", "manager")
    if state not in STATES:
        raise ValidationError(f"unknown state {state!r}: one of {', '.join(STATES)}")
    total = store.db.scalar("SELECT count(*) FROM assignments WHERE job_id = ? AND state = ?", [job_id, state])
    rows = store.db.fetchall(f"SELECT {_A_COLS} FROM assignments a JOIN samples s ON s.id = a.sample_id "
                             "WHERE a.job_id = ? AND a.state = ? ORDER BY a.labeled_at, a.sample_id LIMIT ? OFFSET ?",
                             [job_id, state, int(page_size), (max(1, int(page)) - 1) * int(page_size)])
    return [_assignment(r) for r in rows], total


def review_sample(store: Store, job_id: int, sample_id: int, labeler: str, username: str, approve: bool,
                  rating: str | None = None, reason: str | None = None) -> Assignment:
    """Approve with a rating A-D, or reject with a required reason (back to the labeler)."""
    require_role(store, job_id, username, "reviewer", "manager")
    labeler = labeler.strip().lower()
    rating, reason = _decision(approve, rating, reason, "approving needs a rating: A, B, C or D",
                               "rejecting needs a reason for the labeler")
    with store.db.transaction() as cur:
        r = cur.execute("SELECT state FROM assignments WHERE job_id = ? AND sample_id = ? AND email = ?",
                        [job_id, sample_id, labeler]).fetchall()
        if not r:
            raise NotFound(f"sample {sample_id} is not assigned to {labeler}")
        if r[0][0] != "to_be_reviewed":
            raise Conflict(f"this sample is {r[0][0].replace('_', ' ')}, not waiting for review")
        cur.execute("UPDATE assignments SET state = ?, rating = ?, reason = ?, reviewer = ?, reviewed_at = ? "
                    "WHERE job_id = ? AND sample_id = ? AND email = ?",
                    ["approved" if approve else "rejected", rating, reason, username, now(), job_id, sample_id,
                     labeler])
        record_event(cur, username, "review", job_id, sample_id=sample_id, labeler=labeler,
                     decision="approve" if approve else "reject", rating=rating)
    return get_assignment(store, job_id, sample_id, labeler)


# -- acceptance (F5.7, F5.8) -------------------------------------------------------------------------
@dataclass(frozen=True)
class Acceptance:
    id: int
    job_id: int
    status: str  # in_progress | finished
    sample_by: str  # percent | count
    amount: float
    created_by: str | None
    started_at: object
    finished_at: object
    overwrite: bool | None
    scope: str | None
    accepted: int
    rejected: int

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["started_at"] = self.started_at.isoformat() if self.started_at else None
        d["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        return d


_ACC = "id, job_id, status, sample_by, amount, created_by, started_at, finished_at, overwrite, scope, accepted, rejected"
LABELED = ("to_be_reviewed", "approved")


def get_acceptance(store: Store, acceptance_id: int) -> Acceptance:
    r = store.db.fetchone(f"SELECT {_ACC} FROM acceptances WHERE id = ?", [acceptance_id])
    if not r:
        raise NotFound(f"acceptance {acceptance_id} does not exist")
    return Acceptance(*r)


def list_acceptances(store: Store, job_id: int, username: str) -> list[Acceptance]:
    require_role(store, job_id, username)
    return [Acceptance(*r) for r in store.db.fetchall(f"SELECT {_ACC} FROM acceptances WHERE job_id = ? "
                                                      "ORDER BY id DESC", [job_id])]


def current_acceptance(store: Store, job_id: int, actor: str | None = None) -> Acceptance | None:
    require_job(store, actor, job_id, "accept")
    r = store.db.fetchone(f"SELECT {_ACC} FROM acceptances WHERE job_id = ? AND status = 'in_progress'", [job_id])
    return Acceptance(*r) if r else None


def start_acceptance(store: Store, job_id: int, username: str, sample_by: str = "percent", amount: float = 10,
                     seed: int | None = None) -> Acceptance:
    """The creator samples labeled work to check (F5.7): by percentage or by count."""
    require_role(store, job_id, username)
    _team_job(store, job_id)
    if sample_by not in ("percent", "count"):
        raise ValidationError("sample by 'percent' or 'count'")
    amount = float(amount)
    if sample_by == "percent" and not 0 < amount <= 100:
        raise ValidationError("a sampling percentage lies in (0, 100]")
    if sample_by == "count" and (amount < 1 or amount != int(amount)):
        raise ValidationError("a sample count is a whole number of at least 1")
    with store.db.transaction() as cur:
        if cur.execute("SELECT 1 FROM acceptances WHERE job_id = ? AND status = 'in_progress'", [job_id]).fetchall():
            raise Conflict("an acceptance of this job is in progress: continue it or finish it")
        pool = cur.execute("SELECT sample_id, email FROM assignments WHERE job_id = ? AND state IN "
                           "(SELECT unnest(?::VARCHAR[])) ORDER BY sample_id, email",
                           [job_id, list(LABELED)]).fetchall()
        if not pool:
            raise ValidationError("acceptance starts when at least one sample is labeled")
        n = math.ceil(len(pool) * amount / 100) if sample_by == "percent" else min(int(amount), len(pool))
        picked = random.Random(seed).sample(pool, max(1, n))
        aid = store.db.next_id(cur, "seq_acceptance")
        cur.execute(f"INSERT INTO acceptances ({_ACC}) VALUES (?, ?, 'in_progress', ?, ?, ?, ?, NULL, NULL, NULL, 0, 0)",
                    [aid, job_id, sample_by, amount, username, now()])
        cur.executemany("INSERT INTO acceptance_items (acceptance_id, sample_id, email) VALUES (?, ?, ?)",
                        [[aid, s, e] for s, e in picked])
        record_event(cur, username, "start_acceptance", job_id, acceptance=aid, sampled=len(picked), pool=len(pool))
    return get_acceptance(store, aid)


def acceptance_items(store: Store, acceptance_id: int, username: str, decision: str | None = None) -> list[dict]:
    acc = get_acceptance(store, acceptance_id)
    require_role(store, acc.job_id, username)
    where, params = "i.acceptance_id = ?", [acceptance_id]
    if decision:
        where += " AND i.decision = ?"
        params.append(decision)
    rows = store.db.fetchall(
        "SELECT i.sample_id, i.email, i.decision, i.rating, i.reason, a.labels, a.annotation, s.path, s.text, "
        "a.rating FROM acceptance_items i JOIN assignments a ON a.job_id = ? AND a.sample_id = i.sample_id AND "
        f"a.email = i.email JOIN samples s ON s.id = i.sample_id WHERE {where} ORDER BY i.sample_id, i.email",
        [acc.job_id, *params])
    return [{"sample_id": r[0], "email": r[1], "decision": r[2], "rating": r[3], "reason": r[4], "labels": list(r[5]),
             "annotation": json.loads(r[6]) if r[6] else None, "path": r[7], "text": r[8], "review_rating": r[9]}
            for r in rows]


def decide_acceptance_item(store: Store, acceptance_id: int, sample_id: int, email: str, username: str,
                           passed: bool, rating: str | None = None, reason: str | None = None) -> None:
    """Pass (rating A-D) or reject (reason) one sampled item. Only the job's creator decides;
    decisions can change until the acceptance is finished, never by a member (F5.10)."""
    acc = get_acceptance(store, acceptance_id)
    require_role(store, acc.job_id, username)
    if acc.status != "in_progress":
        raise Conflict("this acceptance is finished: its decisions cannot change")
    rating, reason = _decision(passed, rating or "A", reason, "a pass takes a rating: A, B, C or D",
                               "rejecting needs a reason")
    with store.db.transaction() as cur:
        n = cur.execute("UPDATE acceptance_items SET decision = ?, rating = ?, reason = ?, decided_by = ?, "
                        "decided_at = ? WHERE acceptance_id = ? AND sample_id = ? AND email = ?",
                        ["pass" if passed else "reject", rating, reason, username, now(), acceptance_id, sample_id,
                         email.strip().lower()]).fetchall()[0][0]
        if not n:
            raise NotFound(f"sample {sample_id} by {email} is not in this acceptance's sample")


def acceptance_report(store: Store, acceptance_id: int, username: str | None = None) -> dict:
    """F5.8: pass rate, sampled, pending, passed, rejected (and, once finished, accepted)."""
    acc = get_acceptance(store, acceptance_id)
    if username is not None:
        require_role(store, acc.job_id, username)
    c = dict(store.db.fetchall("SELECT decision, count(*) FROM acceptance_items WHERE acceptance_id = ? "
                               "GROUP BY decision", [acceptance_id]))
    passed, rejected, pending = c.get("pass", 0), c.get("reject", 0), c.get("pending", 0)
    decided = passed + rejected
    pool = store.db.scalar("SELECT count(*) FROM assignments WHERE job_id = ? AND state IN (SELECT unnest(?::VARCHAR[]))",
                           [acc.job_id, list(LABELED)])
    return {"acceptance_id": acc.id, "status": acc.status, "sampled": passed + rejected + pending, "pending": pending,
            "passed": passed, "rejected": rejected, "pass_rate": round(passed / decided, 4) if decided else None,
            "accepted": acc.accepted, "rejected_total": acc.rejected, "labeled_waiting": pool,
            "scope": acc.scope, "overwrite": acc.overwrite}


def finish_acceptance(store: Store, acceptance_id: int, username: str, overwrite: bool, scope: str) -> dict:
    """Finish (F5.7): decide everything by `scope`, write accepted work to the job's labels
    (over labels the job already has only when `overwrite`), send rejected work back."""
    acc = get_acceptance(store, acceptance_id)
    require_role(store, acc.job_id, username)
    if acc.status != "in_progress":
        raise Conflict("this acceptance is finished already")
    if scope not in SCOPES:
        raise ValidationError(f"scope is one of {', '.join(SCOPES)}")
    job_id = acc.job_id
    with store.db.transaction() as cur:
        pool = cur.execute("SELECT sample_id, email FROM assignments WHERE job_id = ? AND state IN "
                           "(SELECT unnest(?::VARCHAR[]))", [job_id, list(LABELED)]).fetchall()
        decided = {(r[0], r[1]): (r[2], r[3]) for r in cur.execute(
            "SELECT sample_id, email, decision, reason FROM acceptance_items WHERE acceptance_id = ? AND "
            "decision <> 'pending'", [acceptance_id]).fetchall()}
        passes, rejects = [], []
        for key in pool:
            key = (key[0], key[1])
            if scope in ("all_pass", "all_reject"):
                ok = scope == "all_pass"
                reason = "rejected in acceptance"
            elif key in decided:
                ok = decided[key][0] == "pass"
                reason = decided[key][1] or "rejected in acceptance"
            else:
                ok = scope == "remaining_pass"
                reason = "rejected in acceptance"
            (passes if ok else rejects).append((key, reason))
        t = now()
        if rejects:
            cur.executemany("UPDATE assignments SET state = 'rejected', reason = ?, reviewer = ?, reviewed_at = ? "
                            "WHERE job_id = ? AND sample_id = ? AND email = ?",
                            [[reason, username, t, job_id, s, e] for (s, e), reason in rejects])
        accepted = _write_accepted(cur, store, job_id, [k for k, _ in passes], overwrite, t)
        if passes:
            cur.executemany("UPDATE assignments SET state = 'accepted' WHERE job_id = ? AND sample_id = ? AND email = ?",
                            [[job_id, s, e] for (s, e), _ in passes])
        cur.execute("UPDATE acceptance_items SET decision = CASE WHEN decision = 'pending' THEN ? ELSE decision END "
                    "WHERE acceptance_id = ?", ["pass" if scope in ("all_pass", "remaining_pass") else "reject",
                                                acceptance_id])
        cur.execute("UPDATE acceptances SET status = 'finished', finished_at = ?, overwrite = ?, scope = ?, "
                    "accepted = ?, rejected = ? WHERE id = ?",
                    [t, bool(overwrite), scope, len(passes), len(rejects), acceptance_id])
        record_event(cur, username, "finish_acceptance", job_id, acceptance=acceptance_id, scope=scope,
                     accepted=len(passes), rejected=len(rejects), written=accepted)
    return acceptance_report(store, acceptance_id)


def _write_accepted(cur, store: Store, job_id: int, keys: list[tuple[int, str]], overwrite: bool, t) -> int:
    """Accepted work becomes the job's labels. With overlap, the annotation most labelers gave
    wins (ties: the earliest)."""
    if not keys:
        return 0
    by_sample: dict[int, list[str]] = defaultdict(list)
    for s, e in keys:
        by_sample[s].append(e)
    rows = cur.execute("SELECT sample_id, email, labels, annotation, labeled_at FROM assignments WHERE job_id = ? AND "
                       "sample_id IN (SELECT unnest(?::BIGINT[]))", [job_id, list(by_sample)]).fetchall()
    work = defaultdict(list)
    for s, e, labels, ann, at in rows:
        if e in by_sample.get(s, ()):
            work[s].append((ann, list(labels), at, e))
    current = dict(cur.execute("SELECT sample_id, status FROM job_samples WHERE job_id = ? AND sample_id IN "
                               "(SELECT unnest(?::BIGINT[]))", [job_id, list(by_sample)]).fetchall())
    users = dict(cur.execute("SELECT email, username FROM users WHERE email IS NOT NULL").fetchall())
    params = []
    for s, items in work.items():
        if current.get(s) == "labeled" and not overwrite:
            continue
        votes = Counter(json.dumps(json.loads(a), sort_keys=True) for a, _, _, _ in items if a)
        if not votes:
            continue
        best = votes.most_common(1)[0][0]
        ann, labels, at, e = min((it for it in items if it[0] and json.dumps(json.loads(it[0]), sort_keys=True) == best),
                                 key=lambda it: it[2] or t)
        params.append(["labeled", labels, ann, users.get(e, e), at or t, job_id, s])
    if params:
        cur.executemany("UPDATE job_samples SET status = ?, labels = ?, annotation = ?, labeled_by = ?, labeled_at = ?, "
                        "from_inference = false, confidence = NULL, model = NULL, accepted = true "
                        "WHERE job_id = ? AND sample_id = ?", params)
        record_history(cur, job_id, [p[-1] for p in params], None, "acceptance")  # saved by: the labeler
    return len(params)


# -- figures -----------------------------------------------------------------------------------------
def annotator_stats(store: Store, job_id: int, actor: str | None = None) -> list[dict]:
    """Per annotator (F1.7): assigned, labeled, approved, rejected, accepted, ratings."""
    require_job(store, actor, job_id, "review")
    rows = store.db.fetchall(
        "SELECT email, count(*), count(*) FILTER (WHERE state IN ('to_be_reviewed', 'approved', 'accepted')), "
        "count(*) FILTER (WHERE state = 'approved'), count(*) FILTER (WHERE state = 'rejected'), "
        "count(*) FILTER (WHERE state = 'accepted'), list(rating) FILTER (WHERE rating IS NOT NULL) "
        "FROM assignments WHERE job_id = ? GROUP BY email ORDER BY email", [job_id])
    return [{"annotator": r[0], "assigned": r[1], "labeled": r[2], "approved": r[3], "rejected": r[4],
             "accepted": r[5], "ratings": dict(Counter(r[6] or []))} for r in rows]


def agreement(store: Store, job_id: int, actor: str | None = None) -> dict:
    """Inter-annotator agreement on samples labeled by several members (overlap): per label,
    Fleiss' kappa on "has this label" (any number of raters, the same on every sample), and
    Cohen's kappa when exactly two labelers rated each sample."""
    require_job(store, actor, job_id, "review")
    rows = store.db.fetchall("SELECT sample_id, email, labels FROM assignments WHERE job_id = ? AND state IN "
                             "('to_be_reviewed', 'approved', 'accepted') ORDER BY sample_id, email", [job_id])
    by_sample: dict[int, list[set[str]]] = defaultdict(list)
    for s, _e, labels in rows:
        by_sample[s].append(set(labels))
    multi = {s: v for s, v in by_sample.items() if len(v) >= 2}
    if not multi:
        return {"samples": 0, "raters": 0, "per_label": {}}
    m = Counter(len(v) for v in multi.values()).most_common(1)[0][0]
    items = [v for v in multi.values() if len(v) == m]
    labels = sorted(set().union(*[set().union(*v) for v in items]))
    per_label = {}
    for lab in labels:
        yes = [sum(lab in r for r in v) for v in items]
        entry = {"fleiss_kappa": _fleiss(yes, m)}
        if m == 2:
            entry["cohen_kappa"] = _cohen([(lab in v[0], lab in v[1]) for v in items])
        per_label[lab] = entry
    return {"samples": len(items), "raters": m, "per_label": per_label}


def _fleiss(yes: list[int], m: int) -> float | None:
    n = len(yes)
    if n == 0 or m < 2:
        return None
    p_yes = sum(yes) / (n * m)
    P_e = p_yes ** 2 + (1 - p_yes) ** 2
    P_bar = sum((y * (y - 1) + (m - y) * (m - y - 1)) / (m * (m - 1)) for y in yes) / n
    if P_e >= 1:
        return 1.0 if P_bar >= 1 else None
    return round((P_bar - P_e) / (1 - P_e), 4)


def _cohen(pairs: list[tuple[bool, bool]]) -> float | None:
    n = len(pairs)
    if not n:
        return None
    po = sum(a == b for a, b in pairs) / n
    pa = sum(a for a, _ in pairs) / n
    pb = sum(b for _, b in pairs) / n
    pe = pa * pb + (1 - pa) * (1 - pb)
    if pe >= 1:
        return 1.0 if po >= 1 else None
    return round((po - pe) / (1 - pe), 4)
