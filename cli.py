"""The command line of SPEC F8.3: `python app.py COMMAND ...` runs the product's jobs from a shell.

Each command calls store/ functions only; a refused input prints a clear message and exits 2.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys

COMMANDS = ("create-job", "import", "export", "stats", "list-jobs", "autolabel", "register-model", "list-models",
            "confirm", "add-user", "list-users", "hash-password", "mirror", "restore",
            "publish", "versions")
log = logging.getLogger("labelport.cli")


def add_storage_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("storage (defaults: ./data, a local folder; environment LABELPORT_*)")
    g.add_argument("--data-dir", help="folder of the DuckDB store and local objects (LABELPORT_DATA_DIR)")
    g.add_argument("--storage", choices=("local", "s3"), help="object storage for uploads (LABELPORT_STORAGE)")
    g.add_argument("--s3-bucket", help="S3 bucket (LABELPORT_S3_BUCKET); AWS_* variables give credentials")
    g.add_argument("--s3-prefix", help="key prefix inside the bucket (LABELPORT_S3_PREFIX)")
    g.add_argument("--s3-endpoint", help="endpoint URL of an S3-compatible server (LABELPORT_S3_ENDPOINT)")


class _Parser(argparse.ArgumentParser):
    """Bad arguments get one line, `error: ...`, like every other refusal (exit 2), not the usage."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from store.formats import FORMATS
    from store.types import REGISTRY

    parser = _Parser(
        prog="python app.py", description="Labelport: a self-hosted data-labeling portal. With no command, "
        "serves the web app; with a command, runs it against the store and exits.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("create-job", help="create a labeling job on a dataset folder or s3:// prefix")
    p.add_argument("--name", required=True, help="job name (unique)")
    p.add_argument("--type", required=True, choices=sorted(REGISTRY), metavar="TYPE",
                   help="labeling type: " + ", ".join(REGISTRY))
    p.add_argument("--dataset", required=True, help="folder or s3://bucket/prefix holding the data")
    p.add_argument("--labels", help="comma-separated label names, or a JSON label file (SPEC F8.4)")
    p.add_argument("--description", default="", help="at most 256 characters")
    p.add_argument("--instructions", default="", help="labeling instructions (Markdown) or @FILE")
    p.add_argument("--json", action="store_true", help="print the job as JSON")

    p = sub.add_parser("import", help="add samples (and their labels) to a job from a file or folder")
    p.add_argument("--job", required=True, help="job name")
    p.add_argument("--format", required=True, choices=sorted(FORMATS), metavar="FMT",
                   help="one of: " + ", ".join(sorted(FORMATS)))
    p.add_argument("path", help="file or folder to import (local path or s3:// URL)")
    p.add_argument("--json", action="store_true", help="print the import record as JSON")

    p = sub.add_parser("export", help="write a job's samples and labels in a format")
    p.add_argument("--job", required=True)
    p.add_argument("--format", required=True, choices=sorted(FORMATS), metavar="FMT",
                   help="one of: " + ", ".join(sorted(FORMATS)))
    p.add_argument("--out", required=True, help="file or folder to write")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("stats", help="counts per status and per label of a job")
    p.add_argument("--job", required=True)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("list-jobs", help="the job list with progress")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("autolabel", help="run auto labeling on a job now (active learning, pre-labeling, grouping)")
    p.add_argument("--job", required=True)
    p.add_argument("--kind", default="active_learning", choices=("active_learning", "prelabel", "grouping"))
    p.add_argument("--mode", default="fast", choices=("fast", "precise"), help="active learning mode")
    p.add_argument("--model", help="a registered model (id, name@version or name); see register-model")
    p.add_argument("--device", default="cpu", choices=("cpu", "gpu"))
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--strategy", default="margin", choices=("least_confidence", "margin", "entropy"),
                   help="uncertainty measure for hard examples")
    p.add_argument("--confirm-above", type=float, metavar="T",
                   help="then confirm every prediction with confidence >= T (0..1)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("register-model", help="register a Hugging Face model id or local folder for auto labeling")
    p.add_argument("source", help="Hugging Face model id (in the local cache) or a local folder")
    p.add_argument("--version", default="1")
    p.add_argument("--name", help="defaults to the last part of the source")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("list-models", help="registered models")
    p.add_argument("--type", choices=sorted(REGISTRY), metavar="TYPE", help="only models fitting this job type")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("confirm", help="confirm To Be Confirmed samples with confidence >= a threshold")
    p.add_argument("--job", required=True)
    p.add_argument("--above", type=float, required=True, metavar="T", help="confidence threshold 0..1")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("add-user", help="add a user who logs in with a password (the app becomes multi-user)")
    p.add_argument("name", help="user name: letters, digits, _ . @ -")
    p.add_argument("--email", help="the user's email: team membership and notifications go by it")
    p.add_argument("--admin", action="store_true", help="an admin sees and manages every job and team")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from standard input (else it is asked for, without echo)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("list-users", help="the configured users")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("hash-password", help="print an Argon2 hash of a password (from stdin) for a users file")

    p = sub.add_parser("publish", help="publish a job as its next immutable dataset version in object storage")
    p.add_argument("--job", required=True, help="job name")
    p.add_argument("--description", default="", help="what this version is")
    p.add_argument("--json", action="store_true", help="print the version as JSON")

    p = sub.add_parser("versions", help="the published versions of a job")
    p.add_argument("--job", required=True, help="job name")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("mirror", help="mirror the store to LABELPORT_MIRROR (s3://bucket/prefix) now")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("restore", help="restore the store from the newest mirror (LABELPORT_MIRROR) into --data-dir")
    p.add_argument("--force", action="store_true",
                   help="replace an existing store (the old file is kept beside it as *.before-restore-*)")
    p.add_argument("--json", action="store_true")

    for name, sp in sub.choices.items():
        add_storage_options(sp)
    return parser


def settings_from_args(args):
    from store import Settings

    return Settings.from_env(data_dir=args.data_dir, storage=getattr(args, "storage", None),
                             s3_bucket=getattr(args, "s3_bucket", None), s3_prefix=getattr(args, "s3_prefix", None),
                             s3_endpoint=getattr(args, "s3_endpoint", None))


def _print(args, data: dict, text: str) -> None:
    print(json.dumps(data, ensure_ascii=False, default=str) if getattr(args, "json", False) else text)


def _read_password(args, confirm: bool = True) -> str:
    """--password-stdin (or stdin not a terminal): the first line of stdin; else ask twice."""
    from store.errors import ValidationError
    from store.users import MIN_PASSWORD

    if getattr(args, "password_stdin", False) or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        import getpass

        password = getpass.getpass("Password: ")
        if confirm and getpass.getpass("Password again: ") != password:
            raise ValidationError("the two passwords differ")
    if len(password) < MIN_PASSWORD:
        raise ValidationError(f"the password is too short: at least {MIN_PASSWORD} characters")
    return password


def run_command(args) -> int:
    from store import open_store
    from store.exports import export_job
    from store.imports import import_format
    from store.jobs import create_job, find_job, list_jobs
    from store.labelset import parse_labels_argument
    from store.stats import job_stats

    if args.command == "hash-password":  # needs no store
        from store.users import hash_password

        print(hash_password(_read_password(args, confirm=False)))
        return 0
    if args.command == "restore":  # builds the store file itself
        from store.mirror import restore_store

        r = restore_store(settings_from_args(args), force=args.force)
        _print(args, r.as_dict(), f"restored {r.database} from {r.prefix} ({r.created_at}): {r.tables} tables, "
               f"{r.rows} rows, {r.objects} files downloaded" + (f"; the old store is {r.moved_aside}"
                                                                 if r.moved_aside else ""))
        return 0
    if args.command == "mirror":  # refuse a missing LABELPORT_MIRROR before making a store
        from store.mirror import MirrorTarget

        MirrorTarget.of(settings_from_args(args))
    password = _read_password(args) if args.command == "add-user" else None
    store = open_store(settings_from_args(args))
    try:
        if args.command == "mirror":
            from store.mirror import mirror_store

            m = mirror_store(store)
            _print(args, m.as_dict(), f"mirrored {m.tables} tables ({m.rows} rows, {m.bytes} bytes, "
                   f"{m.objects_uploaded} files uploaded) to {store.settings.mirror}/{m.prefix} in {m.seconds:.1f} s")
            return 0
        if args.command in ("add-user", "list-users"):
            from store.users import add_user, list_users

            if args.command == "add-user":
                u = add_user(store, args.name, args.email, password, is_admin=args.admin, actor="cli")
                _print(args, u.as_dict(), f"added user {u.username}" + (f" <{u.email}>" if u.email else "")
                       + (" (admin)" if u.is_admin else ""))
            else:
                us = list_users(store)
                _print(args, {"users": [u.as_dict() for u in us]},
                       "\n".join(f"{u.username}\t{u.email or '-'}\t{'admin' if u.is_admin else 'user'}\t{u.source}"
                                 for u in us) or "no users: the app runs single-user")
            return 0
        if args.command == "create-job":
            instructions = args.instructions
            if instructions.startswith("@"):
                from pathlib import Path

                instructions = Path(instructions[1:]).read_text(encoding="utf-8")
            job = create_job(store, args.name, args.type, source=args.dataset,
                             label_set=parse_labels_argument(args.labels), description=args.description,
                             instructions=instructions, actor="cli")
            st = job_stats(store, job.id)
            _print(args, {"id": job.id, "name": job.name, "type": job.type, "samples": st.total,
                          "labels": job.label_set.names()},
                   f"created job {job.name!r} ({job.type}) with {st.total} samples and "
                   f"{len(job.label_set.names())} labels")
        elif args.command == "import":
            job = find_job(store, args.job)
            rec = import_format(store, job.id, args.format, args.path, actor="cli")
            text = (f"import {rec.status}: {rec.found} found, {rec.imported} imported, {rec.labeled} labeled"
                    + "".join(f"\n  {e}" for e in rec.errors[:20]))
            _print(args, rec.as_dict(), text)
            if rec.status == "failed":
                return 1
        elif args.command == "export":
            job = find_job(store, args.job)
            res = export_job(store, job.id, args.format, args.out, actor="cli")
            _print(args, {"format": res.format, "path": res.path, "samples": res.samples},
                   f"exported {res.samples} samples as {res.format} to {res.path}")
        elif args.command == "stats":
            job = find_job(store, args.job)
            st = job_stats(store, job.id)
            lines = [f"{job.name}: {st.labeled}/{st.total} labeled, {st.unlabeled} unlabeled, "
                     f"{st.to_be_confirmed} to be confirmed"] + [f"  {k}: {v}" for k, v in st.labels.items()]
            _print(args, st.as_dict(), "\n".join(lines))
        elif args.command == "list-jobs":
            jobs = list_jobs(store)
            _print(args, {"jobs": [{"name": j.name, "type": j.type, "dataset": j.dataset, "total": j.total,
                                    "labeled": j.labeled, "to_be_confirmed": j.to_be_confirmed} for j in jobs]},
                   "\n".join(f"{j.name}\t{j.type}\t{j.labeled}/{j.total}" for j in jobs) or "no jobs")
        elif args.command in ("autolabel", "register-model", "list-models", "confirm"):
            return _autolabel_command(store, args)
        elif args.command in ("publish", "versions"):
            _versions_command(store, args)
        return 0
    finally:
        store.close()


def _versions_command(store, args) -> None:
    from store.jobs import find_job
    from store.versions import list_versions, publish_version

    job = find_job(store, args.job)
    if args.command == "publish":
        v = publish_version(store, job.id, args.description, actor="cli")
        _print(args, v.as_dict(), f"published {job.name} version {v.number}: {v.labeled}/{v.samples} labeled, "
                                  f"{v.bytes} bytes at {v.location}")
    else:
        vs = list_versions(store, job.id)
        _print(args, {"versions": [v.as_dict() for v in vs]},
               "\n".join(f"v{v.number}\t{v.created_at:%Y-%m-%d %H:%M}\t{v.labeled}/{v.samples} labeled\t{v.location}"
                         for v in vs) or f"{job.name} has no published versions")


def _autolabel_command(store, args) -> int:
    from store.jobs import find_job
    from store.models import list_models
    from store.predictions import confirm_above

    if args.command == "register-model":
        from autolabel.models import register_model

        m = register_model(store, args.source, args.version, args.name, actor="cli")
        _print(args, m.as_dict(), f"registered {m.ref}: {m.task}" + (f", labels {', '.join(m.labels[:20])}"
                                                                       if m.labels else ""))
    elif args.command == "list-models":
        ms = list_models(store, args.type)
        _print(args, {"models": [m.as_dict() for m in ms]},
               "\n".join(f"{m.ref}\t{m.task}\t{m.source}" for m in ms) or "no models registered")
    elif args.command == "confirm":
        job = find_job(store, args.job)
        n = confirm_above(store, job.id, args.above, actor="cli")
        _print(args, {"confirmed": n}, f"confirmed {n} samples with confidence >= {args.above}")
    else:
        from autolabel.runner import run_now

        job = find_job(store, args.job)
        run = run_now(store, job.id, args.kind, args.mode, args.model, args.device, args.batch_size,
                      args.strategy, actor="cli")
        data = run.as_dict()
        text = f"{run.title} run {run.id}: {run.status} — {run.message}"
        if run.status == "done" and args.confirm_above is not None:
            data["confirmed"] = confirm_above(store, job.id, args.confirm_above, actor="cli")
            text += f"\nconfirmed {data['confirmed']} samples with confidence >= {args.confirm_above}"
        _print(args, data, text)
        if run.status != "done":
            return 1
    return 0


def main(argv: list[str]) -> int:
    from store.errors import StoreError

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return run_command(args)
    except StoreError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (OSError, json.JSONDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
