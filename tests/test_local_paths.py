"""With local paths turned off (the default on a public Space) the server's disk stays closed."""
import io
import json

import pytest
from PIL import Image

from store import Settings, ValidationError, open_store
from store.imports import ImportItem, import_format, import_items, upload_files
from store.jobs import create_job


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def closed_store(tmp_path):
    s = open_store(Settings(data_dir=tmp_path / "data", demo=False, allow_local_paths=False))
    yield s
    s.close()


def test_local_folder_dataset_refused(closed_store, tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.png").write_bytes(png())
    with pytest.raises(ValidationError, match="turned off"):
        create_job(closed_store, "j", "image_classification", source=str(tmp_path / "imgs"))
    assert closed_store.db.scalar("SELECT count(*) FROM jobs") == 0


def test_manifest_naming_server_files_refused_but_uploads_work(closed_store, tmp_path):
    job = create_job(closed_store, "j", "image_classification")
    manifest = tmp_path / "m.manifest"
    manifest.write_text(json.dumps({"source": "/etc/hostname"}) + "\n")
    with pytest.raises(ValidationError, match="turned off"):
        import_format(closed_store, job.id, "manifest", str(manifest))
    rec = upload_files(closed_store, job.id, [("ok.png", png())])
    assert rec.imported == 1


def test_references_to_non_media_files_are_never_registered(store):
    job = create_job(store, "j", "image_classification")
    rec = import_items(store, job.id, [ImportItem("/etc/passwd", "/etc/passwd")], None, "refs", check=False)
    assert rec.imported == 0 and rec.status == "failed"
    assert "not accepted for Image classification" in rec.errors[0]
    assert store.db.scalar("SELECT count(*) FROM samples") == 0


def test_space_turns_local_paths_off_by_default(monkeypatch):
    monkeypatch.setenv("SPACE_ID", "someone/labelport")
    monkeypatch.delenv("LABELPORT_ALLOW_LOCAL_PATHS", raising=False)
    assert Settings.from_env().allow_local_paths is False
    monkeypatch.setenv("LABELPORT_ALLOW_LOCAL_PATHS", "1")
    assert Settings.from_env().allow_local_paths is True
