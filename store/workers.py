"""What the workers of a distributed engine read (autolabel/ray_engine.py), without the store's
database: the database stays the app's (one writer process), the workers never open it.

- `sample_files`: for each sample of a run, a `SampleFile` naming its file by a URI a worker
  reads itself: an absolute path (a folder imported in place, or the app's local object folder:
  the workers see it at the same path, e.g. a shared mount) or an s3:// URL (uploads to an S3
  object store, s3:// datasets); a text record carries its text. The app checks first that it
  may read each file (access, private folders, LABELPORT_ALLOW_LOCAL_PATHS), as for itself.
- `worker_storage`: how a worker reaches S3: the app's endpoint, region and credentials (boto3's
  chain in the app: AWS_* variables, a profile, an instance role; frozen). They travel to the
  workers with the work, as an argument of its tasks and actors, and the workers give them to
  boto3: never as Ray runtime_env env_vars (Ray's runtime-env agent writes those, values
  included, into its log file) and never in a repr or a log line of ours.
- `WorkerFiles`: the reading on a worker (bytes, audio, video), with the store's error types.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from .access import require_job
from .core import Store
from .errors import NotFound, ValidationError
from .objects import S3Store, parse_s3_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SampleFile:
    sample_id: int
    uri: str  # an absolute path or an s3:// URL, as a worker reads it ("" for a text record)
    name: str  # the file's path in its dataset (audio and video formats are told by it)
    text: str | None = None  # a text record: the record itself, no file to read


def sample_files(store: Store, job_id: int, sample_ids: list[int], actor: str | None = None) -> dict[int, SampleFile]:
    """sample id -> SampleFile for the given samples of a job, checked as the app's own reads are."""
    require_job(store, actor, job_id, "read")
    ids = [int(s) for s in sample_ids]
    out: dict[int, SampleFile] = {}
    if not ids:
        return out
    rows = store.db.fetchall(
        "SELECT s.id, s.uri, s.path, s.text FROM job_samples js JOIN samples s ON s.id = js.sample_id "
        "WHERE js.job_id = ? AND js.sample_id IN (SELECT unnest(?::BIGINT[]))", [job_id, ids])
    for sid, uri, path, text in rows:
        name = path or (uri or "").rsplit("/", 1)[-1]
        if text is not None:
            out[sid] = SampleFile(sid, "", name, text)
            continue
        store.locations.resolve(uri)  # refuses what the app itself would not read (private folders...)
        out[sid] = SampleFile(sid, store.locations.public_uri(uri), name)
    missing = set(ids) - set(out)
    if missing:
        raise NotFound(f"sample {min(missing)} is not in job {job_id}")
    return out


@dataclass(frozen=True, repr=False)
class WorkerStorage:
    """How a worker reaches S3. The credentials are secrets: repr and logs never show them."""
    s3_endpoint: str = ""
    s3_region: str = ""
    credentials: dict = field(default_factory=dict)  # aws_access_key_id, aws_secret_access_key(, aws_session_token)

    def __repr__(self) -> str:
        return (f"WorkerStorage(s3_endpoint={self.s3_endpoint!r}, s3_region={self.s3_region!r}, "
                f"credentials={'given' if self.credentials else 'none'})")


def worker_storage(store: Store, files: dict[int, SampleFile] | None = None) -> WorkerStorage:
    """The app's S3 settings for its workers; credentials only when some file is in S3 (boto3's
    chain may ask an instance-metadata service, which takes seconds where there is none)."""
    settings = store.settings
    needs_s3 = any(f.uri.startswith("s3://") for f in (files or {}).values())
    creds: dict = {}
    if needs_s3:
        try:
            import boto3

            found = boto3.Session().get_credentials()
            if found is not None:
                frozen = found.get_frozen_credentials()
                creds = {"aws_access_key_id": frozen.access_key, "aws_secret_access_key": frozen.secret_key}
                if frozen.token:
                    creds["aws_session_token"] = frozen.token
        except Exception as e:  # noqa: BLE001 - the workers then use their own chain (e.g. an instance role)
            log.warning("no S3 credentials to hand to the workers (%s); they use their own", type(e).__name__)
    return WorkerStorage(settings.s3_endpoint, settings.s3_region, creds)


class WorkerFiles:
    """Reads samples' files on a worker, from their URIs."""

    def __init__(self, storage: WorkerStorage | None = None):
        self.storage = storage or WorkerStorage()
        self._buckets: dict[str, S3Store] = {}

    def _bucket(self, name: str) -> S3Store:
        if name not in self._buckets:
            s = self.storage
            self._buckets[name] = S3Store(name, endpoint_url=s.s3_endpoint, region=s.s3_region,
                                          credentials=s.credentials or None)
        return self._buckets[name]

    def local_path(self, f: SampleFile) -> Path | None:
        if f.text is not None or f.uri.startswith("s3://"):
            return None
        path = Path(f.uri[len("file://"):] if f.uri.startswith("file://") else f.uri)
        if not path.is_absolute():
            raise ValidationError(f"{f.uri!r} is neither an absolute path nor an s3:// URL")
        return path

    def read(self, f: SampleFile) -> bytes:
        """The file's bytes (a text record: its text, UTF-8)."""
        if f.text is not None:
            return f.text.encode("utf-8")
        if f.uri.startswith("s3://"):
            bucket, key = parse_s3_url(f.uri)
            return self._bucket(bucket).get(key)
        path = self.local_path(f)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"file not found on this worker: {f.uri} (the workers read the files at the app's "
                           "paths: mount them there, or keep the data in S3)") from None
        except IsADirectoryError:
            raise NotFound(f"{f.uri} is a folder, not a file") from None

    def open_audio(self, f: SampleFile):
        """A SoundFile on the sample's file (local files in place), as store/audio.py opens it."""
        from media import audio as media_audio

        from .media import as_validation_errors

        open_sound = as_validation_errors(media_audio.open_sound)
        local = self.local_path(f)
        if local is not None and local.is_file():
            return open_sound(local, f.name)
        return open_sound(self.read(f), f.name)

    def open_video(self, f: SampleFile):
        """(container, frame index) of a video sample, as store/video.py opens it."""
        from media import video as media_video

        from .media import as_validation_errors

        local = self.local_path(f)
        try:
            if local is not None and local.is_file():
                st = local.stat()
                key, source = (str(local), st.st_size, st.st_mtime_ns), local
            else:
                data = self.read(f)
                key, source = (f.uri, len(data), hash(data[:4096])), data
        except OSError as e:
            raise ValidationError(f"{f.name}: cannot be read as video ({str(e)[:120]})") from None
        open_indexed = as_validation_errors(media_video.open_indexed)
        return open_indexed(source, f.name, key, media_video.FrameIndexCache())
