"""Run the real app (`python app.py --data-dir DIR --port PORT`) as a subprocess for app and
browser tests.

DuckDB allows one writer process: while the server runs, a test must not open the store itself.
Call ``AppServer.stop()`` first, then ``open_store()`` or ``cli()`` to check what was saved.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 90.0  # importing gradio and building the UI takes a few seconds; a slow CI more


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (at the time of asking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_env(gradio_temp_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
                "GRADIO_TEMP_DIR": str(gradio_temp_dir), "PYTHONUNBUFFERED": "1",
                "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})
    for key in list(env):  # the app's settings come from the command line only
        if key.startswith("LABELPORT_"):
            del env[key]
    return env


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM if the test process dies without its teardown."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


class AppServer:
    """One app process on a data folder. ``start()`` waits for GET /healthz to say the UI is ready."""

    def __init__(self, data_dir: Path, work_dir: Path, demo: bool = False, extra_env: dict | None = None,
                 ui: bool = True):
        self.data_dir = Path(data_dir)
        self.extra_env = dict(extra_env or {})  # e.g. LABELPORT_SMTP_HOST/PORT, set after app_env's cleanup
        self.work_dir = Path(work_dir)
        self.demo = demo
        self.ui = ui  # False: `--no-ui`, the REST API and media only (a test that needs no page starts sooner)
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.log_path = self.work_dir / "server.log"
        self.gradio_temp = self.work_dir / "gradio-tmp"
        self.before_stop: list = []  # callables run by stop() before the process is terminated

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> "AppServer":
        if self.running:
            return self
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.gradio_temp.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        cmd = [sys.executable, "app.py", "--data-dir", str(self.data_dir), "--port", str(self.port)]
        if not self.demo:
            cmd.append("--no-demo")
        if not self.ui:
            cmd.append("--no-ui")
        with open(self.log_path, "ab") as log:
            env = {**app_env(self.gradio_temp), **self.extra_env}
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         preexec_fn=_die_with_parent)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited with {self.proc.returncode} before answering:\n{self.log()}")
            if self._healthy():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the app did not answer /healthz within {START_TIMEOUT:.0f}s:\n{self.log()}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                # the API answers before the web UI is built (server.DeferredUI): wait for both
                body = json.loads(r.read())
                return r.status == 200 and body.get("ok") is True and body.get("ui", "ready") == ("ready" if self.ui
                                                                                                else "off")
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def stop(self, grace: float = 3.0, timeout: float = 15.0) -> None:
        """Run the before_stop hooks (close browser pages), terminate, then kill if it hangs.
        Safe to call twice.

        While a browser page or a gradio_client Client holds Gradio's heartbeat stream open,
        uvicorn does not exit on SIGTERM: it waits for open connections without a limit. So the
        hooks close pages first, and when the process is still there after ``grace`` seconds a
        SIGINT makes uvicorn force its exit; SIGKILL only if that fails too. (uvicorn re-raises
        the signal after its shutdown, so serve()'s ``finally: store.close()`` does not run
        either way; committed transactions are in DuckDB's WAL and the next open replays them.)"""
        hooks, self.before_stop = self.before_stop, []
        for hook in hooks:
            try:
                hook()
            except Exception:  # a page already closed, a browser gone: stopping goes on
                pass
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            pass
        proc.send_signal(signal.SIGINT)  # after SIGTERM, uvicorn takes SIGINT as "force exit"
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def log(self, tail: int = 6000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-tail:]
        except OSError:
            return ""

    # -- checking the store (server stopped) ------------------------------------------------------

    def _require_stopped(self) -> None:
        if self.running:
            raise RuntimeError("stop the server before reading its store (DuckDB allows one writer process)")

    @contextmanager
    def open_store(self):
        """The server's store, opened in this process after the server stopped."""
        self._require_stopped()
        sys.path.insert(0, str(ROOT)) if str(ROOT) not in sys.path else None
        from store import Settings, open_store

        store = open_store(Settings(data_dir=self.data_dir, demo=False))
        try:
            yield store
        finally:
            store.close()

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """`python app.py COMMAND ... --data-dir DIR` on the server's store (server stopped)."""
        self._require_stopped()
        res = subprocess.run([sys.executable, "app.py", *args, "--data-dir", str(self.data_dir)], cwd=ROOT,
                             env=app_env(self.gradio_temp), capture_output=True, text=True, timeout=120)
        if check and res.returncode != 0:
            raise AssertionError(f"app.py {' '.join(args)} exited {res.returncode}: {res.stderr}{res.stdout}")
        return res

    def cli_json(self, *args: str) -> dict:
        return json.loads(self.cli(*args, "--json").stdout)


@contextmanager
def running_app(tmp_path: Path, demo: bool = False):
    """An AppServer started on ``tmp_path/data``; stopped (terminate, then kill) on exit."""
    server = AppServer(tmp_path / "data", tmp_path / "server", demo=demo)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def refusal(client, *args, api_name: str, timeout: float = 120) -> str:
    """Call a page event with gradio_client and return the message the person would see: a user's
    error is a toast (a warning-level log of the event, pages/common.errors_as_toasts) and no
    output changes. Fails when the event gave no such message."""
    job = client.submit(*args, api_name=api_name)
    job.result(timeout=timeout)
    messages, updates = [], job.communicator.updates
    while not updates.empty():
        log = getattr(updates.get_nowait(), "log", None)
        if log and log[1] == "warning":
            messages.append(log[0])
    assert messages, f"{api_name} gave no message"
    return " | ".join(messages)
