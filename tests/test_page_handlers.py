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
