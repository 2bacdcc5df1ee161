"""Page handlers are methods of small objects (issue 15), so they can be called as a test calls a
function: the events the browser tests do not reach are checked here with a real store."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from pages.common import AppContext, UserError
from pages.team_job import TeamJobHandlers
from store.team_jobs import my_samples
from tests.factories import team_cats, upload_images


def as_user(name: str) -> SimpleNamespace:
    """What a handler reads of gr.Request: the logged-in user."""
    return SimpleNamespace(username=name)


def test_assign_evenly_gives_the_new_samples_to_the_labelers(store):
    job = team_cats(store, "pw-pw-pw-pw", n=4)
    upload_images(store, job.id, 3, prefix="late", start=10)  # arrive after the team job was made
    h = TeamJobHandlers(AppContext(store))
    out = h.tj_on_assign(job.id, ["ann@example.org"], as_user("boss"))
    assert out[-1] == "Assigned ann@example.org: 3."
    assert my_samples(store, job.id, "ann")[1] == 7  # the team job's 4 and the 3 new ones
    with pytest.raises(UserError, match="assigned already"):
        h.tj_on_assign(job.id, ["ann@example.org"], as_user("boss"))


def test_next_after_a_sample_left_the_view_is_the_one_after_it(store, tmp_path):
    """Saved on the Unlabeled tab, the open text leaves the view: Next opens the text after it,
    not the first of the next page (which skipped the rest of the page)."""
    from pages.labeling.spans import SpansPage
    from store.annotations import set_annotation
    from store.jobs import create_job
    from store.labelset import Label, LabelSet
    from store.samples import SampleQuery, query_samples

    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "a.txt").write_text("".join(f"text number {i}\n" for i in range(6)), encoding="utf-8")
    job = create_job(store, "ner", "named_entity_recognition", source=str(folder),
                     label_set=LabelSet(labels=[Label("X")]))
    ids = [s.id for s in query_samples(store, job.id, SampleQuery(page_size=10)).items]
    page = SpansPage.__new__(SpansPage)  # the view's queries need only the store
    page.store = store
    set_annotation(store, job.id, ids[1], {"spans": [{"start": 0, "end": 4, "label": "X"}]})
    assert page.neighbour(job.id, "unlabeled", 1, ids[1], 1, 3) == (ids[2], 1)
    assert page.neighbour(job.id, "unlabeled", 1, ids[1], -1, 3) == (ids[0], 1)
    assert page.neighbour(job.id, "all", 1, ids[2], 1, 3) == (ids[3], 2)  # across pages
    assert page.neighbour(job.id, "all", 2, ids[5], 1, 3) == (None, 2)  # the end
