"""The README stays true: its two commands come first, and the CLI it shows exists."""
import re
import subprocess
import sys
from pathlib import Path

from cli import COMMANDS
from store.formats import FORMATS
from store.types import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_has_space_header_then_the_two_commands_first():
    header, body = README.split("---", 2)[1:]
    assert "sdk: gradio" in header and "app_file: app.py" in header
    block = re.search(r"```bash\n(.*?)```", body, re.S).group(1).strip().splitlines()
    assert block[0].startswith("pip install -r requirements.txt && python app.py")
    assert block[1].startswith("pip install -r requirements-dev.txt && python -m pytest")


def test_ci_runs_the_readme_test_command():
    test_cmd = re.search(r"```bash\n.*?\n(pip install -r requirements-dev.txt[^#\n]*?)\s+#", README, re.S).group(1)
    assert test_cmd.strip() in (ROOT / ".ci/run").read_text()


def test_readme_names_every_type_format_and_command():
    for type_id in REGISTRY:
        assert f"`{type_id}`" in README
    for fmt in ("imagefolder", "csv", "manifest"):
        assert fmt in FORMATS and f"`{fmt}`" in README
    for cmd in COMMANDS:
        assert f"python app.py {cmd}" in README


def test_every_command_has_help(capsys):
    import pytest

    from cli import build_parser

    for cmd in COMMANDS:  # in process: one interpreter start per command took 35 s
        with pytest.raises(SystemExit) as done:
            build_parser().parse_args([cmd, "--help"])
        assert done.value.code == 0 and "--data-dir" in capsys.readouterr().out, cmd
    # end to end: `python app.py --help` lists every command (it named 5 of 22), a command's --help works
    out = subprocess.run([sys.executable, "app.py", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0
    listed = out.stdout.split("commands (python app.py COMMAND --help):", 1)[1]
    assert sorted(line.split()[0] for line in listed.strip().splitlines()) == sorted(COMMANDS)
    out = subprocess.run([sys.executable, "app.py", "add-user", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and "--data-dir" in out.stdout


def test_requirements_are_pinned():
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            assert "==" in line, f"unpinned requirement: {line}"
    assert "torch==2.13.0" in (ROOT / "requirements.txt").read_text()
