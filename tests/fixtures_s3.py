"""S3 fixtures: a real S3-compatible HTTP server (`moto_server`) on 127.0.0.1, talked to by boto3
over HTTP. Nothing patches boto3 in-process.

- ``s3_server``  (session): starts ``python -m moto.server -H 127.0.0.1 -p PORT``, sets fake AWS
  credentials and region in os.environ for the session, yields the endpoint URL.
- ``s3_bucket``  (function): a fresh, uniquely named bucket: (endpoint_url, bucket, boto3 client).
- ``s3_store``   (function): a Store whose object storage is that bucket under prefix ``labelport``.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest

S3_PREFIX = "labelport"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1"}
SERVER_START_TIMEOUT = 60.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (at the time of asking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers_http(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer, even an error status, means the server is up
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    pytest.importorskip("boto3")
    pytest.importorskip("moto.server", reason="moto[server] is not installed")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("moto") / "moto_server.log"
    with pytest.MonkeyPatch.context() as mp:
        for key, value in AWS_ENV.items():
            mp.setenv(key, value)
        # no stray profile, session token or real endpoint from the developer's environment
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL",
                    "AWS_ENDPOINT_URL_S3", "AWS_REGION"):
            mp.delenv(key, raising=False)
        with open(log_path, "wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                    stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
        try:
            deadline = time.monotonic() + SERVER_START_TIMEOUT
            while not _answers_http(endpoint + "/moto-api/"):
                if proc.poll() is not None:
                    pytest.fail(f"moto_server exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}")
                if time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not answer on {endpoint} within {SERVER_START_TIMEOUT:.0f} s:\n"
                                f"{log_path.read_text(errors='replace')}")
                time.sleep(0.1)
            yield endpoint
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def s3_client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name=AWS_ENV["AWS_DEFAULT_REGION"])


@pytest.fixture
def s3_bucket(s3_server):
    client = s3_client(s3_server)
    name = f"lp-test-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    yield s3_server, name, client
    # leave the server tidy: the bucket's objects, then the bucket
    try:
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=name):
            for obj in page.get("Contents", []):
                client.delete_object(Bucket=name, Key=obj["Key"])
        client.delete_bucket(Bucket=name)
    except Exception:  # noqa: BLE001 - cleanup is best effort; the server dies with the session
        pass


@pytest.fixture
def s3_settings(tmp_path, s3_bucket):
    from store import Settings

    endpoint, bucket, _ = s3_bucket
    return Settings(data_dir=tmp_path / "data", storage="s3", s3_bucket=bucket, s3_prefix=S3_PREFIX,
                    s3_endpoint=endpoint, demo=False)


@pytest.fixture
def s3_store(s3_settings):
    from store import open_store

    s = open_store(s3_settings)
    yield s
    s.close()
