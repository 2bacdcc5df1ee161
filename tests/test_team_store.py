"""Team labeling rules in store/ (F5.1-F5.10): teams and members, assignment, review, acceptance,
finish, agreement, per-annotator figures, auto-assignment on synchronize. A real DuckDB store
in a temporary folder, real users (Argon2 hashes), text classification jobs (the cheapest)."""
from __future__ import annotations

from collections import Counter

import pytest

from store.annotations import set_annotation
from store.errors import Conflict, Forbidden, NotFound, ValidationError
from store.imports import upload_files
from store.jobs import create_job, synchronize
from store.labelset import parse_labels_argument
from store.team_jobs import (acceptance_items, acceptance_report, agreement, annotator_stats, decide_acceptance_item,
                             finish_acceptance, make_team_job, my_samples, reassign, review_queue, review_sample,
                             save_my_annotation, start_acceptance)
from store.teams import (add_members, create_team, delete_members, delete_team, list_members, require_team_owner,
                         update_member, update_team)
from store.users import add_user, hash_password

HASH = hash_password("password123")
PEOPLE = ("creator", "l1", "l2", "l3", "rev", "mgr", "outsider", "boss")


def email(name: str) -> str:
    return f"{name}@example.org"


@pytest.fixture
def st(store):
    for n in PEOPLE:
        add_user(store, n, email(n), password_hash=HASH, is_admin=n == "boss", actor="cli")
    return store


def text_job(store, n: int, name: str = "texts", owner: str = "creator"):
    job = create_job(store, name, "text_classification", label_set=parse_labels_argument("pos,neg"), actor=owner)
    upload_files(store, job.id, [("t.txt", "\n".join(f"text {i}" for i in range(n)).encode())], actor=owner)
    return job


def team_of(store, *members: tuple[str, str], owner: str = "creator", name: str = "crew"):
    team = create_team(store, name, owner=owner)
    add_members(store, team.id, [(email(m), "", r) for m, r in members], actor=owner)
    return team


def assigned(store, job_id: int) -> list[tuple[int, str, str]]:
    return store.db.fetchall("SELECT sample_id, email, state FROM assignments WHERE job_id = ? ORDER BY 1, 2",
                             [job_id])


def team_job(st, n: int = 10, labelers=("l1",), overlap: int = 1, name: str = "texts", **kw):
    job = text_job(st, n, name)
    team = team_of(st, *[(m, "labeler") for m in ("l1", "l2", "l3")], ("rev", "reviewer"), ("mgr", "manager"),
                   name=f"crew-{name}")
    counts = make_team_job(st, job.id, team.id, labelers=[email(x) for x in labelers], reviewers=[email("rev")],
                           overlap=overlap, actor="creator", seed=1, **kw)
    return job, team, counts


def label_all(st, job_id: int, who: str, label: str = "pos") -> list[int]:
    ids = [a.sample_id for a in my_samples(st, job_id, who, page_size=1000)[0]]
    for sid in ids:
        save_my_annotation(st, job_id, sid, who, {"labels": [label]})
    return ids


# -- teams and members (F5.1, F5.2) ------------------------------------------------------------
def test_team_limits(st):
    for i in range(10):
        create_team(st, f"team {i}", owner="creator")
    with pytest.raises(ValidationError, match="at most 10 teams"):
        create_team(st, "team 11", owner="creator")
    create_team(st, "team 11", owner="l1")  # the limit is per account
    with pytest.raises(Conflict):
        create_team(st, "team 11", owner="l1")
    tid = 1
    add_members(st, tid, [(f"m{i}@example.org", "", "labeler") for i in range(99)], actor="creator")
    add_members(st, tid, [("boss-of-team@example.org", "", "manager")], actor="creator")
    assert len(list_members(st, tid)) == 100
    with pytest.raises(ValidationError, match="at most 100 members"):
        add_members(st, tid, [("one-more@example.org", "", "labeler")], actor="creator")
    tid2 = 2
    with pytest.raises(ValidationError, match="one Team Manager"):
        add_members(st, tid2, [("a@example.org", "", "manager"), ("b@example.org", "", "Team Manager")],
                    actor="creator")
    add_members(st, tid2, [("a@example.org", "", "manager"), ("b@example.org", "", "labeler")], actor="creator")
    with pytest.raises(ValidationError, match="one Team Manager"):
        update_member(st, tid2, "b@example.org", role="manager", actor="creator")
    with pytest.raises(Conflict, match="already a member"):
        add_members(st, tid2, [("A@Example.org", "", "labeler")], actor="creator")  # emails are case-blind
    with pytest.raises(ValidationError, match="twice"):
        add_members(st, tid2, [("c@example.org", "", "labeler"), ("c@example.org", "", "reviewer")], actor="creator")
    for bad in ("not-an-email", "x@", "a b@example.org", ""):
        with pytest.raises(ValidationError, match="valid email"):
            add_members(st, tid2, [(bad, "", "labeler")], actor="creator")
    with pytest.raises(ValidationError, match="unknown role"):
        add_members(st, tid2, [("d@example.org", "", "boss")], actor="creator")
    assert len(list_members(st, tid2)) == 2  # all or nothing: no refused batch left a member


def test_only_the_owner_manages_a_team(st):
    team = team_of(st, ("l1", "labeler"))
    with pytest.raises(NotFound):  # a stranger: the team does not exist for them
        update_team(st, team.id, name="mine", actor="outsider")
    with pytest.raises(Forbidden):  # a member sees it but cannot manage it
        add_members(st, team.id, [(email("l2"), "", "labeler")], actor="l1")
    assert require_team_owner(st, team.id, "l1", read=True).id == team.id
    with pytest.raises(Forbidden):
        delete_members(st, team.id, [email("l1")], actor="l1")
    assert update_team(st, team.id, description="by the admin", actor="boss").description == "by the admin"
    assert update_team(st, team.id, name="renamed", actor="creator").name == "renamed"
    delete_team(st, team.id, actor="creator")


def test_member_with_open_work_is_deleted_only_after_reassignment(st):
    job, team, counts = team_job(st, 6, labelers=("l1", "l2"))
    assert counts == {email("l1"): 3, email("l2"): 3}
    with pytest.raises(Conflict, match="reassign"):
        delete_members(st, team.id, [email("l1")], actor="creator")
    assert reassign(st, job.id, email("l1"), email("l2"), actor="creator") == 3
    assert delete_members(st, team.id, [email("l1")], actor="creator") == 1
    assert Counter(e for _, e, _ in assigned(st, job.id)) == {email("l2"): 6}


# -- assignment (F5.3) -------------------------------------------------------------------------
def test_even_random_assignment(st):
    job, _, counts = team_job(st, 101, labelers=("l1", "l2", "l3"))
    assert sorted(counts.values()) == [33, 34, 34]
    rows = assigned(st, job.id)
    assert len({s for s, _, _ in rows}) == 101 and len(rows) == 101  # every unlabeled sample, once
    job2, _, counts2 = team_job(st, 50, labelers=("l1", "l2", "l3"), overlap=2, name="overlap")
    assert max(counts2.values()) - min(counts2.values()) <= 1 and sum(counts2.values()) == 100
    per_sample = Counter(s for s, _, _ in assigned(st, job2.id))
    assert set(per_sample.values()) == {2} and len(per_sample) == 50  # k distinct labelers (primary key)


def test_labeled_samples_are_not_assigned(st):
    job = text_job(st, 5)
    first = st.db.scalar("SELECT min(sample_id) FROM job_samples WHERE job_id = ?", [job.id])
    set_annotation(st, job.id, first, {"labels": ["neg"]}, actor="creator")
    team = team_of(st, ("l1", "labeler"))
    assert make_team_job(st, job.id, team.id, labelers=[email("l1")], actor="creator") == {email("l1"): 4}


# -- review (F5.6) -----------------------------------------------------------------------------
def test_review_reject_fix_approve(st):
    job, _, _ = team_job(st, 3, labelers=("l1",))
    sid = label_all(st, job.id, "l1")[0]
    with pytest.raises(Forbidden):
        review_sample(st, job.id, sid, email("l1"), "l1", approve=True, rating="A")
    with pytest.raises(NotFound):
        review_queue(st, job.id, "outsider")
    with pytest.raises(ValidationError, match="rating"):
        review_sample(st, job.id, sid, email("l1"), "rev", approve=True)
    with pytest.raises(ValidationError, match="reason"):
        review_sample(st, job.id, sid, email("l1"), "rev", approve=False, reason="  ")
    a = review_sample(st, job.id, sid, email("l1"), "rev", approve=False, reason="wrong label")
    assert (a.state, a.reason, a.reviewer) == ("rejected", "wrong label", "rev")
    back = my_samples(st, job.id, "l1", state="rejected")[0]
    assert [(x.sample_id, x.reason) for x in back] == [(sid, "wrong label")]  # back to its labeler, with the reason
    with pytest.raises(Conflict):
        review_sample(st, job.id, sid, email("l1"), "rev", approve=True, rating="A")
    fixed = save_my_annotation(st, job.id, sid, "l1", {"labels": ["neg"]})
    assert (fixed.state, fixed.reason, fixed.labels) == ("to_be_reviewed", None, ["neg"])
    ok = review_sample(st, job.id, sid, email("l1"), "rev", approve=True, rating="b")
    assert (ok.state, ok.rating) == ("approved", "B")
    with pytest.raises(Forbidden, match="approved"):
        save_my_annotation(st, job.id, sid, "l1", {"labels": ["pos"]})
    with pytest.raises(NotFound):  # not assigned to l2
        save_my_annotation(st, job.id, sid, "l2", {"labels": ["pos"]})


# -- acceptance (F5.7, F5.8) -------------------------------------------------------------------
def test_acceptance_by_percent_and_count_and_report(st):
    job, _, _ = team_job(st, 10, labelers=("l1",))
    with pytest.raises(ValidationError, match="at least one sample is labeled"):
        start_acceptance(st, job.id, "creator")
    label_all(st, job.id, "l1")
    for who in ("l1", "rev"):
        with pytest.raises(Forbidden):
            start_acceptance(st, job.id, who)
    acc = start_acceptance(st, job.id, "creator", "percent", 50, seed=3)
    items = acceptance_items(st, acc.id, "creator")
    assert len(items) == 5
    with pytest.raises(Conflict, match="in progress"):
        start_acceptance(st, job.id, "creator", "count", 2)
    decide_acceptance_item(st, acc.id, items[0]["sample_id"], items[0]["email"], "creator", True, "A")
    decide_acceptance_item(st, acc.id, items[1]["sample_id"], items[1]["email"], "creator", True, "C")
    decide_acceptance_item(st, acc.id, items[2]["sample_id"], items[2]["email"], "creator", False, reason="typo")
    with pytest.raises(ValidationError, match="reason"):
        decide_acceptance_item(st, acc.id, items[3]["sample_id"], items[3]["email"], "creator", False)
    with pytest.raises(Forbidden):  # a member cannot decide
        decide_acceptance_item(st, acc.id, items[3]["sample_id"], items[3]["email"], "l1", True, "A")
    r = acceptance_report(st, acc.id, "creator")
    assert (r["sampled"], r["pending"], r["passed"], r["rejected"]) == (5, 2, 2, 1)
    assert r["pass_rate"] == pytest.approx(2 / 3, abs=1e-4) and r["labeled_waiting"] == 10
    done = finish_acceptance(st, acc.id, "creator", overwrite=False, scope="remaining_pass")
    assert (done["status"], done["accepted"], done["rejected_total"]) == ("finished", 9, 1)
    with pytest.raises(Conflict):
        decide_acceptance_item(st, acc.id, items[0]["sample_id"], items[0]["email"], "creator", False, reason="x")
    # the rejected one is fixed, then a second acceptance by count
    rejected = my_samples(st, job.id, "l1", state="rejected")[0]
    assert [x.reason for x in rejected] == ["typo"]
    save_my_annotation(st, job.id, rejected[0].sample_id, "l1", {"labels": ["neg"]})
    acc2 = start_acceptance(st, job.id, "creator", "count", 3)
    assert len(acceptance_items(st, acc2.id, "creator")) == 1  # only one labeled sample waits: min(3, 1)


def _accepting_job(st, name: str):
    """6 labeled samples; an acceptance of 4 with one pass and one reject decided."""
    job, _, _ = team_job(st, 6, labelers=("l1",), name=name)
    label_all(st, job.id, "l1")
    acc = start_acceptance(st, job.id, "creator", "count", 4, seed=5)
    items = acceptance_items(st, acc.id, "creator")
    decide_acceptance_item(st, acc.id, items[0]["sample_id"], items[0]["email"], "creator", True, "A")
    decide_acceptance_item(st, acc.id, items[1]["sample_id"], items[1]["email"], "creator", False, reason="bad")
    return job, acc, items[0]["sample_id"], items[1]["sample_id"]


@pytest.mark.parametrize("scope, accepted", [("all_pass", 6), ("all_reject", 0), ("remaining_pass", 5),
                                             ("remaining_reject", 1)])
def test_finish_scopes(st, scope, accepted):
    job, acc, passed, failed = _accepting_job(st, scope)
    r = finish_acceptance(st, acc.id, "creator", overwrite=True, scope=scope)
    assert (r["accepted"], r["rejected_total"]) == (accepted, 6 - accepted)
    states = {s: state for s, _, state in assigned(st, job.id)}
    assert Counter(states.values()) == Counter({"accepted": accepted, "rejected": 6 - accepted}) - Counter()
    labeled = {r[0] for r in st.db.fetchall("SELECT sample_id FROM job_samples WHERE job_id = ? AND status = "
                                            "'labeled'", [job.id])}
    assert labeled == {s for s, state in states.items() if state == "accepted"}
    if scope.startswith("remaining"):  # decided items keep their decision
        assert states[passed] == "accepted" and states[failed] == "rejected"
    if accepted:  # accepted work is closed to members
        closed = next(s for s, state in states.items() if state == "accepted")
        with pytest.raises(Forbidden, match="accepted"):
            save_my_annotation(st, job.id, closed, "l1", {"labels": ["neg"]})
    if accepted < 6:
        reasons = st.db.fetchall("SELECT DISTINCT reason FROM assignments WHERE job_id = ? AND state = 'rejected'",
                                 [job.id])
        assert reasons


@pytest.mark.parametrize("overwrite", [False, True])
def test_finish_overwrite_policy(st, overwrite):
    job, _, _ = team_job(st, 3, labelers=("l1",))
    ids = label_all(st, job.id, "l1", "pos")
    set_annotation(st, job.id, ids[0], {"labels": ["neg"]}, actor="creator")  # the job has its own label there
    acc = start_acceptance(st, job.id, "creator", "percent", 100)
    finish_acceptance(st, acc.id, "creator", overwrite=overwrite, scope="all_pass")
    labels = dict(st.db.fetchall("SELECT sample_id, labels FROM job_samples WHERE job_id = ?", [job.id]))
    assert labels[ids[0]] == (["pos"] if overwrite else ["neg"])
    assert labels[ids[1]] == labels[ids[2]] == ["pos"]


# -- figures (F5.9, F1.7) ----------------------------------------------------------------------
def test_agreement_kappa_on_a_crafted_overlap(st):
    job, _, _ = team_job(st, 4, labelers=("l1", "l2"), overlap=2)
    ids = sorted(a.sample_id for a in my_samples(st, job.id, "l1")[0])
    first = ["pos", "pos", "neg", "neg"]
    second = ["pos", "neg", "neg", "neg"]
    for sid, a, b in zip(ids, first, second):
        save_my_annotation(st, job.id, sid, "l1", {"labels": [a]})
        save_my_annotation(st, job.id, sid, "l2", {"labels": [b]})
    ag = agreement(st, job.id)
    assert (ag["samples"], ag["raters"]) == (4, 2)
    # by hand, label "pos": rater 1 yes on 2 of 4, rater 2 on 1 of 4; they agree on 3 of 4.
    # Cohen: po = 3/4, pe = 1/2*1/4 + 1/2*3/4 = 1/2 -> kappa = (3/4 - 1/2) / (1/2) = 0.5
    # Fleiss: yes counts 2,1,0,0; p = 3/8, Pe = (3/8)^2 + (5/8)^2 = 34/64; P_i = 1,0,1,1 -> Pbar = 3/4
    #         kappa = (3/4 - 34/64) / (1 - 34/64) = 14/30 = 0.4667
    assert ag["per_label"]["pos"]["cohen_kappa"] == pytest.approx(0.5)
    assert ag["per_label"]["pos"]["fleiss_kappa"] == pytest.approx(14 / 30, abs=1e-4)
    assert ag["per_label"]["neg"]["cohen_kappa"] == pytest.approx(0.5)  # symmetric with one label a sample


def test_annotator_stats(st):
    job, _, _ = team_job(st, 6, labelers=("l1", "l2"))
    ids = label_all(st, job.id, "l1")
    review_sample(st, job.id, ids[0], email("l1"), "rev", approve=True, rating="A")
    review_sample(st, job.id, ids[1], email("l1"), "rev", approve=True, rating="A")
    review_sample(st, job.id, ids[2], email("l1"), "rev", approve=False, reason="no")
    stats = {s["annotator"]: s for s in annotator_stats(st, job.id)}
    assert stats[email("l1")] == {"annotator": email("l1"), "assigned": 3, "labeled": 2, "approved": 2,
                                  "rejected": 1, "accepted": 0, "ratings": {"A": 2}}
    assert (stats[email("l2")]["assigned"], stats[email("l2")]["labeled"]) == (3, 0)


def test_auto_assign_on_synchronize(st, tmp_path):
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_text("one\ntwo\nthree\nfour\n", encoding="utf-8")
    job = create_job(st, "synced", "text_classification", source=str(folder),  # a server folder: an admin's
                     label_set=parse_labels_argument("pos,neg"), actor="boss")
    team = team_of(st, ("l1", "labeler"), ("l2", "labeler"), owner="boss")
    counts = make_team_job(st, job.id, team.id, labelers=[email("l1"), email("l2")], auto_assign_new=True,
                           actor="boss")
    assert sum(counts.values()) == 4
    (folder / "b.txt").write_text("five\nsix\nseven\n", encoding="utf-8")
    synchronize(st, job.id, actor="boss")
    rows = assigned(st, job.id)
    assert len(rows) == 7 and len({s for s, _, _ in rows}) == 7
    per = Counter(e for _, e, _ in rows)
    assert max(per.values()) - min(per.values()) <= 1
    synchronize(st, job.id, actor="boss")  # nothing new: nothing more
    assert len(assigned(st, job.id)) == 7
