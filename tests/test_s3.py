"""Object storage and jobs on S3, against a real S3-compatible HTTP server (moto_server on
127.0.0.1, see tests/fixtures_s3.py). boto3 talks HTTP to it; nothing is patched in-process."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.fixtures_s3 import AWS_ENV, S3_PREFIX, free_port

ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT.parent / "shared" / "data" / "digits_8x8" / "images"
UNREACHABLE_LIMIT_S = 60


def png_bytes(size=(12, 9), color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def digits(n: int) -> list[Path]:
    if not DIGITS.is_dir():
        pytest.skip(f"shared data folder {DIGITS} is absent")
    files = sorted(DIGITS.glob("*.png"))[:n]
    assert len(files) == n
    return files


def bucket_keys(client, bucket: str, prefix: str = "") -> list[str]:
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return sorted(keys)


def object_exists(client, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        client.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as e:
        assert e.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound")
        return False


def labels_of(names):
    from store.annotations import as_label_set

    return as_label_set(list(names))


def job_rows(store, job_id: int) -> list[tuple]:
    """Everything a job holds per sample: what must not change when something else fails."""
    return store.db.fetchall(
        "SELECT s.id, s.uri, s.path, s.size, js.status, js.labels, js.annotation, js.labeled_by "
        "FROM job_samples js JOIN samples s ON s.id = js.sample_id WHERE js.job_id = ? ORDER BY s.id", [job_id])


# -- S3Store -------------------------------------------------------------------------------------

def test_s3store_round_trip(s3_bucket):
    from store.errors import NotFound, ValidationError
    from store.objects import S3Store

    endpoint, bucket, client = s3_bucket
    s3 = S3Store(bucket, prefix="/pfx/", endpoint_url=endpoint)
    assert s3.prefix == "pfx"
    s3.check()  # the bucket answers

    data = {
        "a.txt": b"alpha",
        "dir/b c.bin": bytes(range(256)),
        "dir/ünï cødé 图 ß.png": png_bytes(),
        "dir/sub/deep file.txt": "déjà vu".encode(),
        "dir2/not-in-dir.txt": b"x",
    }
    for key, value in data.items():
        s3.put(key, value)
    # an object beside the prefix is not the store's
    client.put_object(Bucket=bucket, Key="pfx-other/outside.txt", Body=b"nope")
    client.put_object(Bucket=bucket, Key="outside.txt", Body=b"nope")

    # the keys in the bucket are the store's keys under the prefix, unicode and spaces intact
    assert bucket_keys(client, bucket, "pfx/") == sorted(f"pfx/{k}" for k in data)
    for key, value in data.items():
        assert s3.get(key) == value
        assert s3.exists(key)
        assert client.get_object(Bucket=bucket, Key=f"pfx/{key}")["Body"].read() == value
        assert s3.uri(key) == f"s3://{bucket}/pfx/{key}"
        assert s3.local_path(key) is None

    listed = {o.key: o.size for o in s3.list()}
    assert listed == {k: len(v) for k, v in data.items()}
    under_dir = {o.key: o.size for o in s3.list("dir")}
    assert under_dir == {k: len(v) for k, v in data.items() if k.startswith("dir/")}  # not dir2/
    assert {o.key for o in s3.list("dir/")} == set(under_dir)
    assert [o.key for o in s3.list("dir/sub")] == ["dir/sub/deep file.txt"]
    assert list(s3.list("nothing-here")) == []

    # keys are normalised: './' parts and leading slashes do not make new objects
    assert s3.get("/dir/./b c.bin") == data["dir/b c.bin"]

    # overwrite, then delete
    s3.put("a.txt", b"beta")
    assert s3.get("a.txt") == b"beta"
    s3.delete("dir/ünï cødé 图 ß.png")
    assert not s3.exists("dir/ünï cødé 图 ß.png")
    assert not object_exists(client, bucket, "pfx/dir/ünï cødé 图 ß.png")
    with pytest.raises(NotFound):
        s3.get("dir/ünï cødé 图 ß.png")
    s3.delete("never-was.txt")  # deleting what is not there is fine (S3 semantics)
    assert object_exists(client, bucket, "outside.txt")

    # keys that try to leave the prefix are refused before any request
    for bad in ("../outside.txt", "dir/../../outside.txt", "..", "a/..\\..\\outside.txt"):
        with pytest.raises(ValidationError, match=r"\.\."):
            s3.put(bad, b"evil")
        with pytest.raises(ValidationError):
            s3.get(bad)
        with pytest.raises(ValidationError):
            s3.delete(bad)
        with pytest.raises(ValidationError):
            s3.exists(bad)
        with pytest.raises(ValidationError):
            list(s3.list(bad))
    with pytest.raises(ValidationError):
        s3.put("", b"x")
    assert client.get_object(Bucket=bucket, Key="outside.txt")["Body"].read() == b"nope"
    assert bucket_keys(client, bucket, "pfx/") == sorted(f"pfx/{k}" for k in data if k != "dir/ünï cødé 图 ß.png")


def test_s3store_without_prefix_and_missing_bucket(s3_bucket):
    from store.errors import StorageError
    from store.objects import S3Store

    endpoint, bucket, client = s3_bucket
    s3 = S3Store(bucket, endpoint_url=endpoint)
    s3.put("top.txt", b"1")
    s3.put("a/b.txt", b"22")
    assert {o.key: o.size for o in s3.list()} == {"top.txt": 1, "a/b.txt": 2}
    assert s3.uri("a/b.txt") == f"s3://{bucket}/a/b.txt"

    missing = S3Store(bucket + "-missing", endpoint_url=endpoint)
    with pytest.raises(StorageError, match="does not exist"):
        missing.put("x.txt", b"x")
    with pytest.raises(StorageError):
        list(missing.list())


# -- a job on an s3:// prefix --------------------------------------------------------------------

def test_job_on_s3_prefix_registers_images_and_refuses_corrupt(s3_store, s3_bucket):
    from store.imports import list_imports
    from store.jobs import create_job, synchronize
    from store.samples import SampleQuery, counts, get_sample, query_samples, sample_bytes, sample_thumbnail

    _, bucket, client = s3_bucket
    images = {
        "prefix/red.png": png_bytes((16, 10), (255, 0, 0)),
        "prefix/sub/blue image ü.png": png_bytes((7, 5), (0, 0, 255)),
    }
    for f in digits(3):
        images[f"prefix/digits/{f.name}"] = f.read_bytes()
    for key, value in images.items():
        client.put_object(Bucket=bucket, Key=key, Body=value)
    client.put_object(Bucket=bucket, Key="prefix/broken.jpg", Body=b"this is text, not a JPEG\n" * 4)
    client.put_object(Bucket=bucket, Key="prefix/notes.txt", Body=b"not an image type: skipped by extension")
    client.put_object(Bucket=bucket, Key="prefix-sibling/green.png", Body=png_bytes(color=(0, 255, 0)))
    client.put_object(Bucket=bucket, Key="other/green.png", Body=png_bytes(color=(0, 255, 0)))

    source = f"s3://{bucket}/prefix/"
    job = create_job(s3_store, "x", "image_classification", source=source, label_set=labels_of(["a", "b"]))
    assert job.label_set.names() == ["a", "b"]

    c = counts(s3_store, job.id)
    assert c.total == len(images) == 5
    assert c.by_status == {"unlabeled": 5, "labeled": 0, "to_be_confirmed": 0}
    page = query_samples(s3_store, job.id, SampleQuery(page_size=50))
    assert sorted(s.uri for s in page.items) == sorted(f"s3://{bucket}/{k}" for k in images)
    assert sorted(s.path for s in page.items) == sorted(k[len("prefix/"):] for k in images)

    # the import record: found the 6 image-typed files, imported 5, refused the corrupt one clearly
    (record,) = list_imports(s3_store, job.id)
    assert record.mode == "synchronize"
    assert record.path == source
    assert (record.found, record.imported, record.status) == (6, 5, "partial")
    assert len(record.errors) == 1
    assert "broken.jpg" in record.errors[0]
    assert "not an image" in record.errors[0]

    # the sample reads back from S3, with its probed metadata, and makes a thumbnail
    red = next(s for s in page.items if s.path == "red.png")
    sample = get_sample(s3_store, job.id, red.id)
    assert sample.meta["width"] == 16 and sample.meta["height"] == 10 and sample.meta["format"] == "PNG"
    assert sample_bytes(s3_store, red.id) == images["prefix/red.png"]
    thumb = sample_thumbnail(s3_store, red.id)
    img = Image.open(io.BytesIO(thumb))
    assert img.format == "WEBP" and img.size[0] > 0
    assert sample_thumbnail(s3_store, red.id) == thumb  # second call: the cached file
    digit = next(s for s in page.items if s.path.startswith("digits/"))
    assert Image.open(io.BytesIO(sample_thumbnail(s3_store, digit.id))).format == "WEBP"

    # synchronize twice: nothing new
    rec2 = synchronize(s3_store, job.id)
    assert rec2.imported == 0 and rec2.found == 6
    assert counts(s3_store, job.id).total == 5
    rec3 = synchronize(s3_store, job.id)
    assert rec3.imported == 0
    assert counts(s3_store, job.id).total == 5

    # one more object: exactly one more sample
    client.put_object(Bucket=bucket, Key="prefix/new one.png", Body=png_bytes((3, 3)))
    rec4 = synchronize(s3_store, job.id)
    assert rec4.imported == 1 and rec4.found == 7
    assert counts(s3_store, job.id).total == 6
    newest = query_samples(s3_store, job.id, SampleQuery(name="new one")).items
    assert [s.uri for s in newest] == [f"s3://{bucket}/prefix/new one.png"]
    assert synchronize(s3_store, job.id).imported == 0
    assert len(list_imports(s3_store, job.id)) == 5

    # a second job on the same source shares the dataset and its samples
    job2 = create_job(s3_store, "x2", "image_classification", source=f"s3://{bucket}/prefix")
    assert job2.dataset_id == job.dataset_id
    assert counts(s3_store, job2.id).total == 6


# -- uploads with storage=s3 ---------------------------------------------------------------------

def test_upload_with_s3_storage(s3_store, s3_bucket):
    from store.imports import upload_files
    from store.jobs import create_job
    from store.samples import SampleQuery, query_samples, sample_bytes, sample_thumbnail

    _, bucket, client = s3_bucket
    job = create_job(s3_store, "uploads", "image_classification", label_set=labels_of(["a", "b"]))
    files = {
        "tiny.png": png_bytes((4, 4), (1, 2, 3)),
        "../../etc/passwd.png": png_bytes((5, 4), (4, 5, 6)),
        "<b>x</b> é.png": png_bytes((6, 4), (7, 8, 9)),
        "/abs/olute.png": png_bytes((7, 4), (10, 11, 12)),
        "..\\..\\win dows.png": png_bytes((8, 4), (13, 14, 15)),
    }
    digit = digits(1)[0]
    files[digit.name] = digit.read_bytes()
    rejected = [("broken.png", b"definitely not a png"), ("notes.txt", b"text")]
    rec = upload_files(s3_store, job.id, list(files.items()) + rejected)
    assert rec.mode == "upload"
    assert (rec.found, rec.imported) == (len(files) + 2, len(files))
    assert rec.status == "partial"
    assert len(rec.errors) == 2
    assert any("broken.png" in e for e in rec.errors)
    assert any("notes.txt" in e and "not accepted" in e for e in rec.errors)

    # every object is in the bucket under the configured prefix, in the dataset's folder
    area = f"{S3_PREFIX}/datasets/{job.dataset_id}/"
    keys = bucket_keys(client, bucket)
    assert len(keys) == len(files)
    for key in keys:
        assert key.startswith(area), key
        rest = key[len(area):]
        assert "/" not in rest and ".." not in rest and "\\" not in rest
        assert "<" not in rest and ">" not in rest
    assert f"{area}passwd.png" in keys
    assert f"{area}tiny.png" in keys
    assert not any("etc" in k for k in keys)

    # each sample reads back byte for byte, from its store:// URI, and shows
    page = query_samples(s3_store, job.id, SampleQuery(page_size=50)).items
    assert len(page) == len(files)
    stored = {s.uri: sample_bytes(s3_store, s.id) for s in page}
    assert sorted(stored.values()) == sorted(files.values())
    for s in page:
        assert s.uri.startswith(f"store://datasets/{job.dataset_id}/")
        key = S3_PREFIX + "/" + s.uri[len("store://"):]
        assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == stored[s.uri]
        assert s3_store.locations.public_uri(s.uri) == f"s3://{bucket}/{key}"
    assert Image.open(io.BytesIO(sample_thumbnail(s3_store, page[0].id))).format == "WEBP"

    # the same name again never overwrites
    again = png_bytes((9, 9), (99, 99, 99))
    rec2 = upload_files(s3_store, job.id, [("tiny.png", again)])
    assert rec2.imported == 1 and rec2.errors == []
    assert client.get_object(Bucket=bucket, Key=f"{area}tiny.png")["Body"].read() == files["tiny.png"]
    assert client.get_object(Bucket=bucket, Key=f"{area}tiny-2.png")["Body"].read() == again
    assert len(bucket_keys(client, bucket)) == len(files) + 1


def test_upload_to_job_on_s3_source_goes_to_store_area(s3_store, s3_bucket):
    from store.imports import upload_files
    from store.jobs import create_job
    from store.samples import counts

    _, bucket, client = s3_bucket
    client.put_object(Bucket=bucket, Key="src/one.png", Body=png_bytes())
    job = create_job(s3_store, "on-src", "image_classification", source=f"s3://{bucket}/src/")
    rec = upload_files(s3_store, job.id, [("up.png", png_bytes((2, 2)))])
    assert rec.imported == 1
    assert bucket_keys(client, bucket, "src/") == ["src/one.png"]  # the source prefix is not written to
    assert bucket_keys(client, bucket, f"{S3_PREFIX}/") == [f"{S3_PREFIX}/datasets/{job.dataset_id}/up.png"]
    assert counts(s3_store, job.id).total == 2


# -- deleting samples with their files -----------------------------------------------------------

def test_delete_samples_with_source_removes_s3_objects(s3_store, s3_bucket):
    from store.imports import upload_files
    from store.jobs import create_job
    from store.samples import SampleQuery, counts, delete_samples, query_samples

    _, bucket, client = s3_bucket
    for name in ("keep.png", "drop.png", "only-from-job.png"):
        client.put_object(Bucket=bucket, Key=f"data/{name}", Body=png_bytes())
    job = create_job(s3_store, "del", "image_classification", source=f"s3://{bucket}/data/")
    upload_files(s3_store, job.id, [("uploaded.png", png_bytes((3, 3)))])
    by_path = {s.path: s for s in query_samples(s3_store, job.id, SampleQuery()).items}
    assert set(by_path) == {"keep.png", "drop.png", "only-from-job.png", "uploaded.png"}
    uploaded_key = f"{S3_PREFIX}/" + by_path["uploaded.png"].uri[len("store://"):]
    assert object_exists(client, bucket, uploaded_key)

    # without delete_source the object stays
    res = delete_samples(s3_store, job.id, [by_path["only-from-job.png"].id])
    assert (res.removed, res.files_deleted, res.errors) == (1, 0, [])
    assert object_exists(client, bucket, "data/only-from-job.png")

    # with delete_source: an s3:// sample and an uploaded (store://) sample lose their objects
    res = delete_samples(s3_store, job.id, [by_path["drop.png"].id, by_path["uploaded.png"].id],
                         delete_source=True)
    assert (res.removed, res.files_deleted, res.errors) == (2, 2, [])
    assert not object_exists(client, bucket, "data/drop.png")
    assert not object_exists(client, bucket, uploaded_key)
    assert object_exists(client, bucket, "data/keep.png")
    assert s3_store.db.scalar("SELECT count(*) FROM samples WHERE id IN (?, ?)",
                              [by_path["drop.png"].id, by_path["uploaded.png"].id]) == 0
    assert counts(s3_store, job.id).total == 1


# -- S3 that cannot be reached -------------------------------------------------------------------

@pytest.fixture
def down_store(tmp_path, monkeypatch):
    """A store whose S3 endpoint is a localhost port nothing listens on."""
    from store import Settings, open_store

    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    endpoint = f"http://127.0.0.1:{free_port()}"
    s = open_store(Settings(data_dir=tmp_path / "data", storage="s3", s3_bucket="nobody-home",
                            s3_prefix=S3_PREFIX, s3_endpoint=endpoint, demo=False))
    yield s
    s.close()


def test_unreachable_s3_fails_clearly_and_keeps_local_job(down_store, tmp_path):
    from store.annotations import apply_labels
    from store.errors import StorageError
    from store.imports import list_imports, upload_files
    from store.datasets import list_datasets
    from store.jobs import create_job, list_jobs

    # a job on a local folder, labeled in part, made before S3 is needed
    folder = tmp_path / "local images"
    folder.mkdir()
    for f in digits(3):
        (folder / f.name).write_bytes(f.read_bytes())
    local = create_job(down_store, "local", "image_classification", source=str(folder),
                       label_set=labels_of(["a", "b"]))
    ids = [r[0] for r in job_rows(down_store, local.id)]
    assert len(ids) == 3
    apply_labels(down_store, local.id, ids[:2], ["a"], actor="tester")
    before = job_rows(down_store, local.id)
    assert [r[4] for r in before] == ["labeled", "labeled", "unlabeled"]

    # a job on an s3:// source: a StorageError (a ValueError) that says S3 cannot be reached
    t0 = time.monotonic()
    with pytest.raises(StorageError, match="cannot be reached") as err:
        create_job(down_store, "remote", "image_classification", source="s3://somebucket/prefix/")
    assert isinstance(err.value, ValueError)
    assert down_store.settings.s3_endpoint in str(err.value)
    # nothing half-made is left: no job, no empty dataset; trying again gives the same error,
    # not "a job named 'remote' already exists"
    assert [j.name for j in list_jobs(down_store)] == ["local"]
    assert [d.source for d in list_datasets(down_store)] == [str(folder)]
    with pytest.raises(StorageError, match="cannot be reached"):
        create_job(down_store, "remote", "image_classification", source="s3://somebucket/prefix/")

    # an upload (storage=s3): the same clear error
    with pytest.raises(StorageError, match="cannot be reached"):
        upload_files(down_store, local.id, [("new.png", png_bytes())])
    assert time.monotonic() - t0 < UNREACHABLE_LIMIT_S

    # the local job is intact: same samples, same labels
    assert job_rows(down_store, local.id) == before
    assert [r[4] for r in job_rows(down_store, local.id)] == ["labeled", "labeled", "unlabeled"]
    failed = [r for r in list_imports(down_store, local.id) if r.mode == "upload"]
    assert len(failed) == 1 and failed[0].status == "failed"
    assert "cannot be reached" in failed[0].errors[0]
    assert any(j.name == "local" and j.total == 3 and j.labeled == 2 for j in list_jobs(down_store))


# -- the CLI -------------------------------------------------------------------------------------

def test_cli_create_job_and_stats_on_s3(s3_bucket, tmp_path):
    endpoint, bucket, client = s3_bucket
    files = digits(3)
    for f in files:
        client.put_object(Bucket=bucket, Key=f"cli prefix/{f.name}", Body=f.read_bytes())
    client.put_object(Bucket=bucket, Key="cli prefix/extra.png", Body=png_bytes())
    client.put_object(Bucket=bucket, Key="cli prefix/corrupt.png", Body=b"nope")
    data_dir = tmp_path / "cli-data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABELPORT_", "AWS_"))}
    env.update(AWS_ENV)
    common = ["--data-dir", str(data_dir), "--s3-endpoint", endpoint]

    def run(*args):
        return subprocess.run([sys.executable, "app.py", *args, *common], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)

    created = run("create-job", "--name", "s3job", "--type", "image_classification",
                  "--dataset", f"s3://{bucket}/cli prefix/", "--labels", "a,b", "--json")
    assert created.returncode == 0, created.stderr
    info = json.loads(created.stdout)
    assert info["name"] == "s3job" and info["type"] == "image_classification"
    assert info["samples"] == 4
    assert info["labels"] == ["a", "b"]

    stats = run("stats", "--job", "s3job", "--json")
    assert stats.returncode == 0, stats.stderr
    st = json.loads(stats.stdout)
    assert st["total"] == 4 and st["unlabeled"] == 4 and st["labeled"] == 0

    # a name that exists is refused with exit status 2 and a message
    again = run("create-job", "--name", "s3job", "--type", "image_classification",
                "--dataset", f"s3://{bucket}/cli prefix/")
    assert again.returncode == 2 and "already exists" in again.stderr
