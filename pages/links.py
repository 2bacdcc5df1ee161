"""Deep links: the address bar says where the user is (`/?job=ID&tab=TAB&sample=ID`) and opening
such a link (after logging in) lands there, as far as the user's role on the job allows.

The server writes the place it opened into a hidden element (`#lp-link`); assets/links.js keeps
the address bar in step with it, with the selected tab and the sample open in the visible editor.
Where a link lands is decided here from the store's access rules (store/access.py): a job the
user may not see lands on My Creations with a message, a tab their role does not reach lands on
the one it does (the creator's labeling page, a labeler's My Participations, a reviewer's Team
review).
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from urllib.parse import urlencode

from store import Store, StoreError
from store.access import job_role, parse_id, require_sample_in_job

# tabs a link may name (the others are not about a job: a link to them lands on them plainly)
JOB_TABS = ("label", "review", "stats", "participations", "team-review")
PLAIN_TABS = ("jobs", "teams", "team-job", "acceptance", "storage", "users")
# where each role lands when the link names no tab (or one the role does not reach)
HOME_OF_ROLE = {"owner": "label", "manager": "team-review", "reviewer": "team-review", "labeler": "participations"}
# which roles reach each job tab (the owner: all of them)
ROLES_OF_TAB = {"label": ("owner",), "review": ("owner",), "stats": ("owner", "manager", "reviewer"),
                "participations": ("labeler", "reviewer", "manager"), "team-review": ("owner", "manager", "reviewer")}
TAB_TITLES = {"label": "Labeling", "review": "Quick review", "stats": "Task statistics",
              "participations": "My Participations", "team-review": "Team review"}


@dataclass(frozen=True)
class Link:
    job: int | None = None
    tab: str = "jobs"
    sample: int | None = None

    @property
    def query(self) -> str:
        params = {"job": self.job, "tab": self.tab if self.tab != "jobs" or self.job else None,
                  "sample": self.sample}
        return urlencode({k: v for k, v in params.items() if v is not None})


HOME = Link()


def parse_link(params) -> tuple[Link, str | None]:
    """The place a URL's query names, and what was wrong with it (None: nothing). Ids are parsed
    as strictly as everywhere else (digits only)."""
    params = params or {}
    raw_job, raw_tab, raw_sample = params.get("job"), params.get("tab"), params.get("sample")
    tab = str(raw_tab or "").strip().lower()
    if tab and tab not in JOB_TABS + PLAIN_TABS:
        return HOME, f"this link names no tab of the app ({html.escape(str(raw_tab)[:40])})"
    if raw_job in (None, ""):
        return Link(tab=tab if tab in PLAIN_TABS else "jobs"), None
    try:
        job = parse_id(raw_job, "job id")
        sample = parse_id(raw_sample, "sample id") if raw_sample not in (None, "") else None
    except StoreError as e:
        return HOME, f"this link is not valid: {html.escape(str(e))}"
    return Link(job, tab or "", sample), None


def landing(store: Store, actor: str | None, link: Link) -> tuple[Link, str | None]:
    """Where `link` lands for the actor, and a message when it is not exactly there: the job's
    tab that the actor's role reaches; the sample only when it is the job's."""
    if link.job is None:
        return link, None
    try:
        role = job_role(store, link.job, actor)
    except StoreError:
        role = None
    if role is None:  # a job one may not see does not exist for them
        return HOME, f"job {link.job} does not exist, or you are not a member of it"
    tab, note = link.tab, None
    if tab in PLAIN_TABS:
        return Link(link.job, tab), None
    if tab not in JOB_TABS or role not in ROLES_OF_TAB[tab]:
        home = HOME_OF_ROLE.get(role, "jobs")
        if tab in JOB_TABS:
            note = f"{TAB_TITLES[tab]} of this job is not yours to open: here is {TAB_TITLES.get(home, home)}"
        tab = home
    sample = link.sample
    if sample is not None:
        try:
            require_sample_in_job(store, link.job, sample)
        except StoreError:
            sample, note = None, f"sample {link.sample} is not in this job (deleted?): the job opens without it"
    if tab in ("stats", "review", "team-review"):
        sample = None  # these pages open no single sample
    return Link(link.job, tab, sample), note


def link_html(link: Link, landed: bool = True) -> str:
    """The hidden element assets/links.js reads: the place the server last opened (`landed`
    False: the page as built, before the landing read the address: the script leaves it alone)."""
    return (f'<span class="lp-link" data-query="{html.escape(link.query, quote=True)}" '
            f'data-landed="{int(landed)}"></span>')
