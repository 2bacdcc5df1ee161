"""The mirror (store/mirror.py) against a real S3-compatible server (moto_server over HTTP, see
tests/fixtures_s3.py): mirror then restore gives the same tables row for row, ids go on after a
restore, the pointer names only complete mirrors, a damaged store file is refused with a clear
message, and a missing store is restored on open."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tests.factories import bulk_labeled, new_job, upload_images

ROOT = Path(__file__).resolve().parent.parent
WAIT_S = 120


@pytest.fixture
def mirror_settings(tmp_path, s3_bucket):
    from store import Settings

    endpoint, bucket, _ = s3_bucket
    return Settings(data_dir=tmp_path / "a", demo=False, mirror=f"s3://{bucket}/lp", s3_endpoint=endpoint)


def populate(store) -> dict:
    """A store with two jobs, uploads, labels, an annotation, a user and a team (when present)."""
    from store.annotations import apply_labels

    a = new_job(store, "cats-and-dogs")
    ids = upload_images(store, a.id, 12)
    apply_labels(store, a.id, ids[:5], ["cat"], actor="alice")
    apply_labels(store, a.id, ids[5:8], ["dog"], actor="bob")
    b = new_job(store, "second", labels=("x", "y", "z"))
    upload_images(store, b.id, 3, prefix="other")
    from store.users import add_user

    add_user(store, "alice", "alice@example.org", "a-long-password", actor="test")
    return {"jobs": [a.id, b.id], "samples": ids}


def dump(store) -> dict[str, list[tuple]]:
    """Every table, rows sorted; meta without the mirror's own status."""
    from store.mirror import _tables

    cur = store.db.cursor()
    out = {}
    for table in _tables(cur):
        where = " WHERE key <> 'mirror_status'" if table == "meta" else ""
        out[table] = cur.execute(f'SELECT * FROM "{table}"{where} ORDER BY ALL').fetchall()
    return out


def pointer(client, bucket: str) -> dict:
    return json.loads(client.get_object(Bucket=bucket, Key="lp/mirror/LATEST.json")["Body"].read())


def mirror_prefixes(client, bucket: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="lp/mirror/"):
        for o in page.get("Contents", []):
            parts = o["Key"].split("/")
            if len(parts) >= 4:
                out.setdefault(parts[2], []).append(parts[3])
    return out


def test_mirror_then_restore_gives_identical_tables_and_continuing_ids(mirror_settings, tmp_path, s3_bucket):
    from store import open_store
    from store.mirror import mirror_status, mirror_store

    _, bucket, client = s3_bucket
    st = open_store(mirror_settings)
    made = populate(st)
    before = dump(st)
    res = mirror_store(st)
    assert res.tables == len(before) and res.bytes > 0 and res.prefix.startswith("mirror/")
    status = mirror_status(st)
    assert status["result"] == "ok" and status["prefix"] == res.prefix and status["bytes"] == res.bytes
    assert json.loads(st.db.get_meta("mirror_status"))["result"] == "ok"
    max_job = st.db.scalar("SELECT max(id) FROM jobs")
    max_sample = st.db.scalar("SELECT max(id) FROM samples")
    st.close()
    assert pointer(client, bucket)["prefix"] == res.prefix
    manifest = json.loads(client.get_object(Bucket=bucket, Key=f"lp/{res.prefix}/manifest.json")["Body"].read())
    assert set(manifest["tables"]) == set(before)
    for table, info in manifest["tables"].items():
        assert len(info["sha256"]) == 64
        if table != "meta":
            assert info["rows"] == len(before[table])
    assert manifest["sequences"]["seq_job"] == max_job
    assert manifest["objects"]["count"] == 15

    # a new machine: an empty data folder and the same mirror -> restored on open
    other = replace(mirror_settings, data_dir=tmp_path / "b")
    st2 = open_store(other)
    try:
        assert dump(st2) == before  # every table, row for row
        # the uploaded files came back too
        for (uri,) in st2.db.fetchall("SELECT uri FROM samples"):
            assert st2.locations.read(uri)[:4] == b"\x89PNG"
        # ids go on after the mirrored ones
        job = new_job(st2, "after-restore")
        assert job.id > max_job and job.id not in made["jobs"]
        new_ids = upload_images(st2, job.id, 2, prefix="later")
        assert min(new_ids) > max_sample
    finally:
        st2.close()


def test_pointer_switches_only_after_a_complete_mirror(mirror_settings, tmp_path, s3_bucket, monkeypatch):
    from store import open_store
    from store.errors import StorageError
    from store.mirror import MirrorTarget, mirror_status, mirror_store

    _, bucket, client = s3_bucket
    st = open_store(mirror_settings)
    populate(st)
    first = mirror_store(st)
    complete = dump(st)

    # more work, then a mirror whose manifest upload fails (after every Parquet file went up)
    late = new_job(st, "late-job")
    upload_images(st, late.id, 2, prefix="late")
    real_put = MirrorTarget.put_bytes

    def failing_put(self, key, data):
        if key.endswith("manifest.json"):
            raise StorageError("S3 refused put manifest.json: simulated failure")
        return real_put(self, key, data)

    monkeypatch.setattr(MirrorTarget, "put_bytes", failing_put)
    with pytest.raises(StorageError, match="simulated"):
        mirror_store(st)
    status = mirror_status(st)
    assert status["result"] == "failed" and "simulated" in status["error"] and status["failures"] == 1
    assert status["last_ok_at"] and status["prefix"] == first.prefix
    assert pointer(client, bucket)["prefix"] == first.prefix  # still the complete one
    prefixes = mirror_prefixes(client, bucket)
    assert len(prefixes) == 2  # the half-written one is there, without a manifest
    half = [p for p, files in prefixes.items() if "manifest.json" not in files]
    assert len(half) == 1 and any(f.endswith(".parquet") for f in prefixes[half[0]])
    st.close()

    # the previous complete mirror restores fine (without the late job)
    st2 = open_store(replace(mirror_settings, data_dir=tmp_path / "b"))
    try:
        assert dump(st2) == complete
        assert st2.db.scalar("SELECT count(*) FROM jobs WHERE name = 'late-job'") == 0
    finally:
        st2.close()

    # the next mirror succeeds, switches the pointer and deletes the half-written prefix
    monkeypatch.setattr(MirrorTarget, "put_bytes", real_put)
    st = open_store(mirror_settings)
    try:
        third = mirror_store(st)
        assert mirror_status(st)["result"] == "ok" and mirror_status(st)["failures"] == 0
    finally:
        st.close()
    assert pointer(client, bucket)["prefix"] == third.prefix
    assert half[0] not in mirror_prefixes(client, bucket)


def test_only_the_last_mirrors_are_kept(mirror_settings, s3_bucket):
    from store import open_store
    from store.mirror import KEEP_MIRRORS, mirror_store

    _, bucket, client = s3_bucket
    st = open_store(mirror_settings)
    try:
        job = new_job(st, "kept")
        names = []
        for i in range(KEEP_MIRRORS + 2):
            upload_images(st, job.id, 1, prefix=f"round{i}")
            names.append(mirror_store(st).prefix.split("/")[1])
    finally:
        st.close()
    assert sorted(mirror_prefixes(client, bucket)) == sorted(names[-KEEP_MIRRORS:])
    assert pointer(client, bucket)["prefix"] == "mirror/" + names[-1]
    # objects are uploaded once: 5 rounds, 5 files
    objects = client.list_objects_v2(Bucket=bucket, Prefix="lp/objects/")["KeyCount"]
    assert objects == KEEP_MIRRORS + 2


def test_corrupt_store_file_is_refused_with_a_clear_message(tmp_path, mirror_settings):
    from store import Settings, StoreError, open_store
    from store.mirror import mirror_store, restore_store

    st = open_store(mirror_settings)
    populate(st)
    mirror_store(st)
    good = dump(st)
    st.close()

    db_file = mirror_settings.database
    db_file.write_bytes(os.urandom(4096) + b"not a duckdb file")
    for settings in (mirror_settings, Settings(data_dir=mirror_settings.data_dir, demo=False)):
        with pytest.raises(StoreError) as e:
            open_store(settings)
        message = str(e.value)
        assert str(db_file) in message
        assert "move the file aside" in message and "python app.py restore --force" in message
    assert db_file.read_bytes().endswith(b"not a duckdb file")  # never replaced silently

    # restore refuses to replace a file without force; with force it keeps the old one beside it
    with pytest.raises(StoreError, match="--force"):
        restore_store(mirror_settings)
    res = restore_store(mirror_settings, force=True)
    assert res.moved_aside and Path(res.moved_aside).read_bytes().endswith(b"not a duckdb file")
    st = open_store(mirror_settings)
    try:
        assert dump(st) == good
    finally:
        st.close()


def test_missing_store_with_a_mirror_is_restored_on_open(mirror_settings, tmp_path):
    import shutil

    from store import open_store
    from store.mirror import mirror_store

    st = open_store(mirror_settings)
    made = populate(st)
    mirror_store(st)
    good = dump(st)
    files = sorted(p.relative_to(mirror_settings.objects_root) for p in mirror_settings.objects_root.rglob("*")
                   if p.is_file())
    st.close()
    shutil.rmtree(mirror_settings.data_dir)  # a wiped disk

    st = open_store(mirror_settings)
    try:
        assert dump(st) == good
        assert sorted(p.relative_to(mirror_settings.objects_root) for p in mirror_settings.objects_root.rglob("*")
                      if p.is_file()) == files
        assert st.db.scalar("SELECT count(*) FROM job_samples WHERE job_id = ?", [made["jobs"][0]]) == 12
    finally:
        st.close()


def test_nothing_mirrored_yet_starts_fresh_and_an_unreachable_mirror_refuses(tmp_path, s3_bucket):
    from store import Settings, StoreError, open_store
    from tests.fixtures_s3 import free_port

    endpoint, bucket, _ = s3_bucket
    st = open_store(Settings(data_dir=tmp_path / "fresh", demo=False, mirror=f"s3://{bucket}/empty",
                             s3_endpoint=endpoint))
    assert st.db.scalar("SELECT count(*) FROM jobs") == 0
    st.close()
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreError, match="could not be restored from the mirror"):
        open_store(Settings(data_dir=tmp_path / "nowhere", demo=False, mirror=f"s3://{bucket}/lp", s3_endpoint=dead))
    assert not (tmp_path / "nowhere" / "labeling.duckdb").exists()


def test_scheduler_mirrors_after_writes_go_quiet(mirror_settings, s3_bucket):
    from store import open_store
    from store.mirror import MirrorScheduler, mirror_status

    _, bucket, client = s3_bucket
    st = open_store(replace(mirror_settings, mirror_debounce_s=0.3))
    sched = MirrorScheduler(st).start()
    try:
        deadline = time.monotonic() + WAIT_S
        while mirror_status(st)["result"] != "ok":  # the first mirror after start
            assert time.monotonic() < deadline, mirror_status(st)
            time.sleep(0.1)
        first = mirror_status(st)["prefix"]
        job = new_job(st, "scheduled")
        while mirror_status(st)["prefix"] == first:  # a write -> another mirror once quiet
            assert time.monotonic() < deadline, mirror_status(st)
            time.sleep(0.1)
        second = mirror_status(st)["prefix"]
        time.sleep(1.5)  # the mirror's own status write is not a change: no more mirrors
        assert mirror_status(st)["prefix"] == second
        new_job(st, "at-shutdown")
        sched.debounce_s = 3600  # only the stop flush can mirror it now
    finally:
        sched.stop()
    assert mirror_status(st)["prefix"] != second  # mirrored once more on stop
    st.close()
    assert job.id


def _cli(args: list[str], settings, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELPORT_")}
    env.update({"LABELPORT_MIRROR": settings.mirror, "LABELPORT_S3_ENDPOINT": settings.s3_endpoint,
                **(env_extra or {})})
    return subprocess.run([sys.executable, "app.py", *args, "--data-dir", str(settings.data_dir)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)


def test_cli_mirror_and_restore(mirror_settings, tmp_path):
    from store import open_store

    st = open_store(mirror_settings)
    populate(st)
    good = dump(st)
    st.close()
    out = _cli(["mirror", "--json"], mirror_settings)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["prefix"].startswith("mirror/") and res["bytes"] > 0

    other = replace(mirror_settings, data_dir=tmp_path / "restored")
    out = _cli(["restore", "--json"], other)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["prefix"] == res["prefix"]
    out = _cli(["restore"], other)  # a store is there now
    assert out.returncode == 2 and "--force" in out.stderr
    out = _cli(["restore", "--force"], other)
    assert out.returncode == 0 and "restored" in out.stdout, out.stderr
    st = open_store(other)
    try:
        assert dump(st) == good
    finally:
        st.close()


def test_a_deleted_job_survives_a_mirror_and_restore_then_comes_back(mirror_settings, tmp_path):
    """Issue 20: delete a job of 10,000 labeled samples (to the trash), mirror, restore the store
    on a new machine from S3, then restore the job: every label and history row is back."""
    from store import open_store, trash
    from store.history import sample_history
    from store.jobs import get_job
    from store.mirror import mirror_store

    st = open_store(mirror_settings)
    made = populate(st)
    job_id = made["jobs"][0]
    bulk_labeled(st, get_job(st, job_id), 10_000, label="dog")
    keep = dump(st)
    labels = keep["job_samples"]
    st_hist = [(v.version, v.labels) for v in sample_history(st, job_id, made["samples"][0])]
    from store.jobs import delete_job

    delete_job(st, job_id)
    mirror_store(st)
    st.close()
    st2 = open_store(replace(mirror_settings, data_dir=tmp_path / "new-machine"))
    try:
        assert [it.job_id for it in trash.list_trash(st2)] == [job_id]
        trash.restore_job(st2, job_id)
        after = dump(st2)
        assert after["job_samples"] == labels and len(labels) >= 10_012
        assert after["annotation_history"] == keep["annotation_history"]
        assert [(v.version, v.labels) for v in sample_history(st2, job_id, made["samples"][0])] == st_hist
    finally:
        st2.close()
