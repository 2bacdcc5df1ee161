"""Labeling teams and their members (F5.1, F5.2): at most 10 teams per account, at most 100
members per team, a member is an email address (valid, unique in the team, never edited) with
a description and a role; at most one Team Manager per team; a member with assigned work cannot
be deleted until it is reassigned."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .core import Store
from .errors import Conflict, NotFound, ValidationError
from .events import now, record_event
from .access import require_team_owner
from .users import check_email

MAX_TEAMS = 10
MAX_MEMBERS = 100
MAX_NAME = 64
MAX_DESCRIPTION = 256
ROLES = {"labeler": "Labeler", "reviewer": "Reviewer", "manager": "Team Manager"}
# assignment states that still need the member (work not finished)
OPEN_STATES = ("unlabeled", "to_be_confirmed", "rejected", "to_be_reviewed")


@dataclass(frozen=True)
class Team:
    id: int
    name: str
    description: str
    owner: str
    created_at: datetime
    members: int = 0

    def as_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "description": self.description, "owner": self.owner,
                "created_at": self.created_at.isoformat(), "members": self.members}


@dataclass(frozen=True)
class Member:
    team_id: int
    email: str
    description: str
    role: str
    created_at: datetime
    open_work: int = 0

    def as_dict(self) -> dict:
        return {"team_id": self.team_id, "email": self.email, "description": self.description, "role": self.role,
                "role_title": ROLES[self.role], "created_at": self.created_at.isoformat(),
                "open_work": self.open_work}


def _check_text(name: str, description: str) -> tuple[str, str]:
    name, description = (name or "").strip(), (description or "").strip()
    if not name or len(name) > MAX_NAME:
        raise ValidationError(f"a team name has 1 to {MAX_NAME} characters")
    if len(description) > MAX_DESCRIPTION:
        raise ValidationError(f"a description has at most {MAX_DESCRIPTION} characters")
    return name, description


def _role(role: str) -> str:
    role = (role or "").strip().lower().replace("team manager", "manager").replace(" ", "_")
    if role not in ROLES:
        raise ValidationError(f"unknown role {role!r}: Labeler, Reviewer or Team Manager")
    return role


def create_team(store: Store, name: str, description: str = "", owner: str = "local") -> Team:
    name, description = _check_text(name, description)
    with store.db.transaction() as cur:
        n = cur.execute("SELECT count(*) FROM teams WHERE owner = ?", [owner]).fetchall()[0][0]
        if n >= MAX_TEAMS:
            raise ValidationError(f"an account has at most {MAX_TEAMS} teams: delete one first")
        if cur.execute("SELECT 1 FROM teams WHERE owner = ? AND name = ?", [owner, name]).fetchall():
            raise Conflict(f"you already have a team named {name!r}")
        tid = store.db.next_id(cur, "seq_team")
        cur.execute("INSERT INTO teams VALUES (?, ?, ?, ?, ?)", [tid, name, description, owner, now()])
        record_event(cur, owner, "create_team", None, team=tid, name=name)
    return get_team(store, tid)


def get_team(store: Store, team_id: int, actor: str | None = None) -> Team:
    """A team; one the actor may not see (store/access.py) does not exist for them."""
    if actor is not None:
        return require_team_owner(store, team_id, actor, read=True)
    r = store.db.fetchone("SELECT t.id, t.name, t.description, t.owner, t.created_at, "
                          "(SELECT count(*) FROM team_members m WHERE m.team_id = t.id) FROM teams t WHERE t.id = ?",
                          [team_id])
    if not r:
        raise NotFound(f"team {team_id} does not exist")
    return Team(*r)


def list_teams(store: Store, owner: str | None = None) -> list[Team]:
    sql = ("SELECT t.id, t.name, t.description, t.owner, t.created_at, "
           "(SELECT count(*) FROM team_members m WHERE m.team_id = t.id) FROM teams t")
    params: list = []
    if owner is not None:
        sql += " WHERE t.owner = ?"
        params.append(owner)
    return [Team(*r) for r in store.db.fetchall(sql + " ORDER BY t.name", params)]


def update_team(store: Store, team_id: int, name: str | None = None, description: str | None = None,
                actor: str | None = None) -> Team:
    t = require_team_owner(store, team_id, actor)
    name, description = _check_text(t.name if name is None else name, t.description if description is None
                                    else description)
    with store.db.transaction() as cur:
        if name != t.name and cur.execute("SELECT 1 FROM teams WHERE owner = ? AND name = ?",
                                          [t.owner, name]).fetchall():
            raise Conflict(f"you already have a team named {name!r}")
        cur.execute("UPDATE teams SET name = ?, description = ? WHERE id = ?", [name, description, team_id])
        record_event(cur, actor, "update_team", None, team=team_id)
    return get_team(store, team_id)


def delete_team(store: Store, team_id: int, actor: str | None = None) -> None:
    require_team_owner(store, team_id, actor)
    with store.db.transaction() as cur:
        jobs = cur.execute("SELECT count(*) FROM team_jobs WHERE team_id = ?", [team_id]).fetchall()[0][0]
        if jobs:
            raise Conflict(f"the team labels {jobs} job(s): delete those jobs or their team labeling first")
        cur.execute("DELETE FROM team_members WHERE team_id = ?", [team_id])
        cur.execute("DELETE FROM teams WHERE id = ?", [team_id])
        record_event(cur, actor, "delete_team", None, team=team_id)


def _open_work(cur, team_id: int, email: str) -> int:
    return cur.execute(
        "SELECT count(*) FROM assignments a JOIN team_jobs t ON t.job_id = a.job_id "
        "WHERE t.team_id = ? AND a.email = ? AND a.state IN (SELECT unnest(?::VARCHAR[]))",
        [team_id, email, list(OPEN_STATES)]).fetchall()[0][0]


def list_members(store: Store, team_id: int, actor: str | None = None) -> list[Member]:
    require_team_owner(store, team_id, actor, read=True)
    get_team(store, team_id)
    rows = store.db.fetchall(
        "SELECT m.team_id, m.email, m.description, m.role, m.created_at, "
        "(SELECT count(*) FROM assignments a JOIN team_jobs t ON t.job_id = a.job_id WHERE t.team_id = m.team_id "
        " AND a.email = m.email AND a.state IN (SELECT unnest(?::VARCHAR[]))) "
        "FROM team_members m WHERE m.team_id = ? ORDER BY m.role, m.email", [list(OPEN_STATES), team_id])
    return [Member(*r) for r in rows]


def add_members(store: Store, team_id: int, members: list[tuple[str, str, str]], actor: str | None = None) -> int:
    """Add (email, description, role) members in one transaction; all or nothing."""
    require_team_owner(store, team_id, actor)
    rows = []
    for email, description, role in members:
        email = check_email(email)
        description = (description or "").strip()
        if len(description) > MAX_DESCRIPTION:
            raise ValidationError(f"a description has at most {MAX_DESCRIPTION} characters")
        rows.append((email, description, _role(role)))
    emails = [r[0] for r in rows]
    if len(set(emails)) != len(emails):
        raise ValidationError("the same email is given twice")
    with store.db.transaction() as cur:
        existing = {r[0]: r[1] for r in cur.execute("SELECT email, role FROM team_members WHERE team_id = ?",
                                                    [team_id]).fetchall()}
        dup = [e for e in emails if e in existing]
        if dup:
            raise Conflict(f"{dup[0]} is already a member of this team")
        if len(existing) + len(rows) > MAX_MEMBERS:
            raise ValidationError(f"a team has at most {MAX_MEMBERS} members (it has {len(existing)})")
        managers = sum(1 for r in existing.values() if r == "manager") + sum(1 for r in rows if r[2] == "manager")
        if managers > 1:
            raise ValidationError("a team has at most one Team Manager")
        t = now()
        cur.executemany("INSERT INTO team_members VALUES (?, ?, ?, ?, ?)",
                        [[team_id, e, d, r, t] for e, d, r in rows])
        record_event(cur, actor, "add_members", None, team=team_id, members=len(rows))
    return len(rows)


def update_member(store: Store, team_id: int, email: str, description: str | None = None, role: str | None = None,
                  actor: str | None = None) -> Member:
    """Edit a member's description and role; the email identifies the member and cannot change."""
    require_team_owner(store, team_id, actor)
    email = check_email(email)
    with store.db.transaction() as cur:
        r = cur.execute("SELECT description, role FROM team_members WHERE team_id = ? AND email = ?",
                        [team_id, email]).fetchall()
        if not r:
            raise NotFound(f"{email} is not a member of team {team_id}")
        new_desc = r[0][0] if description is None else description.strip()
        if len(new_desc) > MAX_DESCRIPTION:
            raise ValidationError(f"a description has at most {MAX_DESCRIPTION} characters")
        new_role = r[0][1] if role is None else _role(role)
        if new_role == "manager" and r[0][1] != "manager" and cur.execute(
                "SELECT count(*) FROM team_members WHERE team_id = ? AND role = 'manager'", [team_id]).fetchall()[0][0]:
            raise ValidationError("a team has at most one Team Manager: change the current one's role first")
        cur.execute("UPDATE team_members SET description = ?, role = ? WHERE team_id = ? AND email = ?",
                    [new_desc, new_role, team_id, email])
        # the member's role on the team's jobs follows
        cur.execute("UPDATE job_members SET role = ? WHERE email = ? AND job_id IN "
                    "(SELECT job_id FROM team_jobs WHERE team_id = ?)", [new_role, email, team_id])
        record_event(cur, actor, "update_member", None, team=team_id, email=email, role=new_role)
    return next(m for m in list_members(store, team_id) if m.email == email)


def delete_members(store: Store, team_id: int, emails: list[str], actor: str | None = None) -> int:
    require_team_owner(store, team_id, actor)
    emails = [check_email(e) for e in emails]
    if not emails:
        raise ValidationError("choose at least one member")
    with store.db.transaction() as cur:
        for e in emails:
            if not cur.execute("SELECT 1 FROM team_members WHERE team_id = ? AND email = ?", [team_id, e]).fetchall():
                raise NotFound(f"{e} is not a member of team {team_id}")
            busy = _open_work(cur, team_id, e)
            if busy:
                raise Conflict(f"{e} has {busy} assigned samples: reassign them first")
        cur.execute("DELETE FROM team_members WHERE team_id = ? AND email IN (SELECT unnest(?::VARCHAR[]))",
                    [team_id, emails])
        cur.execute("DELETE FROM job_members WHERE email IN (SELECT unnest(?::VARCHAR[])) AND job_id IN "
                    "(SELECT job_id FROM team_jobs WHERE team_id = ?)", [emails, team_id])
        record_event(cur, actor, "delete_members", None, team=team_id, members=len(emails))
    return len(emails)
