"""Shared fixtures: a real DuckDB file and a local object folder in a temporary directory."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from gradio_import import skip_stub_writing  # noqa: E402

skip_stub_writing()  # as app.py does: importing gradio without writing its editor stubs
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SHARED_DATA = ROOT.parent / "shared" / "data"

pytest_plugins = ["tests.fixtures_s3"]


def pytest_configure(config):
    config.addinivalue_line("markers", "ray: starts a local Ray cluster (tests/test_ray_engine.py); skipped where Ray "
                                       "is not installed: pip install -r requirements-ray.txt")


@pytest.fixture(autouse=True, scope="session")
def _gradio_temp_dir(tmp_path_factory):
    os.environ["GRADIO_TEMP_DIR"] = str(tmp_path_factory.mktemp("gradio"))


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture
def settings(tmp_path):
    from store import Settings

    return Settings(data_dir=tmp_path / "data", demo=False)


@pytest.fixture
def store(settings):
    from store import open_store

    s = open_store(settings)
    yield s
    s.close()
