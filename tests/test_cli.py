"""The command line of SPEC F8.3, run as a user would: `python app.py COMMAND ... --data-dir DIR`
in a subprocess. Each run starts a Python, so the checks are grouped into few runs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import make_image_folder

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ("create-job", "import", "export", "stats", "list-jobs")
ENV = {**{k: v for k, v in os.environ.items() if not k.startswith("LABELPORT_")},
       "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}


def command(data_dir: Path | None, *args: str) -> list[str]:
    return [sys.executable, "app.py", *args] + (["--data-dir", str(data_dir)] if data_dir else [])


def run(data_dir: Path | None, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(command(data_dir, *args), cwd=ROOT, capture_output=True, text=True, env=ENV,
                          timeout=120)


def run_together(*commands: list[str]) -> list[subprocess.CompletedProcess]:
    """Runs that do not open the store (argument errors, --help), side by side."""
    procs = [subprocess.Popen(c, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
             for c in commands]
    out = []
    for c, p in zip(commands, procs):
        stdout, stderr = p.communicate(timeout=120)
        out.append(subprocess.CompletedProcess(c, p.returncode, stdout, stderr))
    return out


def ok(p: subprocess.CompletedProcess) -> str:
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    return p.stdout


def refused(p: subprocess.CompletedProcess, message: str) -> str:
    """A refusal: non-zero exit, one line `error: ...` on stderr, no traceback."""
    assert p.returncode != 0, p.stdout
    assert "Traceback" not in p.stderr + p.stdout
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("error: ") and message in lines[0], lines[0]
    return lines[0]


def stats(data_dir: Path, job: str) -> dict:
    return json.loads(ok(run(data_dir, "stats", "--job", job, "--json")))


def test_create_import_export_stats_round_trip(tmp_path):
    data_dir = tmp_path / "store"
    make_image_folder(tmp_path / "classes", {"cat": 3, "dog": 2}, top=0)
    for name in ("empty", "empty2"):
        (tmp_path / name).mkdir()
    out = json.loads(ok(run(data_dir, "create-job", "--name", "pets", "--type", "image_classification",
                            "--dataset", str(tmp_path / "empty"), "--labels", "cat,dog,bird", "--json")))
    assert out == {"id": out["id"], "name": "pets", "type": "image_classification", "samples": 0,
                   "labels": ["cat", "dog", "bird"], "refused": []}

    rec = json.loads(ok(run(data_dir, "import", "--job", "pets", "--format", "imagefolder",
                            str(tmp_path / "classes"), "--json")))
    assert (rec["status"], rec["found"], rec["imported"], rec["labeled"]) == ("succeeded", 5, 5, 5)

    st = stats(data_dir, "pets")
    assert {"total", "labeled", "unlabeled", "to_be_confirmed", "labels"} <= set(st)
    assert (st["total"], st["labeled"], st["unlabeled"], st["to_be_confirmed"]) == (5, 5, 0, 0)
    assert st["labels"] == {"cat": 3, "dog": 2, "bird": 0}
    text = ok(run(data_dir, "stats", "--job", "pets"))
    assert text.splitlines()[0] == "pets: 5/5 labeled, 0 unlabeled, 0 to be confirmed" and "  cat: 3" in text

    exp = json.loads(ok(run(data_dir, "export", "--job", "pets", "--format", "manifest",
                            "--out", str(tmp_path / "pets.manifest"), "--json")))
    assert exp["samples"] == 5 and Path(exp["path"]) == tmp_path / "pets.manifest"
    assert len((tmp_path / "pets.manifest").read_text().splitlines()) == 5

    ok(run(data_dir, "create-job", "--name", "back", "--type", "image_classification",
           "--dataset", str(tmp_path / "empty2")))
    text = ok(run(data_dir, "import", "--job", "back", "--format", "manifest", str(tmp_path / "pets.manifest")))
    assert text.strip() == "import succeeded: 5 found, 5 imported, 5 labeled"
    st = stats(data_dir, "back")
    assert st["labels"] == {"cat": 3, "dog": 2} and st["labeled"] == 5

    jobs = json.loads(ok(run(data_dir, "list-jobs", "--json")))["jobs"]
    assert sorted((j["name"], j["total"], j["labeled"]) for j in jobs) == [("back", 5, 5), ("pets", 5, 5)]


def test_create_on_a_folder_with_a_labels_json_file_and_instructions(tmp_path):
    from store import Settings, open_store
    from store.jobs import find_job

    data_dir = tmp_path / "store"
    make_image_folder(tmp_path / "imgs", {}, top=4)
    (tmp_path / "labels.json").write_text(json.dumps(
        {"labels": [{"name": "cat", "color": "#FF8800", "attributes": {"color": ["yellow", "black"]}},
                    {"name": "dog"}]}), encoding="utf-8")
    (tmp_path / "howto.md").write_text("# Draw tight boxes\n", encoding="utf-8")
    out = ok(run(data_dir, "create-job", "--name", "det", "--type", "object_detection",
                 "--dataset", str(tmp_path / "imgs"), "--labels", str(tmp_path / "labels.json"),
                 "--instructions", f"@{tmp_path / 'howto.md'}"))
    assert out.strip() == "created job 'det' (object_detection) with 4 samples and 2 labels"
    names = [f"class_{i:03d}" for i in range(120)]  # longer than a file name may be
    out = json.loads(ok(run(data_dir, "create-job", "--name", "many", "--type", "image_classification",
                            "--dataset", str(tmp_path / "imgs"), "--labels", ",".join(names), "--json")))
    assert out["labels"] == names and out["samples"] == 4
    s = open_store(Settings(data_dir=data_dir, demo=False))
    try:
        job = find_job(s, "det")
        assert job.instructions == "# Draw tight boxes\n"
        assert job.label_set.labels[0].color == "#ff8800"
        assert job.label_set.labels[0].attributes == {"color": ["yellow", "black"]}
    finally:
        s.close()


def test_help_of_each_command(tmp_path):
    runs = run_together(*[command(None, c, "--help") for c in COMMANDS])
    for name, p in zip(COMMANDS, runs):
        assert p.returncode == 0 and p.stderr == "", (name, p.stderr)
        assert p.stdout.startswith(f"usage: python app.py {name}")
        assert "--data-dir" in p.stdout and "--s3-bucket" in p.stdout
        if name in ("import", "export", "stats"):
            assert "--job" in p.stdout
        if name in ("import", "export"):
            assert "imagefolder" in p.stdout and "manifest" in p.stdout and "csv" in p.stdout
        if name in ("create-job", "stats", "import", "list-jobs", "export"):
            assert "--json" in p.stdout
    assert "image_classification" in runs[0].stdout and "speech_paragraph" in runs[0].stdout


@pytest.fixture(scope="module")
def cli_store(tmp_path_factory) -> tuple[Path, Path]:
    """A store with one job `pets` made through the CLI, and an empty folder."""
    tmp = tmp_path_factory.mktemp("cli")
    (tmp / "empty").mkdir()
    ok(run(tmp / "store", "create-job", "--name", "pets", "--type", "image_classification",
           "--dataset", str(tmp / "empty"), "--labels", "cat"))
    return tmp / "store", tmp


def test_argument_errors_are_one_line(cli_store):
    d, tmp = cli_store
    empty = str(tmp / "empty")
    runs = run_together(
        command(d, "create-job", "--name", "x", "--type", "bogus_type", "--dataset", empty),
        command(d, "import", "--job", "pets", "--format", "xml", empty),
        command(d, "stats", "--json"),
        command(d, "create-job", "--type", "image_classification"),
    )
    refused(runs[0], "invalid choice: 'bogus_type'")
    refused(runs[1], "invalid choice: 'xml'")
    refused(runs[2], "the following arguments are required: --job")
    refused(runs[3], "--name")
    assert all(p.returncode == 2 for p in runs)


def test_bad_input_exits_non_zero_with_one_line(cli_store):
    d, tmp = cli_store
    empty = str(tmp / "empty")
    refused(run(d, "stats", "--job", "nope", "--json"), "no job named 'nope'")
    refused(run(d, "export", "--job", "nope", "--format", "csv", "--out", str(tmp / "o.csv")), "no job named 'nope'")
    refused(run(d, "create-job", "--name", "x", "--type", "image_classification", "--dataset",
                str(tmp / "missing")), "folder not found")
    refused(run(d, "import", "--job", "pets", "--format", "imagefolder", str(tmp / "missing")),
            "folder not found")
    refused(run(d, "create-job", "--name", "pets", "--type", "image_classification", "--dataset", empty),
            "a job named 'pets' already exists")
    refused(run(d, "create-job", "--name", "y", "--type", "image_classification", "--dataset", empty,
                "--labels", "cat,chat noir"), "'chat noir' may hold only letters")
    refused(run(d, "create-job", "--name", "y", "--type", "image_classification", "--dataset", empty,
                "--instructions", f"@{tmp / 'nope.md'}"), "nope.md")
    refused(run(d, "export", "--job", "pets", "--format", "voc", "--out", str(tmp / "v")), "voc")
    # nothing was created by the refusals
    assert [j["name"] for j in json.loads(ok(run(d, "list-jobs", "--json")))["jobs"]] == ["pets"]


def test_an_import_that_fails_exits_non_zero(cli_store):
    d, tmp = cli_store
    (tmp / "bad.jsonl").write_text("nope\n", encoding="utf-8")
    p = run(d, "import", "--job", "pets", "--format", "manifest", str(tmp / "bad.jsonl"))
    assert p.returncode != 0 and "Traceback" not in p.stderr
    assert p.stdout.startswith("import failed: 1 found, 0 imported") and "line 1: not valid JSON" in p.stdout


def test_a_store_in_use_by_another_process(cli_store):
    from store import Settings, open_store

    d, _ = cli_store
    held = open_store(Settings(data_dir=d, demo=False))
    try:
        refused(run(d, "stats", "--job", "pets"), "in use by another process")
    finally:
        held.close()
