"""/api/v1: log in, the current user, teams and team labeling (F5, F6.1).

Every rule (who may do what, limits, states) is in store/teams.py and store/team_jobs.py; the
handlers parse, call one store function with the acting user and serialize. Notifications are
queued in the store's outbox by the same transaction as the change; when SMTP is configured, a
background thread sends them after the answer."""
from __future__ import annotations

import logging
import threading
from typing import Literal

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response

from store import Store
from store import notify
from store import team_jobs as tj
from store import teams as teams_store
from store import users as users_store
from store.errors import Forbidden

from .deps import get_actor, get_store
from .errors import error_response, error_responses
from .models import (AcceptanceIn, AnnotationIn, AssignIn, DecisionIn, EmailsIn, FinishIn, Id, PathId, JobId,
                     JobMemberIn, LoginIn, MemberIn, MemberPatch, ReassignIn, ReviewIn, SampleId, TeamIn, TeamJobIn,
                     TeamPatch)

log = logging.getLogger(__name__)
router = APIRouter(tags=["team labeling"], responses=error_responses(400, 401, 403, 404, 409))
_send_lock = threading.Lock()

EmailPath = Annotated[str, Path(min_length=1, max_length=254, description="a member's email address")]
State = Literal["unlabeled", "to_be_confirmed", "rejected", "to_be_reviewed", "approved", "accepted"]
Page = Query(1, ge=1, le=10_000_000)
PageSize = Query(50, ge=1, le=500)


def send_notifications(store: Store) -> None:
    """Send the outbox by SMTP in a background thread (when SMTP is configured); one sender at
    a time, so no message goes twice."""
    if not store.settings.smtp_host:
        return

    def work():
        with _send_lock:
            try:
                notify.send_pending(store)
            except Exception:  # a notification must never break the request that queued it
                log.exception("sending notifications failed")

    threading.Thread(target=work, name="labelport-notify", daemon=True).start()


def _page(items, total: int, page: int, page_size: int) -> dict:
    return {"items": [a.as_dict() for a in items], "total": total, "page": page, "page_size": page_size,
            "pages": max(1, -(-total // page_size))}


# -- log in ------------------------------------------------------------------------------------------
@router.post("/login", summary="Log in: sets the HTTP-only session cookie", tags=["users"], responses={
    429: {"description": "Too many failed log-ins for this account or client: wait Retry-After seconds",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}},
    503: {"description": "Too many log-ins are being checked at once: try again in a moment",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}})
def login(body: LoginIn, request: Request, response: Response, store: Store = Depends(get_store)):
    """Throttled (auth.py password_login): 401 wrong user name or password (the same answer for
    an unknown user), 403 account disabled or waiting for approval, 429 too many failures (with
    Retry-After), 503 too many log-ins being checked at once."""
    from auth import LoginFailed, password_login, set_session_cookie

    try:
        username, token = password_login(store, request, body.username, body.password)
    except LoginFailed as e:
        return error_response(str(e), e.status, headers=e.headers or None)
    set_session_cookie(response, request, token)
    return {**users_store.get_user(store, username).as_dict(), "multi_user": True}


@router.post("/logout", summary="End the session", tags=["users"])
def logout(request: Request, response: Response, store: Store = Depends(get_store)):
    from auth import COOKIE, clear_session_cookie

    users_store.end_session(store, request.cookies.get(COOKIE))
    clear_session_cookie(response, request)
    return {"ok": True}


@router.get("/me", summary="The current user (the local user in single-user mode)", tags=["users"])
def me(store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    multi = users_store.users_configured(store)
    email = users_store.user_email(store, actor) if multi else None
    return {"username": actor, "email": email, "is_admin": users_store.is_admin(store, actor), "multi_user": multi}


@router.get("/me/jobs", summary="My Participations: my jobs, role and samples per state")
def my_jobs(store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return tj.my_jobs(store, actor)


@router.get("/outbox", summary="Notifications (an admin sees all; a user their own)")
def outbox(email: str | None = Query(None, max_length=254), limit: int = Query(200, ge=1, le=1000),
           store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    if not users_store.is_admin(store, actor):
        own = users_store.user_email(store, actor)
        if not own or (email and email.strip().lower() != own):
            raise Forbidden("you see your own notifications only")
        email = own
    return notify.list_outbox(store, email.strip().lower() if email else None, limit)


# -- teams -------------------------------------------------------------------------------------------
@router.get("/teams", summary="My teams (an admin: all)")
def list_teams(store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    owner = None if users_store.is_admin(store, actor) and users_store.users_configured(store) else actor
    return [t.as_dict() for t in teams_store.list_teams(store, owner)]


@router.post("/teams", status_code=201, summary="Create a team (at most 10 per account)")
def create_team(body: TeamIn, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return teams_store.create_team(store, body.name, body.description, owner=actor).as_dict()


@router.get("/teams/{team_id}", summary="One team")
def get_team(team_id: PathId, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return teams_store.require_team_owner(store, team_id, actor, read=True).as_dict()


@router.patch("/teams/{team_id}", summary="Rename a team or change its description")
def update_team(team_id: PathId, body: TeamPatch, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return teams_store.update_team(store, team_id, body.name, body.description, actor=actor).as_dict()


@router.delete("/teams/{team_id}", status_code=204, summary="Delete a team (not while it labels a job)")
def delete_team(team_id: PathId, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    teams_store.delete_team(store, team_id, actor=actor)
    return Response(status_code=204)


@router.get("/teams/{team_id}/members", summary="The team's members with their open work")
def list_members(team_id: PathId, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return [m.as_dict() for m in teams_store.list_members(store, team_id, actor=actor)]


@router.post("/teams/{team_id}/members", status_code=201, summary="Add members (all or nothing)")
def add_members(team_id: PathId, body: list[MemberIn] = Body(..., min_length=1, max_length=100),
                store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    n = teams_store.add_members(store, team_id, [(m.email, m.description, m.role) for m in body], actor=actor)
    return {"added": n}


@router.patch("/teams/{team_id}/members/{email}", summary="Change a member's description or role")
def update_member(team_id: PathId, email: EmailPath, body: MemberPatch, store: Store = Depends(get_store),
                  actor: str = Depends(get_actor)):
    return teams_store.update_member(store, team_id, email, body.description, body.role, actor=actor).as_dict()


@router.post("/teams/{team_id}/members/delete", summary="Delete members (none with unfinished work)")
def delete_members(team_id: PathId, body: EmailsIn, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return {"deleted": teams_store.delete_members(store, team_id, body.emails, actor=actor)}


# -- team jobs ---------------------------------------------------------------------------------------
@router.post("/jobs/{job_id}/team", status_code=201, summary="Make the job a team labeling job (assigns samples)")
def make_team_job(job_id: JobId, body: TeamJobIn, store: Store = Depends(get_store),
                  actor: str = Depends(get_actor)):
    counts = tj.make_team_job(store, job_id, body.team_id, body.mode, body.labelers, body.reviewers, body.manager,
                              body.auto_assign_new, body.load_prelabels, body.overlap, actor=actor)
    send_notifications(store)
    return {"assigned": counts}


@router.get("/jobs/{job_id}/team", summary="The job's team labeling settings")
def get_team_job(job_id: JobId, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    t = tj.get_team_job(store, job_id, actor=actor)
    if t is None:
        from store.errors import NotFound

        raise NotFound(f"job {job_id} is not a team labeling job")
    return t.as_dict()


@router.post("/jobs/{job_id}/assign", summary="Assign samples evenly to labelers (Task Manager)")
def assign(job_id: JobId, body: AssignIn, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    counts = tj.assign_samples(store, job_id, body.sample_ids, body.emails, actor=actor)
    send_notifications(store)
    return {"assigned": counts}


@router.post("/jobs/{job_id}/reassign", summary="Move a member's unfinished samples to another member")
def reassign(job_id: JobId, body: ReassignIn, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return {"moved": tj.reassign(store, job_id, body.from_email, body.to_email, actor=actor)}


@router.get("/jobs/{job_id}/members", summary="The job's members with their work")
def job_members(job_id: JobId, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return tj.job_members(store, job_id, actor)


@router.post("/jobs/{job_id}/members", status_code=201, summary="Add a team member to the job")
def add_job_member(job_id: JobId, body: JobMemberIn, store: Store = Depends(get_store),
                   actor: str = Depends(get_actor)):
    tj.add_job_member(store, job_id, body.email, body.role, actor=actor)
    send_notifications(store)
    return {"email": body.email.strip().lower(), "role": body.role}


@router.delete("/jobs/{job_id}/members/{email}", status_code=204, summary="Remove a member (no unfinished work)")
def remove_job_member(job_id: JobId, email: EmailPath, store: Store = Depends(get_store),
                      actor: str = Depends(get_actor)):
    tj.remove_job_member(store, job_id, email, actor=actor)
    return Response(status_code=204)


@router.post("/jobs/{job_id}/members/{email}/notify", summary="Send the member a reminder")
def resend(job_id: JobId, email: EmailPath, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    tj.resend_notification(store, job_id, email, actor=actor)
    send_notifications(store)
    return {"queued": 1}


@router.get("/jobs/{job_id}/my-samples", summary="The samples assigned to me on the job")
def my_samples(job_id: JobId, state: State | None = None, page: int = Page, page_size: int = PageSize,
               store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    items, total = tj.my_samples(store, job_id, actor, state, page, page_size)
    return _page(items, total, page, page_size)


@router.put("/jobs/{job_id}/my-samples/{sample_id}/annotation",
            summary="Label (or fix) an assigned sample: it goes To Be Reviewed")
def save_my_annotation(job_id: JobId, sample_id: SampleId, body: AnnotationIn, store: Store = Depends(get_store),
                       actor: str = Depends(get_actor)):
    return tj.save_my_annotation(store, job_id, sample_id, actor, body.annotation).as_dict()


@router.get("/jobs/{job_id}/review", summary="The review queue (Reviewer, Team Manager)")
def review_queue(job_id: JobId, state: State = "to_be_reviewed", page: int = Page, page_size: int = PageSize,
                 store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    items, total = tj.review_queue(store, job_id, actor, state, page, page_size)
    return _page(items, total, page, page_size)


@router.post("/jobs/{job_id}/review/{sample_id}", summary="Approve (rating A-D) or reject (reason) a sample")
def review(job_id: JobId, sample_id: SampleId, body: ReviewIn, store: Store = Depends(get_store),
           actor: str = Depends(get_actor)):
    return tj.review_sample(store, job_id, sample_id, body.labeler, actor, body.approve, body.rating,
                            body.reason).as_dict()


@router.post("/jobs/{job_id}/acceptances", status_code=201, summary="Start an acceptance (the job's creator)")
def start_acceptance(job_id: JobId, body: AcceptanceIn, store: Store = Depends(get_store),
                     actor: str = Depends(get_actor)):
    return tj.start_acceptance(store, job_id, actor, body.sample_by, body.amount).as_dict()


@router.get("/jobs/{job_id}/acceptances", summary="The job's acceptances, newest first")
def list_acceptances(job_id: JobId, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return [a.as_dict() for a in tj.list_acceptances(store, job_id, actor)]


@router.get("/acceptances/{acceptance_id}", summary="The acceptance report")
def acceptance_report(acceptance_id: PathId, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return tj.acceptance_report(store, acceptance_id, actor)


@router.get("/acceptances/{acceptance_id}/items", summary="The sampled items with their decisions")
def acceptance_items(acceptance_id: PathId, decision: Literal["pending", "pass", "reject"] | None = None,
                     store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return tj.acceptance_items(store, acceptance_id, actor, decision)


@router.post("/acceptances/{acceptance_id}/items/{sample_id}", summary="Pass (rating) or reject (reason) an item")
def decide(acceptance_id: PathId, sample_id: SampleId, body: DecisionIn, store: Store = Depends(get_store),
           actor: str = Depends(get_actor)):
    tj.decide_acceptance_item(store, acceptance_id, sample_id, body.email, actor, body.passed, body.rating,
                              body.reason)
    return tj.acceptance_report(store, acceptance_id, actor)


@router.post("/acceptances/{acceptance_id}/finish", summary="Finish: write accepted work, send rejected back")
def finish(acceptance_id: PathId, body: FinishIn, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return tj.finish_acceptance(store, acceptance_id, actor, body.overwrite, body.scope)


@router.get("/jobs/{job_id}/annotators", summary="Per-annotator figures and inter-annotator agreement")
def annotators(job_id: JobId, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return {"annotators": tj.annotator_stats(store, job_id, actor=actor),
            "agreement": tj.agreement(store, job_id, actor=actor)}
