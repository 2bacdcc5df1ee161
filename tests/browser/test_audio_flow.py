"""A person labels audio in the running app (Chromium, Playwright sync API): sound classification
(play a file, check it, press its label's shortcut key, confirm in the page), speech labeling (type
a transcript, Ctrl+Enter labels and opens the next file) and speech paragraphs (the waveform draws,
drag a segment, label it, type its content, a segment past the end refused with a visible message,
Ctrl+S saves; multi-label classes labeled with their keys and selects); reloads and finds it all;
then the store is checked with the server stopped.

Jobs are created with the CLI before the server starts (DuckDB allows one writer process).
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
from playwright.sync_api import Page, expect  # noqa: E402

from tests.app_server import AppServer  # noqa: E402
from tests.browser.landing import open_job, reload_and_land  # noqa: E402

LONG = 60_000  # ms: a handler that touches the store and re-renders (a loaded 2-core machine: waits end when the page is there)
ROOT = Path(__file__).resolve().parents[2]
DATA = next((d for d in (ROOT / "shared" / "data", ROOT.parent / "shared" / "data") if d.is_dir()),
            ROOT.parent / "shared" / "data")
FSDD = DATA / "fsdd" / "recordings"
SEQS = DATA / "digit_sequences" / "wavs"
FSDD_FILES = ["0_george_0.wav", "1_george_0.wav", "2_george_0.wav"]
SC_LABELS = {"labels": [{"name": "zero", "shortcut": "z", "color": "#ff8800"}, {"name": "one", "shortcut": "o"},
                        {"name": "two", "shortcut": "t"}]}
SP_LABELS = {"labels": [{"name": "digit", "color": "#3366ff"}, {"name": "noise"}], "speech_content": True}
MULTI_LABELS = {"classes": [{"name": "speaker", "labels": ["george", "other"]}, {"name": "lang", "labels": ["en"]}]}


@pytest.fixture
def server(tmp_path):
    s = AppServer(tmp_path / "data", tmp_path / "server")
    yield s
    s.stop()


@pytest.fixture
def apage(browser, server, page_errors, request, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    context.set_default_timeout(45_000)  # a busy 2-core machine: opening a labeling page takes ~10 s idle
    pg = context.new_page()
    pg.on("pageerror", lambda e: page_errors.append(str(e)))
    closed = []

    def close():
        if closed:
            return
        closed.append(True)
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            try:
                shot = tmp_path / f"{request.node.name}.png"
                pg.screenshot(path=str(shot), full_page=True)
                print(f"screenshot of the failure: {shot}\nserver log:\n{server.log()}")
            except Exception:  # the page may be gone
                pass
        context.close()

    server.before_stop.append(close)
    yield pg
    close()


def row(page: Page, list_id: str, name: str):
    return page.locator(f"#{list_id} .al-row").filter(has=page.locator(".al-name", has_text=name))


def wf_state(page: Page) -> dict:
    return page.evaluate("""() => { const s = document.querySelector('#spg-waveform .wf-root').__waveform.state();
      delete s.audio; return s; }""")


def duration_of(page: Page) -> float:
    return wf_state(page)["duration"]


def test_label_sounds_transcripts_and_segments_then_reload(server, apage: Page, page_errors, tmp_path):
    if not all((FSDD / f).exists() for f in FSDD_FILES) or not SEQS.is_dir():
        pytest.skip(f"the audio data sets are absent ({FSDD}, {SEQS})")
    page = apage
    sc, sp = tmp_path / "sc", tmp_path / "sp"
    sc.mkdir()
    sp.mkdir()
    for f in FSDD_FILES:
        shutil.copy(FSDD / f, sc / f)
    seq = sorted(SEQS.glob("*.wav"))[:2]
    for f in seq:
        shutil.copy(f, sp / f.name)
    (tmp_path / "sc.json").write_text(json.dumps(SC_LABELS), encoding="utf-8")
    (tmp_path / "sp.json").write_text(json.dumps(SP_LABELS), encoding="utf-8")
    (tmp_path / "multi.json").write_text(json.dumps(MULTI_LABELS), encoding="utf-8")
    server.cli("create-job", "--name", "digits", "--type", "sound_classification", "--dataset", str(sc),
               "--labels", str(tmp_path / "sc.json"), "--instructions", "Which **digit** is spoken?")
    server.cli("create-job", "--name", "transcripts", "--type", "speech_labeling", "--dataset", str(sc))
    server.cli("create-job", "--name", "paragraphs", "--type", "speech_paragraph", "--dataset", str(sp),
               "--labels", str(tmp_path / "sp.json"))
    server.cli("create-job", "--name", "speakers", "--type", "speech_paragraph", "--dataset", str(sp),
               "--labels", str(tmp_path / "multi.json"))
    server.start()
    page.goto(server.url)
    page.locator("#job-picker").wait_for()

    # -- sound classification: play, check, shortcut key, confirm in the page ------------------
    open_job(page, "digits  ·  Sound classification")
    expect(page.locator("#checklist-list .al-row")).to_have_count(3, timeout=LONG)
    expect(page.locator("#checklist-list .al-label-btn kbd")).to_have_text(["z", "o", "t"])
    expect(page.locator("#checklist-labels-table")).to_contain_text("zero")
    page.locator("#checklist-describe").click()
    expect(page.locator("#checklist-description")).to_contain_text("Which digit is spoken?")
    page.evaluate("() => { document.querySelectorAll('audio').forEach(a => { a.muted = true; }); }")
    row(page, "checklist-list", "1_george_0").locator(".al-play").click()
    page.wait_for_function("""() => { const a = document.querySelector('#checklist-list .al-audio');
      return a && a.src.includes('/media/') && (!a.paused || a.currentTime > 0 || a.ended); }""", timeout=LONG)
    row(page, "checklist-list", "0_george_0").locator(".al-name").click()
    expect(page.locator("#checklist-list .al-row.lp-selected")).to_have_count(1)
    page.keyboard.press("z")
    expect(page.locator("#checklist-list [data-testid=al-confirm]")).to_contain_text('Label 1 checked file "zero"?')
    page.keyboard.press("Enter")
    expect(page.locator("#checklist-tabs")).to_contain_text("Labeled (1)", timeout=LONG)
    expect(row(page, "checklist-list", "0_george_0").locator(".al-chip")).to_have_text(["zero×"], timeout=LONG)
    # a shortcut with nothing checked asks to check files; Esc cancels a confirmation
    page.keyboard.press("o")
    expect(page.locator("#checklist-list [data-testid=al-message]")).to_contain_text("Check files first")
    row(page, "checklist-list", "1_george_0").locator(".al-name").click()
    page.keyboard.press("o")
    expect(page.locator("#checklist-list [data-testid=al-confirm]")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#checklist-list [data-testid=al-confirm]")).to_be_hidden()
    page.locator("#checklist-list .al-label-btn[data-label='one']").click()
    expect(page.locator("#checklist-tabs")).to_contain_text("Labeled (2)", timeout=LONG)

    # -- speech labeling: type the transcript, Ctrl+Enter labels and opens the next -------------
    open_job(page, "transcripts  ·  Speech labeling")
    expect(page.locator("#sl-player audio")).to_have_attribute("src", re.compile(r"/media/\d+/file"), timeout=LONG)
    expect(page.locator("#sl-sample-info")).to_contain_text("0_george_0")
    page.locator("#sl-content textarea").fill("zero <b>")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#sl-tabs")).to_contain_text("Labeled (1)", timeout=LONG)
    expect(page.locator("#sl-sample-info")).to_contain_text("1_george_0", timeout=LONG)
    expect(row(page, "sl-list", "0_george_0").locator(".al-content")).to_have_text("zero <b>")
    # edit later: open the labeled file again, change its transcript, Label
    row(page, "sl-list", "0_george_0").click()
    expect(page.locator("#sl-content textarea")).to_have_value("zero <b>", timeout=LONG)
    page.locator("#sl-content textarea").fill("zero")
    page.locator("#sl-label").click()
    expect(row(page, "sl-list", "0_george_0").locator(".al-content")).to_have_text("zero", timeout=LONG)

    # -- speech paragraphs: waveform, drag a segment, label, content, save ----------------------
    open_job(page, "paragraphs  ·  Speech paragraph labeling")
    canvas = page.locator("#spg-waveform canvas.wf-canvas")
    expect(canvas).to_be_visible(timeout=LONG)
    page.wait_for_function("""() => { const r = document.querySelector('#spg-waveform .wf-root');
      return r && r.__waveform && r.__waveform.state().peaks > 0; }""", timeout=LONG)
    st = wf_state(page)
    duration = st["duration"]
    assert duration > 1 and st["segments"] == []
    box = canvas.bounding_box()
    x_of = lambda t: box["x"] + (t - st["view"][0]) / (st["view"][1] - st["view"][0]) * box["width"]  # noqa: E731
    y = box["y"] + box["height"] / 2
    page.mouse.move(x_of(0.5), y)
    page.mouse.down()
    page.mouse.move(x_of(1.5), y, steps=8)
    page.mouse.up()
    expect(page.locator("#spg-waveform [data-testid=wf-segments] tbody tr")).to_have_count(1)
    page.keyboard.press("1")  # digit
    expect(page.locator("#spg-waveform .wf-labels-cell")).to_have_text(["digit"])
    page.locator("#spg-waveform [data-testid=wf-content]").fill("oh <i>one</i>")
    # an end past the audio is refused with a visible message
    end_box = page.locator("#spg-waveform [data-testid=wf-segments] tbody tr input.wf-num").nth(1)
    end_box.fill(str(round(duration + 5, 2)))
    end_box.press("Tab")
    expect(page.locator("#spg-waveform [data-testid=wf-message]")).to_contain_text("within the audio")
    seg = wf_state(page)["segments"][0]
    assert 0.4 < seg["start"] < 0.6 and 1.4 < seg["end"] < 1.6, seg
    # a second, overlapping segment is allowed; then deleted with its ×
    page.mouse.move(x_of(1.0), y)
    page.mouse.down()
    page.mouse.move(x_of(2.0), y, steps=8)
    page.mouse.up()
    expect(page.locator("#spg-waveform [data-testid=wf-segments] tbody tr")).to_have_count(2)
    page.locator("#spg-waveform .wf-del").nth(1).click()
    expect(page.locator("#spg-waveform [data-testid=wf-segments] tbody tr")).to_have_count(1)
    page.locator("#spg-waveform canvas").click(position={"x": 3, "y": 3})  # focus out of the text box
    page.keyboard.press("Control+s")
    expect(page.locator("#spg-tabs")).to_contain_text("Labeled (1)", timeout=LONG)
    assert page.locator("#spg-waveform i").count() == 0  # the content is text
    # play just the segment: the player starts at its start and stops at its end
    page.locator("#spg-waveform .wf-row").first.click()
    page.evaluate("() => { document.querySelector('#spg-waveform .wf-audio').muted = true; }")
    page.locator("#spg-waveform [data-testid=wf-play-segment]").click()
    page.wait_for_function("""([a, b]) => { const el = document.querySelector('#spg-waveform .wf-audio');
      return el.paused && el.currentTime >= b - 0.15 && el.currentTime < b + 0.3 && el.played.length
        && el.played.start(0) >= a - 0.05; }""", arg=[seg["start"], seg["end"]], timeout=LONG)
    # Alt+Right opens the next file; "Detect speech" fills segments (unsaved); Discard drops them
    page.keyboard.press("Alt+ArrowRight")
    expect(page.locator("#spg-sample-info")).to_contain_text(seq[1].name, timeout=LONG)
    page.locator("#spg-detect").click()
    expect(page.locator("#spg-waveform [data-testid=wf-segments] tbody tr.wf-row").first).to_be_visible(
        timeout=60_000)
    assert wf_state(page)["segments"] and all(0 <= s["start"] < s["end"] <= duration_of(page)
                                               for s in wf_state(page)["segments"])
    page.locator("#spg-discard").click()
    expect(page.locator("#spg-waveform [data-testid=wf-segments] tbody tr.wf-row")).to_have_count(0, timeout=LONG)

    # -- multi-label mode: one select per class ----------------------------------------------------
    open_job(page, "speakers  ·  Speech paragraph labeling")
    expect(page.locator("#spg-header")).to_contain_text("multi-label mode", timeout=LONG)
    page.wait_for_function("""() => { const r = document.querySelector('#spg-waveform .wf-root');
      return r && r.__waveform && r.__waveform.state().peaks > 0 && r.__waveform.state().segments.length === 0; }""",
                           timeout=LONG)
    st = wf_state(page)
    box = canvas.bounding_box()
    page.mouse.move(x_of(2.0), y)
    page.mouse.down()
    page.mouse.move(x_of(3.0), y, steps=8)
    page.mouse.up()
    # keys 1-9 number the labels of every class, class after class: george 1, other 2, en 3
    expect(page.locator("#spg-waveform select[data-class='lang'] option")).to_have_text(["(none)", "en (3)"])
    page.keyboard.press("2")
    page.keyboard.press("3")
    expect(page.locator("#spg-waveform .wf-labels-cell")).to_have_text(["other, en"])
    page.keyboard.press("1")  # a class's key replaces that class's label
    expect(page.locator("#spg-waveform .wf-labels-cell")).to_have_text(["george, en"])
    expect(page.locator("#spg-waveform select[data-class='lang']")).to_have_value("en")
    page.locator("#spg-waveform select[data-class='speaker']").select_option("other")
    page.locator("#spg-waveform select[data-class='speaker']").select_option("george")
    expect(page.locator("#spg-waveform .wf-labels-cell")).to_have_text(["george, en"])
    page.locator("#spg-save").click()
    expect(page.locator("#spg-tabs")).to_contain_text("Labeled (1)", timeout=LONG)

    # -- reload: everything is still there --------------------------------------------------------
    reload_and_land(page)
    open_job(page, "digits  ·  Sound classification")
    expect(row(page, "checklist-list", "0_george_0").locator(".al-chip")).to_have_text(["zero×"], timeout=LONG)
    expect(row(page, "checklist-list", "1_george_0").locator(".al-chip")).to_have_text(["one×"])
    open_job(page, "transcripts  ·  Speech labeling")
    expect(row(page, "sl-list", "0_george_0").locator(".al-content")).to_have_text("zero", timeout=LONG)
    open_job(page, "paragraphs  ·  Speech paragraph labeling")
    expect(page.locator("#spg-waveform .wf-labels-cell")).to_have_text(["digit"], timeout=LONG)
    expect(page.locator("#spg-waveform [data-testid=wf-content]")).to_have_count(0)  # nothing selected
    expect(page.locator("#spg-waveform .wf-content-cell")).to_have_text(["oh <i>one</i>"])
    assert not page_errors, page_errors

    # -- the store, with the server stopped -------------------------------------------------------
    server.stop()
    from store.jobs import list_jobs
    from store.samples import SampleQuery, query_samples

    with server.open_store() as store:
        jobs = {j.name: j for j in list_jobs(store)}

        def samples(name):
            return {s.name: s for s in query_samples(store, jobs[name].id, SampleQuery(page_size=100)).items}

        snd = samples("digits")
        assert snd["0_george_0.wav"].annotation == {"labels": ["zero"]}
        assert snd["1_george_0.wav"].annotation == {"labels": ["one"]}
        assert snd["2_george_0.wav"].status == "unlabeled"
        tr = samples("transcripts")
        assert tr["0_george_0.wav"].annotation["content"] == "zero"
        assert tr["0_george_0.wav"].status == "labeled" and tr["0_george_0.wav"].labeled_by
        para = samples("paragraphs")
        segs = para[seq[0].name].annotation["segments"]
        assert len(segs) == 1 and segs[0]["label"] == "digit" and segs[0]["content"] == "oh <i>one</i>"
        assert 0.4 < segs[0]["start"] < 0.6 and 1.4 < segs[0]["end"] < 1.6
        assert para[seq[1].name].status == "unlabeled"  # detected segments were discarded, never saved
        multi = samples("speakers")[seq[0].name].annotation["segments"]
        assert len(multi) == 1 and multi[0]["labels"] == {"speaker": "george", "lang": "en"}
        assert 1.9 < multi[0]["start"] < 2.1 and 2.9 < multi[0]["end"] < 3.1
