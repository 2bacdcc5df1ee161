"""Faults against the real app (a subprocess, tests/app_server.py) and a real S3-compatible server
(moto_server over HTTP, tests/fixtures_s3.py):

(a) SIGKILL in the middle of 1,000 concurrent saves: every save the client saw acknowledged is in
    the store after a restart, and the store opens cleanly;
(b) the app mirrors (LABELPORT_MIRROR, short debounce), stops; the data folder is wiped; started
    again with the bucket configured, every table is back;
(c) the S3 server goes away (a TCP proxy in front of moto_server is stopped): the app keeps
    serving reads and writes, its status reports the failure and it retries; the previous mirror
    stays restorable; once S3 is back the next mirror succeeds.

No timed assertions: every wait is a generous deadline for a slow 2-core machine.
"""
from __future__ import annotations

import json
import random
import shutil
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.app_server import AppServer
from tests.factories import image_bytes, new_job

WAIT_S = 180.0
SAVES = 1000


def build_store(data_dir: Path, n: int, team: bool = False) -> tuple[int, list[int]]:
    """A store with one image-classification job of n uploaded tiny images (built in this process
    before the app starts: one writer process at a time)."""
    from store import Settings, open_store
    from store.imports import upload_files

    st = open_store(Settings(data_dir=data_dir, demo=False))
    try:
        job = new_job(st, "faults", labels=("cat", "dog"))
        rec = upload_files(st, job.id, [(f"img_{i:04d}.png", image_bytes(seed=i, size=(4, 3))) for i in range(n)])
        assert rec.status == "succeeded", rec.errors
        ids = [r[0] for r in st.db.fetchall("SELECT sample_id FROM job_samples WHERE job_id = ? ORDER BY sample_id",
                                            [job.id])]
        assert len(ids) == n
        if team:
            from store.teams import add_members, create_team

            t = create_team(st, "the-team", "people who label", owner="local")
            add_members(st, t.id, [("bob@example.org", "Bob", "labeler")], actor="local")
        return job.id, ids
    finally:
        st.close()


def dump(store) -> dict[str, list[tuple]]:
    from store.mirror import _tables

    cur = store.db.cursor()
    return {t: cur.execute(f'SELECT * FROM "{t}"' + (" WHERE key <> 'mirror_status'" if t == "meta" else "")
                           + " ORDER BY ALL").fetchall() for t in _tables(cur)}


def health(server: AppServer) -> dict:
    r = httpx.get(server.url + "/healthz", timeout=30)
    assert r.status_code == 200
    return r.json()


def wait_for(what: str, check, server: AppServer | None = None, timeout: float = WAIT_S):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}; last: {last}\n{server.log() if server else ''}")


def mirror_env(endpoint: str, bucket: str, debounce: float = 1.0) -> dict[str, str]:
    return {"LABELPORT_MIRROR": f"s3://{bucket}/lp", "LABELPORT_S3_ENDPOINT": endpoint,
            "LABELPORT_MIRROR_DEBOUNCE": str(debounce)}


# -- (a) SIGKILL during concurrent saves ---------------------------------------------------------

def test_sigkill_during_concurrent_saves_keeps_every_acknowledged_save(tmp_path):
    job_id, ids = build_store(tmp_path / "data", SAVES)
    server = AppServer(tmp_path / "data", tmp_path / "server", ui=False)  # the REST API only
    server.start()
    acked: dict[int, str] = {}
    lock = threading.Lock()
    killed = threading.Event()
    rng = random.Random(7)
    order = ids[:]
    rng.shuffle(order)

    def save(client: httpx.Client, sid: int) -> None:
        if killed.is_set():
            return
        label = "cat" if sid % 2 else "dog"
        try:
            r = client.post(f"/api/v1/jobs/{job_id}/samples/labels", json={"sample_ids": [sid], "labels": [label]})
        except httpx.HTTPError:
            return  # the app died before answering: not acknowledged
        if r.status_code == 200:
            with lock:
                acked[sid] = label

    try:
        limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
        with httpx.Client(base_url=server.url, timeout=60, limits=limits) as client, \
                ThreadPoolExecutor(16) as pool:
            futures = [pool.submit(save, client, sid) for sid in order]
            # kill once a good share is acknowledged and many saves are still in flight
            deadline = time.monotonic() + WAIT_S
            while len(acked) < SAVES // 3:
                assert time.monotonic() < deadline, f"only {len(acked)} saves acknowledged:\n{server.log()}"
                time.sleep(0.005)
            server.proc.kill()  # SIGKILL: no shutdown hook, no checkpoint
            server.proc.wait(timeout=30)
            killed.set()
            for f in futures:
                f.result()
    finally:
        server.stop()
    assert len(acked) >= SAVES // 3  # (on a fast machine the rest may have been acknowledged before the kill)

    # restart: the app opens the store (replaying DuckDB's log) and serves it
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            r = client.get(f"/api/v1/jobs/{job_id}")
            assert r.status_code == 200, r.text
    finally:
        server.stop()
    with server.open_store() as st:
        rows = dict(st.db.fetchall("SELECT sample_id, labels FROM job_samples WHERE job_id = ?", [job_id]))
        status = dict(st.db.fetchall("SELECT sample_id, status FROM job_samples WHERE job_id = ?", [job_id]))
        missing = [sid for sid, label in acked.items() if label not in (rows.get(sid) or [])]
        assert not missing, f"{len(missing)} acknowledged saves lost, e.g. {missing[:10]}"
        assert all(status[sid] == "labeled" for sid in acked)
        assert len(rows) == SAVES


# -- (b) mirror, wipe the disk, restore on start ------------------------------------------------

def test_wiped_data_folder_is_restored_from_the_mirror_on_start(tmp_path, s3_bucket):
    endpoint, bucket, client = s3_bucket
    job_id, ids = build_store(tmp_path / "data", 40, team=True)
    server = AppServer(tmp_path / "data", tmp_path / "server", extra_env=mirror_env(endpoint, bucket, 1.0),
                       ui=False)
    server.start()
    try:
        first = wait_for("the first mirror", lambda: (m := health(server)["mirror"])["result"] == "ok" and m, server)
        assert first["configured"] and first["target"] == f"s3://{bucket}/lp"
        with httpx.Client(base_url=server.url + "/api/v1", timeout=60) as api:
            for i, sid in enumerate(ids[:20]):
                r = api.post(f"/jobs/{job_id}/samples/labels", json={"sample_ids": [sid],
                                                                      "labels": ["cat" if i % 2 else "dog"]})
                assert r.status_code == 200, r.text
            r = api.post("/jobs", json={"name": "second-job", "type": "image_classification",
                                        "labels": ["a", "b"]})
            assert r.status_code == 201, r.text
            wait_for("a mirror after the writes", lambda: health(server)["mirror"]["prefix"] != first["prefix"]
                     and health(server)["mirror"]["result"] == "ok", server)
            # one more write just before the stop: the mirror on shutdown takes it
            r = api.post(f"/jobs/{job_id}/samples/labels", json={"sample_ids": [ids[30]], "labels": ["cat"]})
            assert r.status_code == 200, r.text
    finally:
        server.stop(grace=120)
    with server.open_store() as st:
        before = dump(st)
        assert "cat" in st.db.scalar("SELECT labels FROM job_samples WHERE sample_id = ?", [ids[30]])

    shutil.rmtree(tmp_path / "data")  # the Space restarted on a fresh disk
    server.start()
    try:
        with httpx.Client(base_url=server.url + "/api/v1", timeout=60) as api:
            jobs = {j["name"] for j in api.get("/jobs").json()}
            assert {"faults", "second-job"} <= jobs
            r = api.get(f"/samples/{ids[0]}/file")
            assert r.status_code == 200 and r.content[:4] == b"\x89PNG"  # the upload came back too
    finally:
        server.stop(grace=120)
    assert "restored it from the mirror" in server.log(tail=10**6)
    with server.open_store() as st:
        after = dump(st)
    for table in before:
        if table in ("meta", "sessions", "events"):
            continue
        assert after[table] == before[table], f"table {table} differs after the restore"
    # events: the restarted app may add its own; everything from before is there
    assert set(before["events"]) <= set(after["events"])
    for name in ("jobs", "samples", "job_samples"):
        assert after[name], name
    for name in ("teams", "team_members", "users", "assignments", "versions"):
        if name in before:
            assert after[name] == before[name]


# -- (c) S3 goes away during mirroring ------------------------------------------------------------

class TcpProxy:
    """127.0.0.1:port -> upstream; stop() refuses and cuts every connection, start() serves again."""

    def __init__(self, upstream_port: int):
        from tests.fixtures_s3 import free_port

        self.upstream = ("127.0.0.1", upstream_port)
        self.port = free_port()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(64)
        self._listener = ls
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()

    def _accept(self, ls: socket.socket) -> None:
        while True:
            try:
                conn, _ = ls.accept()
            except OSError:
                return
            try:
                up = socket.create_connection(self.upstream, timeout=10)
                up.settimeout(None)
            except OSError:
                conn.close()
                continue
            with self._lock:
                self._sockets += [conn, up]
            for a, b in ((conn, up), (up, conn)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            socks, self._sockets = self._sockets, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def test_s3_outage_keeps_the_app_serving_and_the_mirror_retries(tmp_path, s3_bucket):
    from store import Settings
    from store.mirror import restore_store

    endpoint, bucket, client = s3_bucket
    proxy = TcpProxy(int(endpoint.rsplit(":", 1)[1]))
    proxy.start()
    job_id, ids = build_store(tmp_path / "data", 30)
    server = AppServer(tmp_path / "data", tmp_path / "server", extra_env=mirror_env(proxy.endpoint, bucket, 1.0),
                       ui=False)
    server.start()
    try:
        with httpx.Client(base_url=server.url + "/api/v1", timeout=60) as api:
            r = api.post(f"/jobs/{job_id}/samples/labels", json={"sample_ids": ids[:5], "labels": ["cat"]})
            assert r.status_code == 200
            wait_for("a mirror with the first labels", lambda: health(server)["mirror"]["result"] == "ok"
                     and _labeled_in_latest(client, bucket, tmp_path, endpoint) == 5, server)

            proxy.stop()  # S3 is gone
            latest = json.loads(client.get_object(Bucket=bucket, Key="lp/mirror/LATEST.json")["Body"].read())
            for sid in ids[5:10]:  # writes go on, and each asks for a mirror
                r = api.post(f"/jobs/{job_id}/samples/labels", json={"sample_ids": [sid], "labels": ["dog"]})
                assert r.status_code == 200, r.text
            failed = wait_for("the mirror to fail and retry", lambda: (m := health(server)["mirror"])["result"]
                              == "failed" and m["failures"] >= 2 and m, server)
            assert failed["error"] and failed["prefix"] == latest["prefix"]  # the last success
            # the app keeps serving reads and writes
            assert health(server)["ok"] is True
            r = api.get(f"/jobs/{job_id}/samples", params={"status": "labeled"})
            assert r.status_code == 200 and r.json()["total"] == 10
            r = api.put(f"/jobs/{job_id}/samples/{ids[10]}/annotation", json={"annotation": {"labels": ["cat"]}})
            assert r.status_code == 200, r.text

            # the previous mirror stayed the newest complete one, and restores
            pointer = json.loads(client.get_object(Bucket=bucket, Key="lp/mirror/LATEST.json")["Body"].read())
            assert pointer["prefix"] == latest["prefix"]
            assert _labeled_in_latest(client, bucket, tmp_path, endpoint) == 5

            proxy.start()  # S3 is back: the next retry succeeds
            back = wait_for("a mirror after the outage", lambda: (m := health(server)["mirror"])["result"] == "ok"
                            and m["prefix"] != latest["prefix"] and m, server)
            assert back["failures"] == 0 and back["error"] == ""
            wait_for("the outage's writes in the newest mirror",
                     lambda: _labeled_in_latest(client, bucket, tmp_path, endpoint) == 11, server)
    finally:
        server.stop(grace=120)
        proxy.stop()
    assert "Traceback" not in server.log(tail=10**6)
    restored = Settings(data_dir=tmp_path / "final", demo=False, mirror=f"s3://{bucket}/lp", s3_endpoint=endpoint)
    assert restore_store(restored).rows > 0


_restores = iter(range(10**6))


def _labeled_in_latest(client, bucket: str, tmp_path: Path, endpoint: str) -> int:
    """Restore the newest mirror into a new folder (straight from moto_server) and count labeled samples."""
    from store import Settings, open_store
    from store.mirror import restore_store

    settings = Settings(data_dir=tmp_path / f"check-{next(_restores)}", demo=False, mirror=f"s3://{bucket}/lp",
                        s3_endpoint=endpoint)
    try:
        restore_store(settings)
    except Exception:  # noqa: BLE001 - nothing mirrored yet
        return -1
    st = open_store(Settings(data_dir=settings.data_dir, demo=False))
    try:
        return st.db.scalar("SELECT count(*) FROM job_samples WHERE status = 'labeled'")
    finally:
        st.close()
        shutil.rmtree(settings.data_dir, ignore_errors=True)


