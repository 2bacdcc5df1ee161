"""The command line of SPEC F8.3: `python app.py COMMAND ...` runs the product's jobs from a shell.

Each command calls store/ functions only; a refused input prints a clear message and exits 2.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys

COMMANDS = ("create-job", "import", "export", "stats", "list-jobs", "autolabel", "register-model", "list-models",
            "confirm", "add-user", "list-users", "disable-user", "enable-user", "reset-password", "make-admin",
            "approve-user", "invite-user", "hash-password", "mirror", "restore",
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


def command_help() -> str:
    """Every command with its one-line help, from the parser itself (the serve --help lists them)."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return "\n".join(f"  {c.dest:<16}{c.help}" for c in sub._choices_actions)


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
    p.add_argument("--split", help="train / validation / test splits of the labeled samples, stratified by label: "
                                   "train=0.8,val=0.1,test=0.1")
    p.add_argument("--seed", type=int, default=0, help="the seed of the splits (the same seed, the same splits)")
    p.add_argument("--include", choices=["predictions"], action="append", default=[],
                   help="predictions: write To Be Confirmed samples' predictions too, marked as such where the "
                        "format can (by default only Labeled samples carry labels)")
    p.add_argument("--masks", action="store_true",
                   help="voc: SegmentationClass / SegmentationObject PNG masks of the shapes with an area too")
    p.add_argument("--absolute-paths", action="store_true",
                   help="name files by absolute path (default: relative to the exported file; s3:// stays s3://)")
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
    p.add_argument("--engine", choices=("local", "ray"),
                   help="where the run computes: local (threads of this process, the default) or ray (a Ray cluster; "
                        "LABELPORT_ENGINE); see README, Scaling out")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="the Ray cluster to run on, from a node of it: auto or HEAD:6379; local: a Ray instance in "
                        "this process (LABELPORT_RAY_ADDRESS; giving it means --engine ray)")
    p.add_argument("--confirm-above", type=_threshold, metavar="T|calibrated",
                   help="then confirm every prediction with confidence >= T (0..1), or >= the threshold the run "
                        "measured ('calibrated'; nothing is confirmed when the run measured none)")
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

    add_user_parsers(sub)  # add-user, list-users, ...: work while the app runs too

    p = sub.add_parser("hash-password", help="print an Argon2 hash of a password (from stdin) for a users file")

    p = sub.add_parser("publish", help="publish a job as its next immutable dataset version in object storage")
    p.add_argument("--job", required=True, help="job name")
    p.add_argument("--description", default="", help="what this version is")
    p.add_argument("--split", help="the training files' splits, stratified by label: train=0.8,val=0.1,test=0.1")
    p.add_argument("--seed", type=int, default=0, help="the seed of the splits")
    p.add_argument("--reference", action="store_true",
                   help="the training files name images and audio by URI (default: their bytes are embedded)")
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
                             s3_endpoint=getattr(args, "s3_endpoint", None), engine=getattr(args, "engine", None),
                             ray_address=getattr(args, "ray_address", None))


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
    from store.jobs import create_job, find_job, list_jobs, source_refusals
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
    if args.command in USER_COMMANDS:
        return user_command(args)
    store = open_store(settings_from_args(args))
    try:
        if args.command == "mirror":
            from store.mirror import mirror_store

            m = mirror_store(store)
            _print(args, m.as_dict(), f"mirrored {m.tables} tables ({m.rows} rows, {m.bytes} bytes, "
                   f"{m.objects_uploaded} files uploaded) to {store.settings.mirror}/{m.prefix} in {m.seconds:.1f} s")
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
            refused = source_refusals(store, job.id, actor="cli")
            _print(args, {"id": job.id, "name": job.name, "type": job.type, "samples": st.total,
                          "labels": job.label_set.names(), "refused": refused},
                   f"created job {job.name!r} ({job.type}) with {st.total} samples and "
                   f"{len(job.label_set.names())} labels" + "".join(f"\nrefused: {e}" for e in refused))
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
            res = export_job(store, job.id, args.format, args.out, actor="cli", split=args.split, seed=args.seed,
                             predictions="predictions" in args.include, absolute_paths=args.absolute_paths,
                             masks=args.masks)
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
        v = publish_version(store, job.id, args.description, actor="cli", split=args.split, seed=args.seed,
                            reference=args.reference)
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
                      args.strategy, actor="cli", engine=store.settings.engine)
        data = run.as_dict()
        text = f"{run.title} run {run.id}: {run.status} — {run.message}"
        above = args.confirm_above
        if above == "calibrated":
            from store.runs import suggested_threshold

            above = suggested_threshold(run.calibration)
            if above is None:
                text += "\nnothing confirmed: the run measured no threshold"
        if run.status == "done" and above is not None:
            data["confirmed"] = confirm_above(store, job.id, above, actor="cli")
            data["confirmed_above"] = above
            text += f"\nconfirmed {data['confirmed']} samples with confidence >= {above:.2f}"
        _print(args, data, text)
        if run.status != "done":
            return 1
    return 0


def _threshold(value: str):
    """--confirm-above: a number from 0 to 1, or "calibrated"."""
    if value.strip().lower() == "calibrated":
        return "calibrated"
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: a number from 0 to 1, or 'calibrated'") from None


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


# -- user commands: directly on the store, or through the running app ---------------------------------
USER_COMMANDS = ("add-user", "list-users", "disable-user", "enable-user", "reset-password", "make-admin",
                 "approve-user", "invite-user")
URL_HELP = ("the running app's URL (LABELPORT_URL; default: the one it wrote to <data-dir>/app.url); used only "
            "while the app holds the store")


def add_user_parsers(sub) -> None:
    p = sub.add_parser("add-user", help="add a user who logs in with a password (the app becomes multi-user)")
    p.add_argument("name", help="user name: letters, digits, _ . @ -")
    p.add_argument("--email", help="the user's email: team membership and notifications go by it")
    p.add_argument("--admin", action="store_true", help="an admin sees and manages every job and team")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--password-stdin", action="store_true",
                     help="read the password from standard input (else it is asked for, without echo)")
    how.add_argument("--invite", action="store_true",
                     help="no password: print a one-time link with which the user chooses one")

    p = sub.add_parser("invite-user", help="add a user with a one-time invitation link (printed) to choose a password")
    p.add_argument("name", help="user name: letters, digits, _ . @ -")
    p.add_argument("--email", help="the user's email: team membership and notifications go by it")
    p.add_argument("--admin", action="store_true", help="an admin sees and manages every job and team")

    sub.add_parser("list-users", help="the configured users, their state and active sessions")

    for name, text in (("disable-user", "disable an account: the user may not log in, their sessions end"),
                       ("enable-user", "enable a disabled account"),
                       ("approve-user", "let a pending Hugging Face account use the app")):
        sub.add_parser(name, help=text).add_argument("name", help="user name")

    p = sub.add_parser("reset-password",
                       help="set a user's password (their sessions end), or give a new invitation link")
    p.add_argument("name", help="user name")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--password-stdin", action="store_true",
                     help="read the new password from standard input (else it is asked for, without echo)")
    how.add_argument("--invite", action="store_true",
                     help="print a one-time link to choose a new password; the old one stops working now")

    p = sub.add_parser("make-admin", help="make a user an admin (--remove: take the flag away)")
    p.add_argument("name", help="user name")
    p.add_argument("--remove", action="store_true", help="remove the admin flag")

    for name in USER_COMMANDS:
        sub.choices[name].add_argument("--json", action="store_true", help="print JSON")
        sub.choices[name].add_argument("--url", default=os.environ.get("LABELPORT_URL"), help=URL_HELP)


class DirectUsers:
    """The user commands on the store itself (the app is not running), as the system actor "cli"."""

    actor = "cli"

    def __init__(self, store):
        self.store = store

    def _link(self, token: str) -> str:
        from store.users import invitation_url

        return invitation_url(self.store.settings.public_url, token)

    def add(self, name: str, email: str | None, password: str | None, admin: bool, invite: bool) -> dict:
        from store.users import add_user, create_invitation

        u = add_user(self.store, name, email, password, admin, actor=self.actor, invited=invite)
        out = u.as_dict()
        if invite:
            out["invitation_url"] = self._link(create_invitation(self.store, u.username, actor=self.actor))
        return out

    def list(self) -> list[dict]:
        from store.users import list_users

        return [u.as_dict() for u in list_users(self.store, actor=self.actor)]

    def patch(self, name: str, **change) -> dict:
        from store import users

        if change.get("approved"):
            users.approve_user(self.store, name, actor=self.actor)
        if "admin" in change:
            users.set_admin(self.store, name, change["admin"], actor=self.actor)
        if "disabled" in change:
            users.set_disabled(self.store, name, change["disabled"], actor=self.actor)
        return users.get_user(self.store, name).as_dict()

    def password(self, name: str, password: str | None, invite: bool) -> dict:
        from store.users import create_invitation, set_password

        if invite:
            return {"username": name, "invitation_url": self._link(
                create_invitation(self.store, name, actor=self.actor, reset=True))}
        set_password(self.store, name, password, actor=self.actor)
        return {"username": name, "ok": True}


class RemoteUsers:
    """The user commands through the running app's REST API (/api/v1/users), authenticated with the
    local admin token the app wrote to <data-dir>/admin.token (local_admin.py)."""

    STARTING_WAIT_S = 30.0  # an app that is starting holds the store (and wrote app.url) before it listens

    def __init__(self, url: str, token: str, data_dir, wait_s: float = 0.0):
        self.url = url.rstrip("/")
        self.token = token
        self.data_dir = data_dir
        self.wait_s = wait_s

    @classmethod
    def find(cls, settings, url: str | None) -> "RemoteUsers":
        from local_admin import TOKEN_FILE, read_token, read_url
        from store.errors import StoreError

        data = settings.data_dir
        published = read_url(data)
        token = read_token(data)
        if not (url or published) or not token:
            raise StoreError(f"the store in {data} is in use by another process, and no running app published its "
                             f"address and admin token there ({TOKEN_FILE}). If the app is starting, run the command "
                             "again in a moment; if it runs, restart it with this version; otherwise stop the process "
                             "that holds the store and run the command again.")
        # the published address of an app that may still be starting: wait for it a while; an explicit one: no
        return cls(url or published, token, data, wait_s=0.0 if url else cls.STARTING_WAIT_S)

    def _call(self, method: str, path: str, body: dict | None = None):
        import time
        import urllib.error
        import urllib.parse
        import urllib.request

        from store.errors import Conflict, Forbidden, NotFound, StoreError, ValidationError

        req = urllib.request.Request(self.url + "/api/v1" + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json",
                                              "Content-Type": "application/json"})
        host = urllib.parse.urlsplit(self.url).hostname or ""
        # the app on this machine: never through a proxy the environment names
        opener = (urllib.request.build_opener(urllib.request.ProxyHandler({}))
                  if host in ("127.0.0.1", "localhost", "::1") else urllib.request.build_opener())
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                with opener.open(req, timeout=60) as r:
                    raw = r.read()
                    return json.loads(raw) if raw else None
            except urllib.error.HTTPError as e:
                try:
                    message = json.loads(e.read())["error"]["message"]
                except (ValueError, KeyError, TypeError):
                    message = f"HTTP {e.code} {e.reason}"
                if e.code == 401:
                    raise StoreError(f"the app at {self.url} did not accept the admin token in {self.data_dir}: "
                                     "is it the app of this --data-dir? (give --url, or restart the app)") from None
                kind = {400: ValidationError, 403: Forbidden, 404: NotFound, 409: Conflict}.get(e.code, StoreError)
                raise kind(message) from None
            except (urllib.error.URLError, OSError) as e:
                if time.monotonic() < deadline:
                    time.sleep(0.5)
                    continue
                reason = getattr(e, "reason", e)
                raise StoreError(f"the store in {self.data_dir} is in use by another process, and the app at "
                                 f"{self.url} does not answer ({reason}). If the app runs at another address, "
                                 "give it with --url (or LABELPORT_URL); otherwise stop the process that holds "
                                 "the store and run the command again.") from None

    def add(self, name, email, password, admin, invite) -> dict:
        body = {"username": name, "email": email, "admin": admin, "invite": invite}
        if password is not None:
            body["password"] = password
        return self._call("POST", "/users", body)

    def list(self) -> list[dict]:
        return self._call("GET", "/users")

    def patch(self, name: str, **change) -> dict:
        import urllib.parse

        return self._call("PATCH", f"/users/{urllib.parse.quote(name, safe='')}", change)

    def password(self, name, password, invite) -> dict:
        import urllib.parse

        body = {"invite": True} if invite else {"password": password}
        return self._call("POST", f"/users/{urllib.parse.quote(name, safe='')}/password", body)


def _store_locked(error) -> bool:
    return "in use by another process" in str(error)


def user_command(args) -> int:
    """add-user, list-users, ...: on the store when it is free; while the app runs (the store is
    locked by it), through the app's API with its local admin token. Never "the store is locked"."""
    from store import open_store
    from store.errors import StoreError

    needs_password = (args.command == "add-user" and not args.invite) or (
        args.command == "reset-password" and not args.invite)
    password = _read_password(args) if needs_password else None
    settings = settings_from_args(args)
    try:
        store = open_store(settings)
    except StoreError as e:
        if not _store_locked(e):
            raise
        log.info("the store is in use (the app runs?): going through the app's API")
        return run_user_command(RemoteUsers.find(settings, args.url), args, password)
    try:
        return run_user_command(DirectUsers(store), args, password)
    finally:
        store.close()


def _user_line(u: dict) -> str:
    state = ("disabled" if u.get("disabled") else "pending approval" if u.get("pending")
             else "invited" if u.get("source") == "local" and not u.get("has_password", True) else "active")
    return (f"{u['username']}\t{u.get('email') or '-'}\t{'admin' if u.get('is_admin') else 'user'}\t"
            f"{u.get('source')}\t{state}\t{u.get('active_sessions', 0)} sessions")


def run_user_command(users, args, password: str | None) -> int:
    c = args.command
    if c in ("add-user", "invite-user"):
        invite = c == "invite-user" or args.invite
        u = users.add(args.name, args.email, password, args.admin, invite)
        text = f"added user {u['username']}" + (f" <{u['email']}>" if u.get("email") else "") + (
            " (admin)" if u.get("is_admin") else "")
        if invite:
            text += f"\ninvitation link (one use, valid {_invitation_days()} days):\n{u['invitation_url']}"
        _print(args, u, text)
    elif c == "list-users":
        us = users.list()
        _print(args, {"users": us}, "\n".join(_user_line(u) for u in us) or "no users: the app runs single-user")
    elif c in ("disable-user", "enable-user"):
        u = users.patch(args.name, disabled=c == "disable-user")
        _print(args, u, f"{'disabled' if u['disabled'] else 'enabled'} {u['username']}"
               + (": their sessions ended" if u["disabled"] else ""))
    elif c == "approve-user":
        u = users.patch(args.name, approved=True)
        _print(args, u, f"approved {u['username']}")
    elif c == "make-admin":
        u = users.patch(args.name, admin=not args.remove)
        _print(args, u, f"{u['username']} is {'an admin' if u['is_admin'] else 'no longer an admin'}")
    elif c == "reset-password":
        r = users.password(args.name, password, args.invite)
        _print(args, r, f"new invitation link for {args.name} (one use, valid {_invitation_days()} days; the old "
                        f"password no longer works):\n{r['invitation_url']}" if args.invite
               else f"password of {args.name} changed; their sessions ended")
    return 0


def _invitation_days() -> int:
    from store.users import INVITATION_DAYS

    return INVITATION_DAYS
