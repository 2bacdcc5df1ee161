"""A person labels a video in the running app (Chromium, Playwright sync API); the store is checked
with the server stopped.

A job made with the CLI on a copy of one clip of ../shared/data/video: open it, play and pause,
step 10 frames with the key ".", "Draw on this frame", draw a box of track b1 on that exact frame,
save (Ctrl+S); the Label List shows it; 10 frames on, a second box of track b1: the Tracks table
counts the 9 interpolated frames between, the player draws the middle one halfway; after a reload the video is in Labeled and the Label List
still has the time point; jump-to opens the frame again with its box; the store holds the frame
index, its time and the box (original pixels). Then: the paused <video> shows the frame the server
extracts for the same index.
"""
from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
from playwright.sync_api import Page, expect  # noqa: E402

from tests.browser.landing import reload_and_land  # noqa: E402
from tests.browser.test_shapes_flow import (  # noqa: E402,F401  (fixtures used by name)
    LONG, Canvas, cli_page, cli_server, close, expect_toast, export_download)

VIDEO = Path(__file__).resolve().parents[3] / "shared" / "data" / "video"  # /work/shared/data/video
CLIP = "bikes.mp4"  # 640 x 272, 25 fps, 250 frames
BOX = [[100, 60], [300, 200]]
BOX2 = [[200, 80], [400, 240]]  # ten frames later, same track: halfway is [[150, 70], [350, 220]]


def clip_job(server, tmp_path: Path, color: str | None = None) -> Path:
    """A video job 'clips' (label bike) made with the CLI on a copy of the clip; its folder."""
    if not (VIDEO / CLIP).is_file():
        pytest.skip(f"shared data {VIDEO / CLIP} is absent: the video flow labels one of its clips")
    folder = tmp_path / "videos"
    folder.mkdir()
    shutil.copy(VIDEO / CLIP, folder / CLIP)
    (folder / CLIP).chmod(0o644)
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"labels": [{"name": "bike", **({"color": color} if color else {})}]}),
                      encoding="utf-8")
    server.cli("create-job", "--name", "clips", "--type", "video_labeling", "--dataset", str(folder),
               "--labels", str(labels))
    return folder


def overlay_state(page: Page) -> dict:
    return page.evaluate("() => document.querySelector('#vid-player .vp-root').__videoPlayer.state()")


def tracked_clip(server, page: Page, tmp_path: Path, frames: list[dict]) -> tuple[Path, int, Canvas]:
    """The clip job with `frames` imported (jsonl), the app started and the video open: (the clip's
    folder, the sample id, the canvas)."""
    folder = clip_job(server, tmp_path)
    rows = tmp_path / "tracks.jsonl"
    rows.write_text(json.dumps({"source": str(folder / CLIP), "frames": frames}) + "\n", encoding="utf-8")
    server.cli("import", "--job", "clips", "--format", "jsonl", str(rows))
    server.start()
    page.goto(server.url)
    expect(page.locator("#job-picker input")).to_have_value("clips  ·  Video labeling")
    page.locator("#job-label").click()
    expect(page.locator("#vid-tabs")).to_contain_text("Labeled (1)", timeout=LONG)
    sample_id = int(page.locator("#vid-player .vp-root").get_attribute("data-sample"))
    return folder, sample_id, Canvas(page, "vid-canvas")


def open_frame(page: Page, cv: Canvas, frame: int, n_shapes: int | None = None) -> None:
    """The player paused on `frame` and the canvas in its place with that frame (pausing opens it;
    "Draw on this frame" too, and does nothing more when it is open)."""
    player = page.locator("#vid-player .vp-root")
    expect(player).to_have_attribute("data-frame", str(frame))
    player.locator(".vp-draw").click()
    expect(player).to_have_attribute("data-editing", "1", timeout=LONG)
    expect(page.locator("#vid-frame-info")).to_contain_text(f"frame {frame} ", timeout=LONG)
    page.wait_for_selector(f'{cv.sel}[data-rendered-image$="index={frame}"]', timeout=LONG)
    cond = "s.dirty === false" + ("" if n_shapes is None else f" && s.shapes.length === {n_shapes}")
    page.wait_for_function(f"() => {{ const s = document.querySelector('{cv.sel}').__shapeCanvas.state(); return {cond}; }}",
                           timeout=LONG)
    expect(page.locator("#vid-player video")).to_be_hidden()  # one picture: the canvas is where the video was
    expect(page.locator("#vid-canvas")).to_be_visible()


def player_frame(page: Page) -> int:
    return int(page.locator("#vid-player .vp-root").get_attribute("data-frame"))


def test_pause_step_draw_save_reload(cli_server, cli_page: Page, page_errors, tmp_path):
    page = cli_page
    clip_job(cli_server, tmp_path, color="#ff8800")
    cli_server.start()

    page.goto(cli_server.url)
    expect(page.locator("#job-picker input")).to_have_value("clips  ·  Video labeling")
    page.locator("#job-label").click()
    expect(page.locator("#vid-list .al-row")).to_have_count(1, timeout=LONG)
    expect(page.locator("#vid-sample-info")).to_contain_text(CLIP)
    expect(page.locator("#vid-tabs")).to_contain_text("Unlabeled (1)")
    player = page.locator("#vid-player .vp-root")
    expect(player).to_have_attribute("data-frame", "0")
    sample_id = int(player.get_attribute("data-sample"))

    # play a moment, pause: the player stops on a whole frame
    player.locator(".vp-play").click()
    page.wait_for_timeout(400)
    player.locator(".vp-play").click()
    page.wait_for_function("() => document.querySelector('#vid-player video').paused")
    start = player_frame(page)
    assert 0 <= start <= 249 and player.get_attribute("data-frame") == str(start)
    if start > 200:  # a loaded machine answered the second click late: back with the seek bar, as a person would
        player.locator(".vp-seekbar").fill("100")
        expect(player).to_have_attribute("data-frame", "100")
        start = 100

    # ten frames forward with the key "." (the pointer on the player, the focus on the page)
    player.locator(".vp-pos").hover()
    page.locator("body").evaluate("b => document.activeElement && document.activeElement.blur()")
    for _ in range(10):
        page.keyboard.press(".")
    expect(player).to_have_attribute("data-frame", str(start + 10))
    page.keyboard.press(",")
    page.keyboard.press(".")
    target = start + 10
    expect(player.locator(".vp-pos")).to_contain_text(f"frame {target} / 249")

    # draw on this frame: the canvas opens /media/{id}/frame?index=target
    cv = Canvas(page, "vid-canvas")
    open_frame(page, cv, target, 0)
    page.locator("#vid-track textarea, #vid-track input").first.fill("b1")  # new shapes get track b1
    page.locator("body").evaluate("b => document.activeElement && document.activeElement.blur()")
    cv.show()
    cv.key("1")
    cv.drag(BOX[0], BOX[1])
    assert len(cv.shapes()) == 1 and cv.state()["dirty"] is True
    cv.key("Control+s")
    expect_toast(page, f"Saved 1 shape on frame {target}")
    cv.wait_clean(1)
    expect(page.locator("#vid-labels")).to_contain_text("bike")
    expect(page.locator("#vid-tabs")).to_contain_text("Labeled (1)")

    # ten more frames, a second box of track b1: the frames between show interpolated boxes
    player.locator(".vp-pos").hover()
    for _ in range(10):
        page.keyboard.press(".")
    open_frame(page, cv, target + 10, 0)
    cv.show()
    cv.drag(BOX2[0], BOX2[1])
    cv.key("Control+s")
    expect_toast(page, f"Saved 1 shape on frame {target + 10}")
    cv.wait_clean(1)
    track_row = page.locator("#vid-tracks").get_by_role("row").filter(has_text="b1")
    expect(track_row).to_contain_text(f"{target}–{target + 10}")  # visible frames
    expect(track_row.get_by_role("gridcell").nth(4)).to_have_text("2")  # keyframes
    expect(track_row.get_by_role("gridcell").nth(5)).to_have_text("9")  # interpolated frames between them

    # the player draws the frame's shapes over the video: the interpolated box dashed halfway, the keyframe solid
    player.locator(".vp-pos").hover()
    page.locator("body").evaluate("b => document.activeElement && document.activeElement.blur()")
    expect(player).to_have_attribute("data-overlay-frame", str(target + 10))
    for _ in range(5):
        page.keyboard.press(",")
    expect(player).to_have_attribute("data-overlay-frame", str(target + 5))
    (drawn,) = overlay_state(page)["overlay"]
    assert drawn.get("i") == 1 and drawn["k"] == "b1" and close(drawn["p"], [[150, 70], [350, 220]], tol=2.0)
    for _ in range(5):
        page.keyboard.press(".")
    expect(player).to_have_attribute("data-overlay-frame", str(target + 10))
    (drawn,) = overlay_state(page)["overlay"]
    assert "i" not in drawn and close(drawn["p"], BOX2, tol=2.0)
    # and while playing: frame after frame, then paused where it stopped
    before = overlay_state(page)["overlayDraws"]
    player.locator(".vp-play").click()
    page.wait_for_function("n => { const s = document.querySelector('#vid-player .vp-root').__videoPlayer.state();"
                           " return !s.paused && s.overlayDraws >= n + 5; }", arg=before, timeout=LONG)
    player.locator(".vp-play").click()
    page.wait_for_function("() => document.querySelector('#vid-player video').paused")
    page.wait_for_function("() => { const r = document.querySelector('#vid-player .vp-root');"
                           " return r.dataset.overlayFrame === r.dataset.frame; }", timeout=LONG)
    player.locator(".vp-seekbar").fill(str(target + 10))
    expect(player).to_have_attribute("data-frame", str(target + 10))

    # reload: the time point is in the Label List, jump-to opens the frame with its box
    reload_and_land(page)  # the link in the address bar may land on the labeling page already: open it again
    page.get_by_role("tab", name="My Creations", exact=True).click()
    expect(page.locator("#job-picker input")).to_have_value("clips  ·  Video labeling")
    page.locator("#job-label").click()
    expect(page.locator("#vid-tabs")).to_contain_text("Labeled (1)", timeout=LONG)
    table = page.locator("#vid-labels")
    expect(table).to_contain_text("bike")
    expect(table).to_contain_text("keyframe")
    expect(table.get_by_role("row").filter(has_text="keyframe").first).to_contain_text(str(target))
    page.locator("#vid-time-point input").click()
    page.get_by_role("option", name=re.compile(rf"^frame {target} ")).click()
    page.locator("#vid-jump").click()
    expect(page.locator("#vid-frame-info")).to_contain_text(f"frame {target}")
    expect(player).to_have_attribute("data-frame", str(target))
    open_frame(page, cv, target, 1)
    assert close(cv.shapes()[0]["points"], BOX, tol=2.0)
    expect(page.locator("#vid-tracks").get_by_role("row").filter(has_text="b1").get_by_role("gridcell").nth(5)).to_have_text("9")
    assert not page_errors, page_errors

    cli_server.stop()
    from store.jobs import list_jobs
    from store.samples import get_sample

    with cli_server.open_store() as store:
        job = list_jobs(store)[0]
        s = get_sample(store, job.id, sample_id)
        assert s.status == "labeled"
        frames = s.annotation["frames"]
        assert [f["frame"] for f in frames] == [target, target + 10]
        assert frames[0]["time"] == pytest.approx(target / 25, abs=1e-3)
        (shape,) = frames[0]["shapes"]
        assert shape["type"] == "rectangle" and shape["label"] == "bike" and shape["track"] == "b1"
        assert close(shape["points"], BOX, tol=2.0)
        assert frames[1]["shapes"][0]["track"] == "b1" and close(frames[1]["shapes"][0]["points"], BOX2, tol=2.0)
        from store.video import interpolate_tracks

        (mid,) = interpolate_tracks(s.annotation)[target + 5]
        assert close(mid["points"], [[150, 70], [350, 220]], tol=2.0)


FRAME_DIFF_JS = """async ([sid, frames]) => {
  const root = document.querySelector('#vid-player .vp-root'); const v = root.querySelector('video');
  const api = root.__videoPlayer; const out = [];
  const grab = (src) => new Promise((ok, ko) => { const im = new Image(); im.onload = () => ok(im); im.onerror = ko; im.src = src; });
  const px = (img, w, h) => { const c = document.createElement('canvas'); c.width = w; c.height = h;
    const x = c.getContext('2d'); x.drawImage(img, 0, 0, w, h); return x.getImageData(0, 0, w, h).data; };
  for (const f of frames) {
    api.goTo(f);
    await new Promise((r) => { if (!v.seeking) r(); else v.addEventListener('seeked', r, { once: true }); });
    await new Promise((r) => setTimeout(r, 100));
    const w = 160, h = Math.round(160 * v.videoHeight / v.videoWidth);
    const a = px(v, w, h); const diffs = [];
    for (const g of [f - 1, f, f + 1]) {
      const bb = px(await grab(`/media/${sid}/frame?index=${g}`), w, h);
      let s = 0; for (let i = 0; i < a.length; i += 4) s += Math.abs(a[i] - bb[i]) + Math.abs(a[i + 1] - bb[i + 1]) + Math.abs(a[i + 2] - bb[i + 2]);
      diffs.push(s / (a.length / 4 * 3));
    }
    out.push([f, root.getAttribute('data-frame'), diffs]);
  }
  return out; }"""


def test_player_shows_the_frame_the_server_extracts(cli_server, cli_page: Page, page_errors, tmp_path):
    """The <video> paused on frame N (a frame step or a jump) shows the image of
    /media/{id}/frame?index=N: closer to it than to frames N - 1 and N + 1."""
    page = cli_page
    clip_job(cli_server, tmp_path)
    cli_server.start()
    page.goto(cli_server.url)
    page.locator("#job-label").click()
    player = page.locator("#vid-player .vp-root")
    expect(player).to_have_attribute("data-sample", re.compile(r"^\d+$"), timeout=LONG)
    page.wait_for_function("() => document.querySelector('#vid-player video').readyState >= 2", timeout=LONG)
    sid = int(player.get_attribute("data-sample"))
    for frame, shown, (before, same, after) in page.evaluate(FRAME_DIFF_JS, [sid, [1, 10, 37, 100, 117]]):
        assert shown == str(frame)
        assert same < before and same < after, (frame, before, same, after)
    assert not page_errors, page_errors


def test_track_a_box_forward(cli_server, cli_page: Page, page_errors, tmp_path):
    """Tracks on the canvas and automatic tracking (issue 16): a box of track b1 on frame 10 and on
    frame 30 (imported): on frame 20 the canvas holds the interpolated box, dragged and saved it is
    a keyframe; then from frame 10, track the box 15 frames on: without a selection it is refused
    with a reason; selected, the status line follows the run and says what it added; keyframes
    appear between 10 and 20 only, the ones on 20 and 30 are as they were; marked outside on frame
    25, the track is not drawn from there to its keyframe on 30."""
    page = cli_page
    b = lambda pts: {"type": "rectangle", "label": "bike", "points": pts, "track": "b1"}  # noqa: E731
    _folder, sample_id, cv = tracked_clip(cli_server, page, tmp_path, [
        {"frame": 10, "shapes": [b(BOX)]}, {"frame": 30, "shapes": [b([[20, 20], [60, 60]])]}])
    player = page.locator("#vid-player .vp-root")

    # frame 20, between the keyframes: the canvas holds the track's interpolated box; moved and saved, a keyframe
    player.locator(".vp-seekbar").fill("20")
    open_frame(page, cv, 20, 1)
    (ghost,) = cv.shapes()
    cx, cy = (ghost["points"][0][0] + ghost["points"][1][0]) / 2, (ghost["points"][0][1] + ghost["points"][1][1]) / 2
    cv.show()
    cv.key("v")
    cv.click(cx, cy)
    cv.drag([cx, cy], [cx + 30, cy + 10])
    cv.key("Control+s")
    expect_toast(page, "Saved 1 shape on frame 20")
    cv.wait_clean(1)
    expect(page.locator("#vid-labels").get_by_role("row").filter(has_text="keyframe")).to_have_count(3)
    expect(player.locator(".vp-tl-row[data-track='b1'] .vp-tl-key[data-frame='20']")).to_have_count(1)  # on the timeline

    page.locator("#vid-time-point input").click()
    page.get_by_role("option", name=re.compile(r"^frame 10 ")).click()
    page.locator("#vid-jump").click()
    expect(player).to_have_attribute("data-frame", "10")
    open_frame(page, cv, 10, 1)
    cv.show()

    page.locator("#vid-track-forward").click()  # nothing selected yet
    expect(page.locator('[data-testid="toast-body"]').filter(has_text="select the box to track")).to_have_count(
        1, timeout=LONG)
    cv.key("v")
    cv.click(200, 130)  # inside the box
    assert cv.state()["selected"]
    page.locator("#vid-track-frames input").fill("15")
    page.locator("#vid-track-forward").click()
    expect(page.locator("#vid-track-status")).to_contain_text("tracked b1 over frames 10-", timeout=LONG)
    expect(page.locator("#vid-track-status")).to_contain_text("keyframes added")

    # frame 25: the object leaves the view (outside) until the keyframe on frame 30
    player.locator(".vp-seekbar").fill("25")
    open_frame(page, cv, 25)
    page.locator("#vid-tracks").get_by_role("gridcell").filter(has_text="b1").first.click()
    expect(page.locator("#vid-track-pick input")).to_have_value("b1")
    page.locator("#vid-outside").click()
    expect_toast(page, "Track b1 is outside from frame 25")
    track_row = page.locator("#vid-tracks").get_by_role("row").filter(has_text="b1")
    expect(track_row.get_by_role("gridcell").nth(7)).to_have_text("25")  # outside at
    expect(track_row.get_by_role("gridcell").nth(3)).to_contain_text("10–24, 30")  # visible frames
    player.locator(".vp-seekbar").fill("27")
    expect(player).to_have_attribute("data-overlay-frame", "27")
    assert overlay_state(page)["overlay"] == []  # nothing drawn while outside

    # the timeline: a row for b1 with its keyframes; a click picks the track and goes there; ] and [ step keyframes
    row = player.locator(".vp-tl-row[data-track='b1']")
    (b1,) = overlay_state(page)["tracks"]
    expect(row.locator(".vp-tl-key")).to_have_count(len(b1["keys"]))
    assert 20 in b1["keys"] and 30 in b1["keys"] and 25 not in b1["keys"]
    bar = row.locator(".vp-tl-bar").bounding_box()
    row.locator(".vp-tl-bar").click(position={"x": bar["width"] * 27.5 / 250, "y": bar["height"] / 2})
    expect(player).to_have_attribute("data-frame", "27")
    assert overlay_state(page)["pickedTrack"] == "b1"
    player.locator(".vp-pos").hover()
    page.locator("body").evaluate("b => document.activeElement && document.activeElement.blur()")
    page.keyboard.press("]")
    expect(player).to_have_attribute("data-frame", "30")
    page.keyboard.press("[")
    expect(player).to_have_attribute("data-frame", "20")
    assert not page_errors, page_errors

    cli_server.stop()
    from store.jobs import list_jobs
    from store.runs import list_runs
    from store.samples import get_sample

    with cli_server.open_store() as store:
        job = list_jobs(store)[0]
        frames = get_sample(store, job.id, sample_id).annotation["frames"]
        keys = {f["frame"]: f["shapes"][0]["points"] for f in frames}
        assert keys[10] == BOX and keys[30] == [[20, 20], [60, 60]]
        assert close(keys[20], [[ghost["points"][0][0] + 30, ghost["points"][0][1] + 10],
                                [ghost["points"][1][0] + 30, ghost["points"][1][1] + 10]], tol=1.0)
        assert all(f["shapes"][0]["track"] == "b1" for f in frames)
        assert all(10 < f < 20 for f in keys if f not in (10, 20, 25, 30)), sorted(keys)  # up to the next keyframe
        assert [x.get("outside") for f in frames if f["frame"] == 25 for x in f["shapes"]] == [True]
        (run,) = list_runs(store, job.id)
        assert run.kind == "tracking" and run.status == "done" and run.labeled == len(keys) - 4


def test_edit_on_the_player_timeline_keys_and_labels(cli_server, cli_page: Page, page_errors, tmp_path):
    """Issue 16's remaining pieces, as a person uses them: the canvas is the picture while paused
    (the video while playing); leaving a frame with unsaved shapes is refused and they stay; a
    keyframe dragged on the timeline moves, one right-clicked (confirmed) is deleted; o marks the
    picked track outside, n gives a new track id; a label renamed in the page's Label management
    is renamed on every keyframe."""
    page = cli_page
    b = lambda f, pts: {"frame": f, "shapes": [{"type": "rectangle", "label": "bike", "points": pts,  # noqa: E731
                                               "track": "7"}]}
    folder, sample_id, cv = tracked_clip(cli_server, page, tmp_path, [b(10, BOX), b(20, BOX2),
                                                                      b(30, [[20, 20], [60, 60]])])
    player = page.locator("#vid-player .vp-root")
    open_frame(page, cv, 10, 1)  # the first labeled time point opens

    # playing shows the video again; Enter with the pointer on it pauses there and opens that frame,
    # and the player stays on it (it jumped back once)
    player.locator(".vp-play").click()
    expect(page.locator("#vid-player video")).to_be_visible()
    expect(page.locator("#vid-canvas")).to_be_hidden()
    page.locator("#vid-player video").hover()
    page.locator("body").evaluate("b => document.activeElement && document.activeElement.blur()")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('#vid-player video').paused")
    paused_at = player_frame(page)
    expect(player).to_have_attribute("data-editing", "1", timeout=LONG)
    expect(page.locator("#vid-frame-info")).to_contain_text(f"frame {paused_at} ")
    assert player_frame(page) == paused_at
    player.locator(".vp-seekbar").fill("15")
    open_frame(page, cv, 15, 1)  # the interpolated box of track 7

    # unsaved shapes: the player does not leave the frame, and the shapes stay
    cv.show()
    cv.key("1")
    cv.drag([400, 100], [500, 200])
    assert cv.state()["dirty"] is True
    player.locator(".vp-pos").hover()
    page.keyboard.press(".")
    expect(player.locator(".vp-message")).to_contain_text("Frame 15 has unsaved shapes")
    assert player.get_attribute("data-frame") == "15" and cv.state()["dirty"] is True and len(cv.shapes()) == 2
    player.locator(".vp-seekbar").fill("40")
    expect(player).to_have_attribute("data-frame", "15")
    page.locator("#vid-discard").click()
    cv.wait_clean(1)

    # the timeline: drag the keyframe of frame 30 to frame 40
    row = player.locator(".vp-tl-row[data-track='7']")
    expect(row.locator(".vp-tl-key")).to_have_count(3)
    bar = row.locator(".vp-tl-bar").bounding_box()
    x_of = lambda f: bar["x"] + bar["width"] * (f + 0.5) / 250  # noqa: E731
    y = bar["y"] + bar["height"] / 2
    page.mouse.move(x_of(30), y)
    page.mouse.down()
    for f in (33, 36, 40):
        page.mouse.move(x_of(f), y)
    page.mouse.up()
    expect_toast(page, "Moved the keyframe of track 7 from frame 30 to frame 40")
    expect(row.locator(".vp-tl-key[data-frame='40']")).to_have_count(1, timeout=LONG)
    expect(row.locator(".vp-tl-key[data-frame='30']")).to_have_count(0)
    open_frame(page, cv, 40, 1)
    assert overlay_state(page)["pickedTrack"] == "7"
    expect(page.locator("#vid-track-pick input")).to_have_value("7")

    # right-click the keyframe of frame 20, confirm: it is gone, 10 to 40 interpolate again
    page.once("dialog", lambda d: d.accept())
    row.locator(".vp-tl-key[data-frame='20']").click(button="right")
    expect_toast(page, "Deleted the keyframe of track 7 on frame 20 (2 keyframes left)")
    expect(row.locator(".vp-tl-key")).to_have_count(2, timeout=LONG)

    # o on frame 25: track 7 is outside from there (until its keyframe on 40)
    player.locator(".vp-seekbar").fill("25")
    open_frame(page, cv, 25, 1)
    player.locator(".vp-pos").hover()
    page.locator("body").evaluate("b => document.activeElement && document.activeElement.blur()")
    page.keyboard.press("o")
    expect_toast(page, "Track 7 is outside from frame 25")
    expect(page.locator("#vid-tracks").get_by_role("row").filter(has_text="bike").get_by_role("gridcell").nth(7)
           ).to_have_text("25")
    # n: a new track id in the track box, for the next shape drawn
    page.keyboard.press("n")
    expect(page.locator("#vid-track input, #vid-track textarea").first).to_have_value("8")

    # Label management on the video page: rename bike -> cycle, on every keyframe
    page.locator("#vid-label-management").click()
    page.locator("#vid-lm-label input").click()
    page.get_by_test_id("dropdown-option").filter(has_text="bike").click()
    page.locator("#vid-lm-new-name textarea, #vid-lm-new-name input").first.fill("cycle")
    page.locator("#vid-lm-rename").click()
    expect_toast(page, "Renamed on 1 videos")
    expect(page.locator("#vid-tracks")).to_contain_text("cycle", timeout=LONG)

    # export CVAT for video from the page; imported into a new job, the same tracks
    content = export_download(page, cli_server.url, "CVAT 1.1 XML")
    cvat = tmp_path / "cvat"
    cvat.mkdir()
    if content[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            zf.extractall(cvat)
    else:
        (cvat / "bikes.xml").write_bytes(content)
    assert sorted(p.name for p in cvat.rglob("*.xml")) == ["bikes.xml"]
    assert not page_errors, page_errors

    cli_server.stop()
    cli_server.cli("create-job", "--name", "clips-again", "--type", "video_labeling", "--dataset", str(folder),
                   "--labels", "cycle")
    cli_server.cli("import", "--job", "clips-again", "--format", "cvat", str(cvat))
    from store.jobs import list_jobs
    from store.samples import SampleQuery, get_sample, query_samples

    with cli_server.open_store() as store:
        job = next(j for j in list_jobs(store) if j.name == "clips")
        again = next(j for j in list_jobs(store) if j.name == "clips-again")
        (copy,) = query_samples(store, again.id, SampleQuery(status="labeled")).items
        assert copy.annotation == get_sample(store, job.id, sample_id).annotation
        frames = get_sample(store, job.id, sample_id).annotation["frames"]
        assert [(f["frame"], [(x["label"], bool(x.get("outside"))) for x in f["shapes"]]) for f in frames] == [
            (10, [("cycle", False)]), (25, [("cycle", True)]), (40, [("cycle", False)])]
        assert frames[2]["shapes"][0]["points"] == [[20, 20], [60, 60]]
        assert frames[2]["time"] == pytest.approx(40 / 25, abs=1e-3)
