"""The Gradio UI: My Creations, the labeling pages (one per labeling widget, shown and filled for
the job's type), quick review and task statistics, sharing the current job."""
from __future__ import annotations

import importlib
import inspect
import os
import secrets
import threading
from collections import OrderedDict
from pathlib import Path

import gradio as gr

from pages import acceptance, jobs, participations, quick_review, statistics, team_job, team_review, teams, trash
from components.autolabel_panel import AutolabelPanel
from components.data_panel import DataPanel
from pages.common import AppContext, errors_as_toasts, readable_job, UserError, esc
from pages.links import HOME, JOB_TABS, Link, landing, link_html, parse_link
from pages import users as users_admin
from store import Store
from store.access import is_admin, member_roles, parse_id, require_job
from store.errors import Forbidden, StoreError
from store.jobs import get_job
from store.types import REGISTRY
from auth import multi_user

ASSETS = Path(__file__).resolve().parent / "assets"
CSS = (ASSETS / "style.css").read_text(encoding="utf-8")
# run once when the page loads: keyboard shortcuts, and the address bar of deep links (pages/links.py)
PAGE_JS = ("() => {\n" + "".join(f"({(ASSETS / name).read_text(encoding='utf-8').strip()})();\n"
                                  for name in ("shortcuts.js", "links.js", "notices.js")) + "}")
SINGLE_USER = "Single-user mode (no users configured)"



def labeling_pages() -> dict[str, tuple]:
    """page key -> (the module under pages/ that labels, the type ids it labels), as the registry
    (store/types) says: types that name the same module share one page (one widget, built once)."""
    modules: dict[str, list[str]] = {}
    for t in REGISTRY.values():
        if t.available:
            modules.setdefault(t.page, []).append(t.id)
    return {name.rsplit(".", 1)[-1]: (importlib.import_module(name), tuple(ids)) for name, ids in modules.items()}


# Gradio recomputes a per-function timing summary (pandas, its last 10,000 events grouped by function)
# after every event by default: with this UI's ~480 functions that is ~0.2 s of the server's CPU per
# click, paid by everyone. Only Gradio's monitoring page reads it: compute it once per 100,000 events.
ANALYTICS_EVERY = "100000"


def build_ui(store: Store) -> gr.Blocks:
    ctx = AppContext(store)
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", ANALYTICS_EVERY)  # read when Blocks makes its queue
    with gr.Blocks(title="Labelport", analytics_enabled=False) as demo:
        current_job = gr.State(None)
        with gr.Row(elem_id="lp-topbar"):
            gr.Markdown("# Labelport\nData labeling on your own machine", elem_id="lp-title")
            user_md = gr.Markdown(SINGLE_USER if not multi_user(store) else "", elem_id="lp-user")
            busy = gr.Markdown("", elem_id="lp-busy", min_height=28)  # every event's progress (progress_on)
        # which tabs the user sees: a style sheet written on load (see tabs_for_role)
        role_style = gr.HTML("", elem_id="lp-role-style", container=False)
        link = gr.HTML(link_html(HOME, landed=False), elem_id="lp-link", container=False)  # the address bar's (pages/links.py)
        with gr.Tabs(elem_id="lp-tabs") as tabs:
            with gr.Tab("My Creations", id="jobs", elem_id="tab-jobs"):
                jobs_page = jobs.build(ctx)
            with gr.Tab("Labeling", id="label", elem_id="tab-label"):
                # views: page key -> its page; view_of: type id -> the key of the page that labels it
                columns, views, view_of = {}, {}, {}
                for key, (module, type_ids) in labeling_pages().items():
                    with gr.Column(visible="image_classification" in type_ids, elem_id=f"page-{key}") as col:
                        views[key] = module.build(ctx, current_job)
                    columns[key] = col
                    view_of.update({t: key for t in type_ids})
                # one Add data / Export and one Auto labeling panel for every page, filled per job
                with gr.Column(elem_id="page-panels"):
                    data_panel, auto_panel = DataPanel(ctx, current_job), AutolabelPanel(ctx, current_job)
            with gr.Tab("Quick review", id="review", elem_id="tab-review"):
                review_page = quick_review.build(ctx, current_job)
            with gr.Tab("Task statistics", id="stats", elem_id="tab-stats"):
                stats_page = statistics.build(ctx, current_job)
            with gr.Tab("Storage", id="storage", elem_id="tab-storage") as storage_tab:  # mirror status
                storage_page = importlib.import_module("pages.storage").build(ctx)
                storage_tab.select(storage_page.load, None, storage_page.outputs)
            with gr.Tab("Trash", id="trash", elem_id="tab-trash") as trash_tab:  # deleted jobs and samples
                trash_page = trash.build(ctx)
            with gr.Tab("Labeling Teams", id="teams", elem_id="tab-teams") as teams_tab:
                teams_page = teams.build(ctx)
            with gr.Tab("Team job", id="team-job", elem_id="tab-team-job") as team_job_tab:
                team_job_page = team_job.build(ctx, jobs_page.job)
            with gr.Tab("Acceptance", id="acceptance", elem_id="tab-acceptance") as acceptance_tab:
                acceptance_page = acceptance.build(ctx, jobs_page.job)
            with gr.Tab("My Participations", id="participations", elem_id="tab-participations") as part_tab:
                part_page = participations.build(ctx)
            with gr.Tab("Team review", id="team-review", elem_id="tab-team-review") as team_review_tab:
                team_review_page = team_review.build(ctx)
            with gr.Tab("Users", id="users", elem_id="tab-users") as users_tab:  # admins (F6.4)
                users_page = users_admin.build(ctx)
        # the footer: the REST API's documentation (Gradio's own "Use via API" page lists UI plumbing)
        gr.HTML('<a href="/api/v1/docs" target="_blank" rel="noopener" id="lp-api-docs">REST API</a>',
                elem_id="lp-footer", container=False)

        # Opening a job fills only its type's page: open_labeling sets that page's trigger, whose
        # change event loads it. (One event writing every page's outputs cost ~10 s in Chromium:
        # Gradio's front end walks the whole layout for each output's loading status.)
        triggers = {key: gr.State(None) for key in views}
        review_trigger, stats_trigger, part_trigger, team_review_trigger = (gr.State(None) for _ in range(4))
        panels_trigger = gr.State(None)
        panels_trigger.change(PanelsLoader(store, data_panel, auto_panel), [panels_trigger],
                              data_panel.outputs + auto_panel.outputs, api_name="load_panels")
        # an import, a finished run, a bulk confirm: the open job's page refreshes its view
        for panel, side in ((data_panel, "data"), (auto_panel, "auto")):
            routed = {k: getattr(page, side).state for k, page in views.items() if getattr(page, side).state}
            for event in panel.events:
                event.success(RefreshRoute(store, list(routed), view_of), [current_job], list(routed.values()),
                              show_progress="hidden")
        for key, page in views.items():
            triggers[key].change(PageLoader(page.load), [triggers[key]], page.load_outputs, api_name=f"load_{key}")
        review_trigger.change(PageLoader(review_page.load), [review_trigger], review_page.load_outputs,
                              api_name="load_quick_review")
        # where a deep link lands: the same loaders as the tabs' own, for the job that landing() allowed
        stats_trigger.change(PageLoader(stats_page.load, with_request=True), [stats_trigger], stats_page.outputs,
                             api_name="load_stats")
        part_trigger.change(PageLoader(part_page.open, with_request=True), [part_trigger], part_page.outputs,
                            api_name="load_participations")
        team_review_trigger.change(PageLoader(team_review_page.load, with_request=True), [team_review_trigger],
                                   team_review_page.outputs, api_name="load_team_review")
        place_outputs = ([current_job, tabs, link] + list(columns.values()) + list(triggers.values())
                         + [review_trigger, stats_trigger, part_trigger, team_review_trigger, panels_trigger])

        def place(job, link_to: Link, landed: bool = True) -> list:
            """Updates for place_outputs that open link_to (landing() or a button allowed it)."""
            tab = link_to.tab if link_to.tab in JOB_TABS else "jobs"  # other tabs: links.js clicks them
            opened = (link_to.job, secrets.token_hex(4), link_to.sample)  # a new value: reopening reloads
            # the labeling page and its quick review open together (both the creator's)
            label = tab in ("label", "review") and job is not None and job.type in view_of
            # a plain visit selects no tab: a click on Label before the landing answered keeps its tab
            out = [link_to.job if tab in ("label", "review", "stats") else gr.skip(),
                   gr.Tabs(selected=tab) if link_to.job is not None else gr.skip(), link_html(link_to, landed)]
            out += [gr.Column(visible=k == view_of[job.type]) if label else gr.skip() for k in columns]
            out += [opened if label and k == view_of[job.type] else gr.skip() for k in triggers]
            out += [opened if label else gr.skip(),
                    opened if tab == "stats" else gr.skip(),
                    opened if tab == "participations" else gr.skip(),
                    opened if tab == "team-review" else gr.skip(),
                    opened if label else gr.skip()]
            return out

        def open_labeling(job_id, request: gr.Request):
            if job_id is None:
                raise UserError("pick a job first")
            try:  # the creator's labeling page: the job's owner only (team members: My Participations)
                job_id = parse_id(job_id, "job id")
                require_job(store, ctx.actor(request), job_id, "label")
                job = get_job(store, job_id, actor=ctx.actor(request))
            except Forbidden:
                raise UserError("you label this job in My Participations (reviewers: Team review); "
                               "the labeling page is the job creator's") from None
            except StoreError as e:
                raise UserError(esc(e)) from None
            if job.type not in view_of:
                raise UserError(f"the {job.labeling_type.title} labeling page is not available yet")
            return place(job, Link(job_id, "label"))

        def open_stats(job_id, request: gr.Request):
            if job_id is None:
                raise UserError("pick a job first")
            try:
                job_id = parse_id(job_id, "job id")
                require_job(store, ctx.actor(request), job_id, "read")
            except StoreError as e:
                raise UserError(esc(e)) from None
            return place(None, Link(job_id, "stats"))

        def land(request: gr.Request):
            """The page opens: who is logged in, which tabs their role shows, the job list, and the
            place the address names (?job=&tab=&sample=) as far as the user's role allows
            (pages/links.py); a message says where it fell short. (One load event, not three.)"""
            actor = ctx.actor(request)
            wanted, problem = parse_link(dict(request.query_params) if request is not None else {})
            to, note = landing(store, actor, wanted) if problem is None else (HOME, problem)
            if note:
                gr.Warning(note, title="Link")
            job = None
            if to.job is not None:
                job = get_job(store, to.job, actor=actor)
                if to.tab == "label" and job.type not in view_of:
                    to = Link(to.job, "stats")
            return ([user_line(store, request), tabs_for_role(ctx, request)]
                    + list(jobs_page.refresh(request, picked=to.job)) + place(job, to))

        jobs_page.label_btn.click(open_labeling, [jobs_page.job], place_outputs)
        jobs_page.stats_btn.click(open_stats, [jobs_page.job], place_outputs)
        demo.load(land, None, [user_md, role_style, jobs_page.table, jobs_page.job, jobs_page.default_job]
                  + place_outputs).then(None, [jobs_page.job, jobs_page.default_job], [jobs_page.job],
                                        js=jobs.KEEP_PICK_JS)
        teams_tab.select(teams_page.load, [teams_page.outputs[1]], teams_page.outputs)
        team_job_tab.select(team_job_page.load, [jobs_page.job], team_job_page.outputs)
        acceptance_tab.select(acceptance_page.load, [jobs_page.job], acceptance_page.outputs)
        part_tab.select(part_page.load, part_page.inputs, part_page.outputs)
        team_review_tab.select(team_review_page.load, [team_review_page.outputs[0]], team_review_page.outputs)
        users_tab.select(users_page.load, [users_page.outputs[1]], users_page.outputs)
        trash_tab.select(trash_page.load, [trash_page.outputs[1]], trash_page.outputs)
        # a job restored from the Trash is in My Creations' list at once
        trash_page.restored.then(jobs_page.refresh, None, [jobs_page.table, jobs_page.job, jobs_page.default_job])
    hide_ui_events_from_api_page(demo)
    progress_on(demo, busy)
    errors_as_toasts(demo)  # a refusal is a toast; outputs keep their values (issue 15)
    return demo


class OncePerOpening:
    """A trigger's change event runs once for each value written to it, per session. Gradio
    reports a State as changed by an event when its value differs after the event from before,
    so an event that merely lists the trigger among its outputs (the page's `land`, still running
    when the user clicked Label) reports the other event's change again: the page loaded twice,
    and the second load, answered after the user had started editing, replaced their unsaved
    span with the stored text."""

    def __init__(self, size: int = 4096):
        self._seen: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()
        self.size = size

    def first(self, opened) -> bool:
        """True the first time this session's trigger holds `opened` (a (job, nonce, ...) value)."""
        from gradio.context import LocalContext

        request = LocalContext.request.get(None)
        session = getattr(request, "session_hash", None) or ""
        with self._lock:
            if session and self._seen.get(session) == opened:
                return False
            self._seen[session] = opened
            self._seen.move_to_end(session)
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)
        return True


class PageLoader:
    """The change event of a page's trigger (a (job id, nonce) that open_labeling wrote after
    store/access.py allowed it): fill the page for that job (once for each opening)."""

    def __init__(self, load, with_request: bool = False):
        self.load = load
        self.with_request = with_request  # load(job, ..., request) (the pages that read the request)
        self.with_sample = len(inspect.signature(load).parameters) - with_request > 1  # opens a sample
        self.once = OncePerOpening()

    def __call__(self, opened):
        if not opened or not self.once.first(opened):  # nothing opened (the State is the server's), or done
            return gr.skip()
        args = [opened[0]] + ([opened[2] if len(opened) > 2 else None] if self.with_sample else [])
        if self.with_request:
            from gradio.context import LocalContext

            args.append(LocalContext.request.get(None))
        return self.load(*args)


class PanelsLoader:
    """The change event of the panels' trigger (set with the labeling page's, for a job that
    store/access.py allowed): fill the Add data / Export and Auto labeling panels for its type."""

    def __init__(self, store: Store, *panels):
        self.store, self.panels = store, panels
        self.once = OncePerOpening()

    def __call__(self, opened):
        if not opened or not self.once.first(opened):
            return gr.skip()
        job = readable_job(self.store, opened[0])  # None: deleted meanwhile (the page says so)
        return [u for panel in self.panels for u in panel.load(job)]


class RefreshRoute:
    """After a shared panel's event (an import, a finished run, a bulk confirm): a new value for
    the refresh State of the open job's page (pages/labeling/base.PanelRefresh), no change to
    the other pages'."""

    def __init__(self, store: Store, keys: list[str], view_of: dict[str, str]):
        self.store, self.keys, self.view_of = store, keys, view_of  # view_of: type id -> page key

    def __call__(self, job_id):
        job = readable_job(self.store, job_id)
        key = self.view_of.get(job.type) if job is not None else None
        out = [secrets.token_hex(4) if k == key else gr.skip() for k in self.keys]
        return out if len(out) != 1 else out[0]


ROLE_TABS = ("storage", "teams", "team-job", "acceptance", "participations", "team-review", "users")


def user_line(store: Store, request: gr.Request) -> str:
    """The header: who is logged in (with a log-out button: log-out is a POST), or single-user mode."""
    name = getattr(request, "username", None)
    if multi_user(store) and name:
        return (f'Logged in as **{esc(name)}** · <form method="post" action="/logout" '
                'style="display:inline;margin:0"><button type="submit" id="lp-logout" style="background:none;'
                'border:0;padding:0;font:inherit;color:inherit;text-decoration:underline;cursor:pointer">'
                'Log out</button></form>')
    return SINGLE_USER


def tabs_for_role(ctx: AppContext, request: gr.Request) -> str:
    """Which tabs the user sees, as a style sheet hiding the others' buttons: team tabs only once
    users exist; Storage and Users for admins; Team review for reviewers and managers. (Hiding is
    for the eye: the store refuses what a role may not do whatever is shown. A style sheet, not
    tab visibility updates: showing tabs that were built hidden made every later update of the
    labeling page re-render them, 10 s more in Chromium.)"""
    store = ctx.store
    actor = ctx.actor(request)
    multi = multi_user(store)
    admin = is_admin(store, actor)
    roles = member_roles(store, actor)
    shown = {"storage": admin, "users": admin, "teams": multi, "team-job": multi, "acceptance": multi,
             "participations": multi, "team-review": multi and (admin or bool(roles & {"reviewer", "manager"}))}
    hidden = [f"#tab-{t}-button" for t in ROLE_TABS if not shown[t]]
    return f"<style>{', '.join(hidden)} {{display: none !important;}}</style>" if hidden else ""


def progress_on(demo: gr.Blocks, indicator) -> int:
    """Every event shows its progress on one small indicator in the top bar, not on all its
    outputs. Gradio's front end keeps a loading status for every component any event has
    written, and on each event it updates all of them: with this UI's hundreds of outputs that
    was ~0.4 s of the browser's main thread per click, growing as the user worked. Returns how
    many events were changed (those naming their own progress components keep them)."""
    n = 0
    for block_fn in demo.fns.values():
        if block_fn.outputs and block_fn.show_progress_on is None:
            block_fn.show_progress_on = [indicator]
            n += 1
    return n


def hide_ui_events_from_api_page(demo: gr.Blocks) -> None:
    """UI plumbing stays off Gradio's API page (scripts use the REST API at /api/v1); the events
    stay callable by the page itself and by gradio_client."""
    for fn in demo.fns.values():
        if fn.api_visibility == "public":
            fn.api_visibility = "undocumented"
