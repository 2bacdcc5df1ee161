"""The web server: FastAPI with the Gradio UI mounted at / and sample media under /media."""
from __future__ import annotations

import argparse
import gc
import json
import logging
import mimetypes
import os
import time

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response

from store import Store, StoreError, open_store
from store.errors import NotFound

log = logging.getLogger("labelport")


def build_server(store: Store, defer_ui: bool = False, ui: bool = True) -> FastAPI:
    """The app: REST API, media, auth and the Gradio UI. `defer_ui`: the UI is built once the
    server runs (DeferredUI), so the API answers seconds sooner after a (cold) start. `ui=False`
    (`--no-ui`): the REST API and media only, for scripts and pipelines (Gradio is never imported)."""
    app = FastAPI(title="Labelport", docs_url=None, redoc_url=None)
    from auth import install_auth, multi_user

    from limits import BodyLimitMiddleware

    # added before auth's: inside its session check and security headers; a too-large body is 413, unread
    app.add_middleware(BodyLimitMiddleware, settings=store.settings)
    install_auth(app, store)
    from invite import install_invite

    install_invite(app, store)  # /invite/{token}: one-time links to choose a password (F6.4)

    from store import samples

    def _jsonable(o):
        return o.tolist() if hasattr(o, "tolist") else str(o)

    def sample_id_for(request: Request, raw: str) -> int:
        """The sample of a /media/{id}/... route, parsed strictly, that the logged-in user may
        read (store/access.py); anything else is 404, the same answer as an unknown sample."""
        from store.access import require_sample_file

        try:
            return require_sample_file(store, raw_actor(request), raw)
        except StoreError:
            raise HTTPException(404, "sample not found") from None

    def parsed_id(raw: str) -> int:
        """For a route whose store function asks store/access.py itself (a grid page asks for 48
        thumbnails at once: one access query each, not two): the id parsed strictly, else 404."""
        from store.access import parse_id

        try:
            return parse_id(raw, "sample id")
        except StoreError:
            raise HTTPException(404, "sample not found") from None

    def raw_actor(request: Request) -> str:
        from store import LOCAL_USER

        return getattr(request.state, "user", None) or LOCAL_USER

    def media(make, request: Request, *args, media_type: str = "image/webp", headers: dict | None = None) -> Response:
        """Run one store function for a sample's media as the logged-in user; unknown or not
        theirs 404, refused 422."""
        try:
            data = make(store, *args, actor=raw_actor(request))
        except NotFound:
            raise HTTPException(404, "sample not found") from None
        except StoreError as e:
            raise HTTPException(422, str(e)) from None
        return Response(data, media_type=media_type, headers=headers or {"Cache-Control": "private, max-age=3600"})

    @app.get("/media/{sample_id}/thumb")
    def thumbnail(sample_id: str, request: Request):
        return media(samples.sample_thumbnail, request, parsed_id(sample_id))

    @app.get("/media/{sample_id}/display")
    def display(sample_id: str, request: Request):
        return media(samples.sample_display, request, parsed_id(sample_id))

    @app.get("/media/{sample_id}/crop")
    def crop(sample_id: str, request: Request, x1: float, y1: float, x2: float, y2: float):
        from limits import require_finite

        sid = sample_id_for(request, sample_id)
        require_finite(x1=x1, y1=y1, x2=x2, y2=y2)  # then clamped to the image (store/samples.py)
        return media(samples.sample_crop, request, sid, (x1, y1, x2, y2))

    @app.get("/media/{sample_id}/outline")
    def outline(sample_id: str, request: Request, points: str):
        """The object's outline from its 4 extreme points (`points=x1,y1,...,x4,y4`, image pixels),
        fitted to the image (JSON: {"points", "method": "sam" | "grabcut" | "octagon"}, with SAM
        tried also "model" and, when SAM's fit was not taken, "note"): the segmentation canvas's
        extreme-points tool asks for it. SAM fits first when a SAM model is registered."""
        from limits import require_finite

        sid = sample_id_for(request, sample_id)
        try:
            values = [float(v) for v in points.split(",")]
        except ValueError:
            raise HTTPException(422, "points: eight numbers, x1,y1,...,x4,y4") from None
        if len(values) != 8:
            raise HTTPException(422, "points: eight numbers, x1,y1,...,x4,y4")
        require_finite(**{f"p{i}": v for i, v in enumerate(values)})
        pairs = [values[i:i + 2] for i in range(0, 8, 2)]
        return media(lambda st, s, actor: json.dumps(samples.sample_outline(st, s, pairs, actor=actor)).encode(),
                     request, sid, media_type="application/json", headers={"Cache-Control": "no-store"})

    def pixel_numbers(raw: str | None, name: str, what: str, most: int) -> list[float]:
        """Comma-separated finite numbers of a query parameter (at most `most`), else 422."""
        from limits import require_finite

        if raw is None or not raw.strip():
            return []
        parts = raw.split(",")
        if len(parts) > most:
            raise HTTPException(422, f"{name}: at most {most} numbers ({what})")
        try:
            values = [float(v) for v in parts]
        except ValueError:
            raise HTTPException(422, f"{name}: {what}") from None
        require_finite(**{f"{name}[{i}]": v for i, v in enumerate(values)})
        return values

    @app.get("/media/{sample_id}/sam")
    def click_segment(sample_id: str, request: Request, pos: str | None = None, neg: str | None = None,
                      box: str | None = None):
        """Click to segment with SAM (store/samples.py sample_segment), for the segmentation canvas.

        Query, all in the image's own pixels (as shapes are saved), comma-separated:
        `pos=x,y,x,y,...` the positive clicks, `neg=x,y,...` the negative ones (at most
        samples.MAX_CLICKS = 32 pairs each), `box=x0,y0,x1,y1` an optional box that also bounds
        the object; at least one positive click or a box. Points outside the image are clamped.
        200: {"points": [[x, y], ...] (the object's polygon; [] when SAM finds nothing there),
        "method": "sam", "model": "<name>@<version>", "score": SAM's predicted IoU, 0..1}.
        422 {"detail": message}: malformed numbers, too many points, no positive click or box,
        a sample that is not an image, or no SAM model registered (ask /media/{id}/segment-tools
        first). 404: the sample is unknown or not the user's. Not cached (no-store). The first
        click on an image computes its embedding (seconds on a CPU with a real SAM); the next
        clicks on it reuse it."""
        sid = sample_id_for(request, sample_id)
        pairs = "x,y pairs of finite numbers"
        p = pixel_numbers(pos, "pos", pairs, 2 * samples.MAX_CLICKS)
        n = pixel_numbers(neg, "neg", pairs, 2 * samples.MAX_CLICKS)
        b = pixel_numbers(box, "box", "four numbers, x0,y0,x1,y1", 4)
        if len(p) % 2 or len(n) % 2:
            raise HTTPException(422, f"pos and neg: {pairs}")
        if box is not None and len(b) != 4:
            raise HTTPException(422, "box: four numbers, x0,y0,x1,y1")
        return media(lambda st, s, actor: json.dumps(samples.sample_segment(
            st, s, [p[i:i + 2] for i in range(0, len(p), 2)], [n[i:i + 2] for i in range(0, len(n), 2)],
            b or None, actor=actor)).encode(), request, sid, media_type="application/json",
            headers={"Cache-Control": "no-store"})

    @app.get("/media/{sample_id}/segment-tools")
    def segment_tools(sample_id: str, request: Request):
        """What the segmentation canvas may offer on this sample (JSON): {"sam": true when a SAM
        model is registered (then offer click to segment, /media/{id}/sam), "model": its ref or
        null, "extreme_points": "sam" | "grabcut" (how /media/{id}/outline fits first),
        "max_clicks": 32}."""
        return media(lambda st, s, actor: json.dumps(samples.segment_tools(st, s, actor=actor)).encode(),
                     request, sample_id_for(request, sample_id), media_type="application/json",
                     headers={"Cache-Control": "no-store"})

    @app.get("/media/{sample_id}/file")
    def sample_file(sample_id: str, request: Request):
        """The file, streamed in chunks; one `Range: bytes=a-b` answered with 206 (only that
        range is read: a seek, or a ranged GET in S3), so browsers seek in <audio>/<video>."""
        from limits import file_response

        sid = sample_id_for(request, sample_id)
        try:
            f = samples.open_sample_file(store, sid, actor=raw_actor(request))
        except NotFound:
            raise HTTPException(404, "sample not found") from None
        except StoreError as e:
            raise HTTPException(422, str(e)) from None
        # never let a stored file render as a page of this site
        return file_response(f, mimetypes.guess_type(f.uri.split("#")[0])[0] or "application/octet-stream",
                             request.headers.get("range"),
                             {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"})

    @app.get("/media/{sample_id}/peaks")
    def audio_peaks(sample_id: str, request: Request, start: float = 0.0, end: float | None = None,
                    buckets: int = 1000):
        """Waveform peaks of [start, end) seconds in at most 4000 buckets (JSON): the waveform
        editor fetches only the window it shows, so a long file never loads whole."""
        from limits import require_finite
        from store import audio

        sid = sample_id_for(request, sample_id)
        require_finite(start=start, end=end)
        buckets = max(1, min(int(buckets), 4000))
        return media(lambda st, s, actor: json.dumps(audio.waveform_peaks(st, s, start, end, buckets, actor=actor),
                                                     default=_jsonable).encode(),
                     request, sid, media_type="application/json")

    @app.get("/media/{sample_id}/segment")
    def audio_segment(sample_id: str, request: Request, start: float, end: float):
        """The audio of [start, end) seconds as WAV (play one segment)."""
        from limits import require_finite
        from store import audio

        sid = sample_id_for(request, sample_id)
        require_finite(start=start, end=end)
        return media(audio.segment_audio_bytes, request, sid, start, end, media_type="audio/wav")

    @app.get("/media/{sample_id}/frame")
    def video_frame(sample_id: str, request: Request, index: int, max_side: int = 1280, format: str = "jpeg"):
        """Frame `index` (presentation order) of a video, exactly, downscaled for display to at
        most `max_side` pixels on its longer side (shapes stay in the video's own pixels)."""
        from store import video

        fmt = "webp" if format == "webp" else "jpeg"
        return media(video.video_frame, request, sample_id_for(request, sample_id), index,
                     max(16, min(int(max_side), 4096)), fmt, media_type=f"image/{fmt}")

    from components.widget_js import install_route

    install_route(app)  # the widgets' JavaScript, once per page load

    @app.get("/healthz")
    def health(request: Request):
        """Liveness for anyone; the mirror's state (bucket, times, errors) only for an admin."""
        from store.access import is_admin
        from store.mirror import mirror_status

        user = getattr(request.state, "user", None)
        ui = getattr(app.state, "ui", None)
        out = {"ok": True, "ui": "ready" if ui is None else ui.state}
        if not multi_user(store) or (user and is_admin(store, user)):
            out["mirror"] = mirror_status(store)
        return out

    from api import mount_api

    mount_api(app, store)
    if not ui:
        app.state.ui = NoUI(app)
        return app
    if defer_ui:
        app.state.ui = DeferredUI(app, store)
        return app
    return mount_ui(app, store)


def mount_ui(app: FastAPI, store: Store) -> FastAPI:
    """Build the Gradio UI (importing gradio and building the Blocks take most of a start) and
    mount it at / behind the app's routes."""
    from auth import current_user, multi_user
    from gradio_frontend import install_route
    from gradio_import import lean_build, mount
    from store import LOCAL_USER
    from ui import CSS, PAGE_JS, build_ui

    with lean_build():  # no throwaway apps and configs (gradio_import.py)
        demo = build_ui(store)
    install_route(app)  # three of Gradio's front-end functions, mended (gradio_frontend.py)
    # always installed: an app started single-user asks for a login once a user is added (Users tab, CLI)
    auth = {"auth_dependency": lambda request: current_user(store, request)
            or (None if multi_user(store) else LOCAL_USER)}
    return mount(app, demo, path="", css=CSS, js=PAGE_JS, max_file_size=store.settings.max_upload_bytes,
                 footer_links=[], **auth)


def settle_heap() -> None:
    """Once the start is over: what it built (Gradio, the UI's Blocks, the modules: ~250,000
    objects) leaves the garbage collector's generations. CPython's full collections walk every
    tracked object; a request that makes many objects (a save of 1,000 polygons: ~100,000) set
    one off every few saves, ~0.1-0.25 s each on 2 cores, paid by that request. What the start
    built stays for the process's life anyway; objects made later are collected as before."""
    gc.collect()
    gc.freeze()


STARTING_PAGE = (b"<!doctype html><html><head><meta charset=utf-8><meta http-equiv=refresh content=1>"
                 b"<title>Labelport is starting</title></head><body style=\"font-family:sans-serif;margin:3em\">"
                 b"<h1>Labelport is starting</h1><p>The page opens by itself in a moment.</p></body></html>")


class NoUI:
    """`--no-ui`: every path but the API's, the media's and /healthz answers 404 saying so."""
    state = "off"

    def __init__(self, app: FastAPI):
        app.add_api_route("/{rest:path}", self.off, include_in_schema=False,
                          methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])

    @staticmethod
    def off(rest: str):
        raise HTTPException(404, "Not Found" if rest.startswith(("api/", "media/")) else
                            "the web UI is off (the app was started with --no-ui): the REST API is at /api/v1")


class DeferredUI:
    """The UI built after the server started listening, in a worker thread: the REST API, the
    media routes and /healthz answer from the first second of a (cold) start, and every other
    path answers 503 with a page that reloads itself until the UI is mounted (`state`:
    "starting", "ready" or "failed"; /healthz says which)."""

    def __init__(self, app: FastAPI, store: Store):
        from contextlib import AsyncExitStack

        self.app, self.store, self.state = app, store, "starting"
        self.stack = AsyncExitStack()
        self.task = None
        app.add_api_route("/{rest:path}", self.starting, include_in_schema=False,
                          methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
        self.placeholder = app.router.routes[-1]  # after every route of the app: it only meets the UI's paths
        app.router.on_startup.append(self.start)
        app.router.on_shutdown.insert(0, self.stop)

    def starting(self, rest: str):
        if rest.startswith(("api/", "media/")):  # not the UI's: unknown, as once it is mounted
            raise HTTPException(404, "Not Found")
        status = 500 if self.state == "failed" else 503
        body = STARTING_PAGE if status == 503 else b"The web UI failed to start: see the server's log."
        return Response(body, status_code=status, media_type="text/html" if status == 503 else "text/plain",
                        headers={"Retry-After": "1", "Cache-Control": "no-store"})

    async def start(self) -> None:
        import asyncio

        self.task = asyncio.get_running_loop().create_task(self.mount())

    async def mount(self) -> None:
        import asyncio

        started = time.monotonic()
        try:
            await asyncio.to_thread(mount_ui, self.app, self.store)  # mounted behind the placeholder
            built = time.monotonic()
            gradio_app = self.app.router.routes[-1].app
            # what mount_gradio_app's lifespan does at a start: Gradio's own lifespan, its queue
            await self.stack.enter_async_context(gradio_app.router.lifespan_context(gradio_app))
            gradio_app.get_blocks().run_startup_events()
            await gradio_app.get_blocks().run_extra_startup_events()
            self.app.router.routes.remove(self.placeholder)
            settle_heap()
            self.state = "ready"
            log.info("the web UI is ready (built in %.1f s, started in %.1f s more)", built - started,
                     time.monotonic() - built)
        except Exception:  # noqa: BLE001 - the API keeps serving; the log says why
            self.state = "failed"
            log.exception("the web UI failed to start")

    async def stop(self) -> None:
        await self.stack.aclose()


def parse_args(argv: list[str]) -> argparse.Namespace:
    from cli import add_storage_options, command_help

    p = argparse.ArgumentParser(
        prog="python app.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Serve the Labelport web app (the store and uploads go to --data-dir, ./data by default).",
        epilog="commands (python app.py COMMAND --help):\n" + command_help())
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME")
                   or ("0.0.0.0" if os.environ.get("SPACE_ID") else "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    p.add_argument("--no-demo", action="store_true", help="do not create the demo job on first start")
    p.add_argument("--no-ui", action="store_true",
                   help="serve the REST API and media only, no web pages (scripts, pipelines; starts in about a second)")
    add_storage_options(p)
    return p.parse_args(argv)


def serve(argv: list[str]) -> int:
    import uvicorn

    from cli import settings_from_args
    from store.demo import ensure_demo

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    args = parse_args(argv)
    settings = settings_from_args(args)
    if args.no_demo:
        from dataclasses import replace

        settings = replace(settings, demo=False)
    try:
        if settings.mirror:
            from store.mirror import MirrorTarget

            MirrorTarget.of(settings)  # a bad LABELPORT_MIRROR is refused before anything else
        store = open_store(settings)  # restores from the mirror first when the store is missing
    except StoreError as e:
        log.error("%s", e)
        return 2
    if settings.users_file:
        from store.users import load_users_file

        log.info("users file %s: %d users added", settings.users_file, load_users_file(store, settings.users_file))
    if ensure_demo(store):
        log.info("first start: created the demo job 'demo-shapes'")
    from local_admin import publish

    # <data-dir>/admin.token and app.url: the CLI's user commands reach this app while it holds the store
    # (written before the UI is built: a command run meanwhile waits for the app to answer)
    remove_admin_files = publish(settings.data_dir, args.host, args.port)
    app = build_server(store, defer_ui=True, ui=not args.no_ui)
    if args.no_ui:  # with the UI: DeferredUI settles the heap once the UI is mounted
        app.router.on_startup.append(settle_heap)
    from store.mirror import start_scheduler

    mirror = start_scheduler(store)  # None without LABELPORT_MIRROR
    if mirror is not None:  # on shutdown: mirror once more (if anything changed), then close
        app.router.on_shutdown.append(mirror.stop)
    # Close the store when uvicorn shuts down (SIGTERM/SIGINT), before it re-raises the signal.
    app.router.on_shutdown.append(store.close)
    # and give what settle_heap froze back to the collector: the interpreter's exit frees it (kept
    # frozen, DuckDB's bindings printed a list of "leaked" functions after Ctrl+C)
    app.router.on_shutdown.append(gc.unfreeze)
    app.router.on_shutdown.insert(0, remove_admin_files)
    log.info("Labelport on http://%s:%d (data in %s)", args.host, args.port, settings.data_dir.absolute())
    # Gradio keeps a heartbeat stream open per browser tab: do not wait for it forever on shutdown.
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=5)
    return 0
