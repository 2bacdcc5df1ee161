"""Settings from environment variables (and CLI flags), with defaults that need no configuration."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

ENV_PREFIX = "LABELPORT_"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    db_path: Path | None = None  # default: <data_dir>/labeling.duckdb
    storage: str = "local"  # "local" (a folder) or "s3"
    objects_dir: Path | None = None  # default: <data_dir>/objects
    s3_bucket: str = ""
    s3_prefix: str = ""
    s3_endpoint: str = ""
    s3_region: str = ""
    max_image_pixels: int = 100_000_000  # larger images are refused with a clear message
    max_upload_bytes: int = 512 * 1024 * 1024  # one uploaded file (LABELPORT_MAX_UPLOAD_BYTES)
    # Bounded work per request (limits.py, store/media.py). A request body above its limit is
    # refused with 413 before it is read: JSON and form bodies (LABELPORT_MAX_JSON_BYTES; a save of
    # 10,000 polygons of 32 points is ~7 MB), the body of POST /api/v1/jobs/{id}/samples (up to
    # 1,000,000 references; LABELPORT_MAX_IMPORT_JSON_BYTES), multipart uploads to Gradio, several
    # files in one request streamed to disk (LABELPORT_MAX_MULTIPART_BYTES; each file is also held
    # to max_upload_bytes), and multipart bodies under /api/ (read into memory: max_upload_bytes).
    max_json_bytes: int = 16 * 1024 * 1024
    max_import_json_bytes: int = 128 * 1024 * 1024
    max_multipart_bytes: int = 4 * 1024 * 1024 * 1024
    # Decoded display images kept in memory, least recently used out (LABELPORT_IMAGE_CACHE_MB),
    # and how many image decodes run at once (LABELPORT_MAX_DECODES); others wait their turn.
    image_cache_bytes: int = 256 * 1024 * 1024
    max_decodes: int = 2
    demo: bool = True  # offer the demo job on first start
    # Read datasets from folders of the server's disk. Off by default on a public Space: there,
    # data comes from uploads and S3 only, so a visitor cannot read the server's files.
    allow_local_paths: bool = True
    users_file: str = ""  # JSON list of users to add at start (F6.1)
    smtp_host: str = ""  # notifications (F5.4): SMTP when set, else the in-app outbox
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = "labelport@localhost"
    public_url: str = "http://127.0.0.1:7860"  # the link in notification emails
    mirror: str = ""  # s3://bucket/prefix: the store mirrored there, restored from it (store/mirror.py)
    mirror_debounce_s: float = 30.0  # mirror once writes have been quiet this long
    trash_days: float = 30.0  # deleted jobs and samples stay restorable this long (LABELPORT_TRASH_DAYS)
    # Where auto-labeling runs compute (autolabel/engine.py): "local" (threads of the app) or "ray"
    # (a Ray cluster: LABELPORT_ENGINE, or set LABELPORT_RAY_ADDRESS: "auto" or HEAD:6379 from a node of
    # the cluster, or "local", a Ray instance in the app's process).
    engine: str = "local"
    ray_address: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def database(self) -> Path:
        return self.db_path or self.data_dir / "labeling.duckdb"

    @property
    def objects_root(self) -> Path:
        return self.objects_dir or self.data_dir / "objects"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        env = os.environ
        values: dict = {}
        if env.get(ENV_PREFIX + "DATA_DIR"):
            values["data_dir"] = Path(env[ENV_PREFIX + "DATA_DIR"])
        if env.get(ENV_PREFIX + "DB"):
            values["db_path"] = Path(env[ENV_PREFIX + "DB"])
        if env.get(ENV_PREFIX + "OBJECTS_DIR"):
            values["objects_dir"] = Path(env[ENV_PREFIX + "OBJECTS_DIR"])
        for key in ("storage", "s3_bucket", "s3_prefix", "s3_endpoint"):
            if env.get(ENV_PREFIX + key.upper()):
                values[key] = env[ENV_PREFIX + key.upper()]
        if env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"):
            values["s3_region"] = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        for key in ("users_file", "smtp_host", "smtp_user", "smtp_password", "smtp_from", "public_url"):
            if env.get(ENV_PREFIX + key.upper()):
                values[key] = env[ENV_PREFIX + key.upper()]
        if env.get(ENV_PREFIX + "SMTP_PORT"):
            values["smtp_port"] = int(env[ENV_PREFIX + "SMTP_PORT"])
        if env.get("SPACE_HOST") and not env.get(ENV_PREFIX + "PUBLIC_URL"):
            values["public_url"] = "https://" + env["SPACE_HOST"]
        if env.get(ENV_PREFIX + "MIRROR"):
            values["mirror"] = env[ENV_PREFIX + "MIRROR"]
        for key in ("engine", "ray_address"):
            if env.get(ENV_PREFIX + key.upper()):
                values[key] = env[ENV_PREFIX + key.upper()].strip()
        if env.get(ENV_PREFIX + "MIRROR_DEBOUNCE"):
            values["mirror_debounce_s"] = float(env[ENV_PREFIX + "MIRROR_DEBOUNCE"])
        if env.get(ENV_PREFIX + "TRASH_DAYS"):
            values["trash_days"] = float(env[ENV_PREFIX + "TRASH_DAYS"])
        if env.get(ENV_PREFIX + "MAX_IMAGE_PIXELS"):
            values["max_image_pixels"] = int(env[ENV_PREFIX + "MAX_IMAGE_PIXELS"])
        for key in ("max_upload_bytes", "max_json_bytes", "max_import_json_bytes", "max_multipart_bytes",
                    "max_decodes"):
            if env.get(ENV_PREFIX + key.upper()):
                values[key] = int(env[ENV_PREFIX + key.upper()])
        if env.get(ENV_PREFIX + "IMAGE_CACHE_MB"):
            values["image_cache_bytes"] = int(float(env[ENV_PREFIX + "IMAGE_CACHE_MB"]) * 1024 * 1024)
        local = env.get(ENV_PREFIX + "ALLOW_LOCAL_PATHS")
        if local is not None:
            values["allow_local_paths"] = local.lower() not in ("0", "false", "no")
        elif env.get("SPACE_ID"):
            values["allow_local_paths"] = False
        if env.get(ENV_PREFIX + "DEMO"):
            values["demo"] = env[ENV_PREFIX + "DEMO"].lower() not in ("0", "false", "no")
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "data_dir" in values:
            values["data_dir"] = Path(values["data_dir"])
        settings = cls(**values)
        if settings.s3_bucket and "storage" not in values:
            settings = replace(settings, storage="s3")
        if settings.ray_address and "engine" not in values:  # an address given means: run on that cluster
            settings = replace(settings, engine="ray")
        return settings
