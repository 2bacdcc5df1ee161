"""Bad files through uploads, folder imports and annotation-file imports (SPEC F2.2, F2.6):
each refusal is a clear message in the import record, nothing else is saved, and the record's
status says whether anything got in."""
from __future__ import annotations

import io
import re
import resource

import pytest
from PIL import Image

from store.errors import NotFound, ValidationError
from store.imports import import_format, import_location, list_imports, upload_files
from store.samples import SampleQuery, query_samples, sample_thumbnail
from tests.factories import huge_png, image_bytes, new_job, table_count


def stored_files(settings) -> list[str]:
    root = settings.objects_root
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) if root.exists() else []


def samples(store, job_id):
    return query_samples(store, job_id, SampleQuery(page_size=500)).items


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


@pytest.fixture(scope="module")
def huge() -> bytes:
    return huge_png(20000, 20000)


def noisy(fmt: str) -> bytes:
    img = Image.effect_noise((64, 64), 80).convert("RGB" if fmt != "GIF" else "P")
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()


BAD_UPLOADS = [
    ("empty.png", b"", r"empty.png: the file is empty \(0 bytes\)"),
    ("notes.jpg", b"just some text, not an image\n", "notes.jpg: not an image"),
    ("trunc.png", truncated(noisy("PNG")), "trunc.png: the image is corrupt or truncated"),
    ("trunc.jpg", truncated(noisy("JPEG")), "trunc.jpg: the image is corrupt or truncated"),
    ("trunc.bmp", truncated(noisy("BMP")), "trunc.bmp: the image is corrupt or truncated"),
    ("trunc.gif", truncated(noisy("GIF")), "trunc.gif: the image is corrupt or truncated"),
    ("trunc.webp", truncated(noisy("WEBP")), "trunc.webp: the image is corrupt or truncated"),
    ("garbage.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "garbage.png: the image is corrupt|not an image"),
    ("image.tiff", image_bytes("TIFF"), "image.tiff: not accepted for Image classification"),
    ("tiff-inside.png", image_bytes("TIFF"), "tiff-inside.png: TIFF images are not accepted"),
]


@pytest.mark.parametrize("name, data, message", BAD_UPLOADS, ids=[c[0] for c in BAD_UPLOADS])
def test_a_bad_upload_is_refused_and_nothing_is_saved(store, settings, name, data, message):
    job = new_job(store, "bad")
    rec = upload_files(store, job.id, [(name, data)])
    assert rec.status == "failed" and (rec.found, rec.imported, rec.labeled) == (1, 0, 0)
    assert len(rec.errors) == 1
    assert re.search(message, rec.errors[0]), rec.errors
    assert len(rec.errors[0]) < 300 and "Traceback" not in rec.errors[0]
    assert stored_files(settings) == []
    assert table_count(store, "samples") == 0 and samples(store, job.id) == []
    assert list_imports(store, job.id)[0].errors == rec.errors and list_imports(store, job.id)[0].status == "failed"


def test_good_and_bad_together_is_partial(store, settings):
    job = new_job(store, "mixed")
    rec = upload_files(store, job.id, [("ok.png", image_bytes()), ("empty.png", b""), ("text.jpg", b"hello"),
                                       ("ok2.jpg", image_bytes("JPEG"))])
    assert (rec.status, rec.found, rec.imported) == ("partial", 4, 2)
    assert [e.split(":")[0] for e in rec.errors] == ["empty.png", "text.jpg"]
    assert stored_files(settings) == [f"datasets/{job.dataset_id}/ok.png", f"datasets/{job.dataset_id}/ok2.jpg"]
    assert sorted(s.name for s in samples(store, job.id)) == ["ok.png", "ok2.jpg"]


def test_an_empty_upload_list_is_refused(store, settings):
    job = new_job(store, "none")
    with pytest.raises(ValidationError, match="no files"):
        upload_files(store, job.id, [])
    rec = list_imports(store, job.id)[0]
    assert rec.status == "failed" and rec.imported == 0 and "no files" in rec.errors[0]
    assert stored_files(settings) == [] and table_count(store, "samples") == 0


@pytest.mark.parametrize("mode, fmt", [("RGBA", "PNG"), ("P", "PNG"), ("I;16", "PNG"), ("CMYK", "JPEG"),
                                       ("LA", "PNG"), ("1", "PNG"), ("L", "JPEG"), ("RGBA", "WEBP"),
                                       ("P", "GIF"), ("RGB", "BMP")])
def test_odd_modes_are_accepted_kept_and_shown(store, settings, mode, fmt):
    job = new_job(store, "modes")
    data = image_bytes(fmt, size=(40, 30), mode=mode, seed=3)
    name = f"odd.{fmt.lower()}"
    rec = upload_files(store, job.id, [(name, data)])
    assert rec.status == "succeeded", rec.errors
    (s,) = samples(store, job.id)
    assert (settings.objects_root / "datasets" / str(job.dataset_id) / name).read_bytes() == data  # kept as is
    assert s.meta["mode"] == Image.open(io.BytesIO(data)).mode
    thumb = Image.open(io.BytesIO(sample_thumbnail(store, s.id)))
    assert thumb.format == "WEBP" and thumb.mode in ("RGB", "RGBA") and thumb.size == (120, 90)


def test_palette_with_transparency_keeps_alpha_in_the_thumbnail(store):
    job = new_job(store, "ptrans")
    img = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    img.paste((255, 0, 0, 255), (0, 0, 10, 10))
    out = io.BytesIO()
    img.convert("P").save(out, "PNG", transparency=0)
    upload_files(store, job.id, [("p.png", out.getvalue())])
    thumb = Image.open(io.BytesIO(sample_thumbnail(store, samples(store, job.id)[0].id)))
    assert thumb.mode == "RGBA"


def test_a_20000x20000_image_is_refused_without_decoding_it(store, settings, huge):
    assert len(huge) < 1_000_000
    job = new_job(store, "huge")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    rec = upload_files(store, job.id, [("huge.png", huge)])
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert rec.status == "failed"
    assert "huge.png: 20000x20000 pixels (400 MP) is above the limit of 100 MP" in rec.errors[0]
    assert grown_mib < 150  # decoding it would take 400 MB
    assert stored_files(settings) == [] and table_count(store, "samples") == 0


def test_a_huge_image_in_a_folder_or_a_csv_is_refused_too(store, tmp_path, huge):
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "huge.png").write_bytes(huge)
    (folder / "ok.png").write_bytes(image_bytes())
    job = new_job(store, "huge")
    rec = import_location(store, job.id, str(folder))
    assert (rec.status, rec.found, rec.imported) == ("partial", 2, 1)
    assert "huge.png: 20000x20000 pixels" in rec.errors[0]
    (tmp_path / "list.csv").write_text("file,label\nimgs/huge.png,cat\n")
    job2 = new_job(store, "huge2")
    rec = import_format(store, job2.id, "csv", str(tmp_path / "list.csv"))
    assert (rec.status, rec.imported, rec.labeled) == ("failed", 0, 0)
    assert "20000x20000" in rec.errors[0]
    assert samples(store, job2.id) == []


def test_the_pixel_limit_is_a_setting(tmp_path):
    from store import Settings, open_store

    s = open_store(Settings(data_dir=tmp_path / "d", demo=False, max_image_pixels=100))
    try:
        job = new_job(s, "small")
        rec = upload_files(s, job.id, [("a.png", image_bytes(size=(11, 10))), ("b.png", image_bytes(size=(10, 10)))])
        assert rec.imported == 1 and "a.png: 11x10 pixels" in rec.errors[0]
    finally:
        s.close()


@pytest.mark.parametrize("given, stored", [
    ("../../../etc/evil.png", "evil.png"),
    ("..\\..\\win\\evil.png", "evil.png"),
    ("/abs/path/abs.png", "abs.png"),
    ("my holiday photo.png", "my holiday photo.png"),
    ("chat noir été 猫 кошка.png", "chat noir été 猫 кошка.png"),
    ("<img src=x onerror=alert(1)>.png", "_img src=x onerror=alert(1)_.png"),
    ('a"b|c*d?.png', "a_b_c_d_.png"),
    (".hidden.png", "hidden.png"),
    ("..png", "file.png"),
    ("e\u0301te\u0301.png", "été.png"),  # NFC
])
def test_file_names_are_kept_readable_inside_the_dataset_folder(store, settings, given, stored):
    job = new_job(store, "names")
    rec = upload_files(store, job.id, [(given, image_bytes())])
    assert rec.status == "succeeded", rec.errors
    folder = settings.objects_root / "datasets" / str(job.dataset_id)
    assert stored_files(settings) == [f"datasets/{job.dataset_id}/{stored}"]
    assert (folder / stored).resolve().parent == folder.resolve()
    (s,) = samples(store, job.id)
    assert s.name == stored and s.uri == f"store://datasets/{job.dataset_id}/{stored}"
    assert sample_thumbnail(store, s.id)[:4] == b"RIFF"


def test_same_name_twice_never_overwrites(store, settings):
    job = new_job(store, "twice")
    a, b = image_bytes(seed=1), image_bytes(seed=2)
    upload_files(store, job.id, [("x.png", a), ("x.png", b)])
    upload_files(store, job.id, [("x.png", a)])
    folder = settings.objects_root / "datasets" / str(job.dataset_id)
    assert sorted(p.name for p in folder.iterdir()) == ["x-2.png", "x-3.png", "x.png"]
    assert (folder / "x.png").read_bytes() == a and (folder / "x-2.png").read_bytes() == b


def test_wrong_extensions_for_the_type(store, settings):
    job = new_job(store, "ext")
    rec = upload_files(store, job.id, [("clip.mp4", b"\x00" * 10), ("noext", image_bytes()), ("a.png", image_bytes())])
    assert rec.status == "partial" and rec.imported == 1
    assert rec.errors[0].startswith("clip.mp4: not accepted for Image classification (accepted: jpg, jpeg")
    assert rec.errors[1].startswith("noext: not accepted")


def test_bad_files_in_a_folder_import(store, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "ok.png").write_bytes(image_bytes())
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.jpg").write_text("not an image")
    (folder / "trunc.jpg").write_bytes(truncated(noisy("JPEG")))
    (folder / "notes.txt").write_text("ignored: not an image extension")
    job = new_job(store, "folder")
    rec = import_location(store, job.id, str(folder))
    assert (rec.status, rec.found, rec.imported) == ("partial", 4, 1)
    assert sorted(e.split(":")[0] for e in rec.errors) == ["empty.png", "text.jpg", "trunc.jpg"]
    assert [s.name for s in samples(store, job.id)] == ["ok.png"]
    assert rec.mode == "local folder"


def test_a_folder_of_only_bad_files_fails(store, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "empty.png").write_bytes(b"")
    job = new_job(store, "folder")
    rec = import_location(store, job.id, str(folder))
    assert (rec.status, rec.imported) == ("failed", 0) and rec.errors


def test_missing_folder_and_empty_location(store, tmp_path):
    job = new_job(store, "missing")
    with pytest.raises(NotFound, match="folder not found"):
        import_location(store, job.id, str(tmp_path / "nope"))
    assert list_imports(store, job.id)[0].status == "failed"
    assert "folder not found" in list_imports(store, job.id)[0].errors[0]
    with pytest.raises(ValidationError, match="give a folder path"):
        import_location(store, job.id, "  ")
    assert table_count(store, "samples") == 0


def test_missing_file_in_an_annotation_import(store, tmp_path):
    job = new_job(store, "csv")
    (tmp_path / "ok.png").write_bytes(image_bytes())
    (tmp_path / "list.csv").write_text("file,label\nok.png,cat\nmissing.png,dog\n")
    rec = import_format(store, job.id, "csv", str(tmp_path / "list.csv"))
    assert (rec.status, rec.found, rec.imported, rec.labeled) == ("partial", 2, 1, 1)
    assert "missing.png" in rec.errors[0] and "not found" in rec.errors[0]
    assert [s.labels for s in samples(store, job.id)] == [["cat"]]


def test_import_of_a_missing_or_non_utf8_file(store, tmp_path):
    job = new_job(store, "bad-file")
    with pytest.raises(NotFound, match="file not found"):
        import_format(store, job.id, "manifest", str(tmp_path / "nope.jsonl"))
    (tmp_path / "latin1.csv").write_bytes("file,label\nimg.png,caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValidationError, match="not UTF-8"):
        import_format(store, job.id, "csv", str(tmp_path / "latin1.csv"))
    with pytest.raises(ValidationError, match="unknown format 'xml'"):
        import_format(store, job.id, "xml", str(tmp_path / "latin1.csv"))
    with pytest.raises(ValidationError, match="format 'csv' cannot import object_detection"):
        import_format(store, new_job(store, "det", labels=(), type_id="object_detection").id, "csv",
                      str(tmp_path / "latin1.csv"))
    assert table_count(store, "samples") == 0


def test_very_long_file_names_are_shortened_keeping_the_extension(store, settings):
    job = new_job(store, "long")
    rec = upload_files(store, job.id, [("a" * 300 + ".png", image_bytes()), ("猫" * 150 + ".jpeg", image_bytes("JPEG"))])
    assert rec.status == "succeeded", rec.errors
    names = sorted(s.name for s in samples(store, job.id))
    assert [n.rsplit(".", 1)[1] for n in names] == ["png", "jpeg"]
    assert all(len(n.encode()) <= 200 for n in names) and names[1].startswith("猫" * 10)
