"""A person labels texts in the running app (Chromium, Playwright sync API): text classification,
named entities (offsets checked on a text with an emoji and CJK characters) and triplets (a
relation between two entities; an invalid pair refused with a visible reason), saves, reloads and
finds it all; then the store is checked with the server stopped.

Jobs are created with the CLI before the server starts (DuckDB allows one writer process).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
from playwright.sync_api import Locator, Page, expect  # noqa: E402

from tests.app_server import AppServer  # noqa: E402
from tests.browser.landing import open_job, reload_and_land  # noqa: E402

LONG = 60_000  # ms: a handler that touches the store and re-renders (a loaded 2-core machine: waits end when the page is there)
TC_LINES = ["I love this movie", "Terrible service <b>never</b> again", "It was fine"]
NER_LINES = ["Hi 😀 東京 is in Japan", "Barack Obama visited Paris"]
TT_LINES = ["Aspirin causes nausea in some patients", "Ibuprofen relieves pain"]
TRIPLET_LABELS = {"entities": [{"name": "drug", "color": "#3366ff"}, {"name": "effect"}],
                  "relations": [{"name": "causes", "source": "drug", "target": "effect"}]}


# -- a server prepared with the CLI before it starts ---------------------------------------------

@pytest.fixture
def server(tmp_path):
    s = AppServer(tmp_path / "data", tmp_path / "server")
    yield s
    s.stop()


@pytest.fixture
def tpage(browser, server, page_errors, request, tmp_path):
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


def write_lines(folder: Path, name: str, lines: list[str]) -> Path:
    folder.mkdir(parents=True)
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


# -- helpers a person's actions map to -----------------------------------------------------------

def open_accordion(page: Page, elem_id: str) -> Locator:
    acc = page.locator(f"#{elem_id}")
    head = acc.locator("button.label-wrap").first
    if "open" not in (head.get_attribute("class") or "").split():
        head.click()
    expect(head).to_have_class(re.compile(r"\bopen\b"))
    return acc


def row(page: Page, list_id: str, text: str) -> Locator:
    """A record of a list by its text: the check list (components/record_list.py) or the span
    page's list (components/text_list.py)."""
    return page.locator(f"#{list_id} :is(.al-row, .tl-row)").filter(
        has=page.locator(":is(.al-text, .tl-text)", has_text=text))


def select_text(page: Page, picker: str, needle: str) -> None:
    """Select `needle` with the DOM selection API (UTF-16 offsets, as a mouse selection gives
    them) in the picker's text, then release the mouse as a person would."""
    page.evaluate("""([picker, needle]) => {
      for (const seg of document.querySelectorAll(`#${picker} .sp-seg`)) {
        const t = seg.firstChild; const i = t ? t.data.indexOf(needle) : -1;
        if (i < 0) continue;
        const r = document.createRange(); r.setStart(t, i); r.setEnd(t, i + needle.length);
        const s = document.getSelection(); s.removeAllRanges(); s.addRange(r);
        seg.dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));
        return;
      }
      throw new Error('text not found: ' + needle);
    }""", [picker, needle])
    expect(page.locator(f"#{picker} .sp-pending")).to_have_text(needle)


def span(page: Page, picker: str, text: str) -> Locator:
    return page.locator(f"#{picker} mark.sp-span").filter(
        has=page.locator(".sp-seg", has_text=re.compile("^" + re.escape(text) + "$")))


def picker_state(page: Page, picker: str) -> dict:
    return page.evaluate(f"() => document.querySelector('#{picker} .sp-root').__spanPicker.state()")


def pick(page: Page, label: str) -> None:
    """Tick or untick a label in the text classification label set."""
    page.locator("#checklist-label-pick").get_by_text(label, exact=True).click()


def error_toast(page: Page) -> Locator:
    return page.locator('[data-testid="toast-body"]:is(.error, .warning)')


# -- the test ------------------------------------------------------------------------------------

def test_label_texts_entities_and_relations_then_reload(server, tpage: Page, page_errors, tmp_path):
    page = tpage
    tc = write_lines(tmp_path / "tc", "reviews.txt", TC_LINES)
    ner = write_lines(tmp_path / "ner", "ner.txt", NER_LINES)
    tt = write_lines(tmp_path / "tt", "tt.txt", TT_LINES)
    label_file = tmp_path / "triplet-labels.json"
    label_file.write_text(json.dumps(TRIPLET_LABELS), encoding="utf-8")
    server.cli("create-job", "--name", "reviews", "--type", "text_classification", "--dataset", str(tc),
               "--labels", "a,b", "--instructions", "Label the **sentiment**")
    server.cli("create-job", "--name", "places", "--type", "named_entity_recognition", "--dataset", str(ner),
               "--labels", "PER,LOC")
    server.cli("create-job", "--name", "drugs", "--type", "text_triplet", "--dataset", str(tt),
               "--labels", str(label_file))
    server.start()
    page.goto(server.url)
    page.locator("#job-picker").wait_for()

    # -- text classification: label two texts, a second label on one, remove one label --------
    open_job(page, "reviews  ·  Text classification")
    rows = page.locator("#checklist-list .al-row")
    expect(rows).to_have_count(3, timeout=LONG)
    expect(page.locator("#checklist-list .al-chip-del")).to_have_count(0)
    expect(page.locator("#checklist-tabs")).to_contain_text("Unlabeled (3)")
    assert page.locator("#checklist-list b").count() == 0  # the record's HTML is text
    expect(row(page, "checklist-list", "Terrible service")).to_contain_text("<b>never</b>")
    page.locator("#checklist-describe").click()
    expect(page.locator("#checklist-description")).to_contain_text("Label the sentiment")
    row(page, "checklist-list", "I love").click()
    row(page, "checklist-list", "Terrible").click()
    expect(page.locator("#checklist-list .al-row.lp-selected")).to_have_count(2)
    # a checked record shows a ticked box (Gradio's white tick needs the accent behind it)
    assert page.locator("#checklist-list .al-row.lp-selected .al-check").evaluate_all(
        "cs => cs.map(c => c.checked && getComputedStyle(c).backgroundColor !== 'rgba(0, 0, 0, 0)')") == [True, True]
    pick(page, "a")
    page.locator("#checklist-apply").click()
    expect(page.locator("#checklist-tabs")).to_contain_text("Labeled (2)", timeout=LONG)
    # after Apply the picker is empty: the next texts do not silently get "a" too (issue 15)
    expect(page.locator("#checklist-label-pick input:checked")).to_have_count(0)
    # picking another job in My Creations (without opening it) leaves the open page's job as it
    # is: a label applied back on the Labeling tab goes to the texts shown, not the picked job
    page.get_by_role("tab", name="My Creations", exact=True).click()
    page.locator("#job-picker input").click()
    page.get_by_role("option", name="places  ·  Named entity recognition", exact=True).click()
    expect(page.locator("#job-picker input")).to_have_value("places  ·  Named entity recognition")
    page.get_by_role("tab", name="Labeling", exact=True).click()
    row(page, "checklist-list", "It was fine").click()
    pick(page, "b")
    page.locator("#checklist-apply").click()
    expect(page.locator("#checklist-tabs")).to_contain_text("Labeled (3)", timeout=LONG)
    expect(row(page, "checklist-list", "It was fine").locator(".al-chip-name")).to_have_text(["b"])
    # add a label with its color from the page, apply it to one text
    page.locator("#checklist-add-name textarea").fill("urgent")
    page.locator("#checklist-add").click()
    expect(page.locator("#checklist-label-pick")).to_contain_text("urgent", timeout=LONG)
    row(page, "checklist-list", "Terrible").click()
    pick(page, "urgent")
    page.locator("#checklist-apply").click()
    expect(row(page, "checklist-list", "Terrible").locator(".al-chip-name")).to_have_text(["a", "urgent"], timeout=LONG)
    # remove one label from one text with its chip's ×
    row(page, "checklist-list", "Terrible").locator(".al-chip[data-label='a'] .al-chip-del").click()
    expect(row(page, "checklist-list", "Terrible").locator(".al-chip-name")).to_have_text(["urgent"], timeout=LONG)
    expect(row(page, "checklist-list", "I love").locator(".al-chip-name")).to_have_text(["a"])
    # every change saves at once: no "Save Current Page" next to Apply (issue 15)
    expect(page.locator("#checklist-save-page")).to_have_count(0)
    expect(page.locator("#checklist-labels-table tr").filter(has_text="urgent")).to_contain_text("1", timeout=LONG)

    # -- NER: 東京 after an emoji, and Japan; keys 1-9 pick the label, Ctrl+S saves -------------
    open_job(page, "places  ·  Named entity recognition")
    expect(page.locator("#spans-picker .sp-text")).to_contain_text("東京", timeout=LONG)
    select_text(page, "spans-picker", "東京")
    page.keyboard.press("2")  # LOC
    expect(span(page, "spans-picker", "東京")).to_have_attribute("data-label", "LOC")
    select_text(page, "spans-picker", "Japan")
    page.locator("#spans-picker .sp-label-btn[data-label='LOC']").click()
    select_text(page, "spans-picker", "Hi")
    page.keyboard.press("1")  # PER, then removed with its ×
    span(page, "spans-picker", "Hi").locator(".sp-del").click()
    expect(span(page, "spans-picker", "Hi")).to_have_count(0)
    # a selection overlapping a span is refused
    page.evaluate("""() => {
      const segs = [...document.querySelectorAll('#spans-picker .sp-seg')];
      const a = segs.find(s => s.textContent.includes(' in ')), b = segs.find(s => s.textContent === 'Japan');
      const r = document.createRange(); r.setStart(a.firstChild, a.textContent.indexOf('in')); r.setEnd(b.firstChild, 3);
      const sel = document.getSelection(); sel.removeAllRanges(); sel.addRange(r);
      a.dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));
    }""")
    expect(page.locator("#spans-picker .sp-message")).to_contain_text("cannot overlap")
    page.keyboard.press("Escape")
    st = picker_state(page, "spans-picker")
    text = NER_LINES[0]
    assert sorted((s["start"], s["end"], s["label"]) for s in st["spans"]) == [
        (text.index("東京"), text.index("東京") + 2, "LOC"), (text.index("Japan"), len(text), "LOC")]
    page.locator("#spans-picker .sp-text").click(position={"x": 2, "y": 2})
    page.keyboard.press("Control+s")
    expect(page.locator("#spans-tabs")).to_contain_text("Labeled (1)", timeout=LONG)
    assert page.locator("#spans-list .tl-chip-del").count() == 0  # chips of the opening list are not buttons
    # the next record: select "Barack Obama" with the mouse, label it, save; then delete its labels
    page.locator("#spans-next").click()
    expect(page.locator("#spans-picker .sp-text")).to_contain_text("Barack Obama", timeout=LONG)
    box = page.evaluate("""() => {
      const t = [...document.querySelectorAll('#spans-picker .sp-seg')].find(s => s.textContent.includes('Barack')).firstChild;
      const r = document.createRange(); r.setStart(t, 0); r.setEnd(t, 1); const a = r.getBoundingClientRect();
      r.setStart(t, 11); r.setEnd(t, 12); const b = r.getBoundingClientRect();
      return {x0: a.left + 1, y0: a.top + a.height / 2, x1: b.right - 1, y1: b.top + b.height / 2};
    }""")
    page.mouse.move(box["x0"], box["y0"])
    page.mouse.down()
    page.mouse.move(box["x1"], box["y1"], steps=8)
    page.mouse.up()
    expect(page.locator("#spans-picker .sp-pending")).to_have_text("Barack Obama")
    page.keyboard.press("1")  # PER
    expect(span(page, "spans-picker", "Barack Obama")).to_have_attribute("data-label", "PER")
    page.locator("#spans-save").click()
    expect(page.locator("#spans-tabs")).to_contain_text("Labeled (2)", timeout=LONG)
    page.locator("#spans-clear").click()
    expect(page.locator("#spans-tabs")).to_contain_text("Labeled (1)", timeout=LONG)
    expect(span(page, "spans-picker", "Barack Obama")).to_have_count(0)

    # -- triplet: two entities, an invalid pair refused, then a relation ----------------------
    open_job(page, "drugs  ·  Text triplet")
    expect(page.locator("#spans-picker .sp-text")).to_contain_text("Aspirin", timeout=LONG)
    select_text(page, "spans-picker", "Aspirin")
    page.keyboard.press("1")  # drug
    select_text(page, "spans-picker", "nausea")
    page.keyboard.press("2")  # effect
    span(page, "spans-picker", "nausea").locator(".sp-seg").click()  # source: effect
    span(page, "spans-picker", "Aspirin").locator(".sp-seg").click()  # target: drug
    expect(page.locator("#spans-picker .sp-message")).to_contain_text(
        "No relationship goes from an effect entity to a drug entity")
    expect(page.locator("#spans-picker .sp-message")).to_have_class(re.compile(r"\bsp-error\b"))
    expect(page.locator("#spans-picker .sp-rel-option")).to_have_count(0)
    span(page, "spans-picker", "Aspirin").locator(".sp-seg").click()  # source: drug
    span(page, "spans-picker", "nausea").locator(".sp-seg").click()  # target: effect
    expect(page.locator("#spans-picker .sp-rel-option")).to_have_text(["causes"])
    page.locator("#spans-picker .sp-rel-option").click()
    expect(page.locator("#spans-picker .sp-relation")).to_have_count(1)
    expect(page.locator("#spans-picker .sp-relation")).to_contain_text("Aspirin [drug] —causes→ nausea [effect]")
    page.locator("#spans-save").click()
    expect(page.locator("#spans-tabs")).to_contain_text("Labeled (1)", timeout=LONG)
    # entity labels defined at creation cannot be deleted
    open_accordion(page, "spans-label-management")
    page.locator("#spans-lm-label input").click()
    # the dropdown's option (the label editor's relation pickers have "drug" options too)
    page.get_by_role("listbox").get_by_role("option", name="drug", exact=True).click()
    page.locator("#spans-lm-delete").click()
    expect(error_toast(page)).to_contain_text("cannot be deleted", timeout=LONG)

    # -- reload: everything is still there --------------------------------------------------
    reload_and_land(page)
    open_job(page, "reviews  ·  Text classification")
    expect(row(page, "checklist-list", "I love").locator(".al-chip-name")).to_have_text(["a"], timeout=LONG)
    expect(row(page, "checklist-list", "Terrible").locator(".al-chip-name")).to_have_text(["urgent"])
    open_job(page, "places  ·  Named entity recognition")
    expect(span(page, "spans-picker", "東京")).to_have_attribute("data-label", "LOC", timeout=LONG)
    expect(span(page, "spans-picker", "Japan")).to_have_attribute("data-label", "LOC")
    open_job(page, "drugs  ·  Text triplet")
    expect(page.locator("#spans-picker .sp-relation")).to_contain_text("Aspirin [drug] —causes→ nausea [effect]",
                                                                     timeout=LONG)
    assert not page_errors, page_errors

    # -- the store -------------------------------------------------------------------------
    server.stop()
    from store.jobs import find_job
    from store.samples import SampleQuery, query_samples

    with server.open_store() as store:
        def by_text(name):
            job = find_job(store, name)
            return job, {s.text: s for s in query_samples(store, job.id, SampleQuery(page_size=100)).items}

        job, items = by_text("reviews")
        assert "urgent" in job.label_set.names()
        assert items[TC_LINES[0]].labels == ["a"] and items[TC_LINES[0]].status == "labeled"
        assert items[TC_LINES[1]].annotation == {"labels": ["urgent"]}
        assert items[TC_LINES[2]].labels == ["b"]  # applied while another job was picked: to this one
        _, items = by_text("places")
        spans = items[NER_LINES[0]].annotation["spans"]
        got = [(s["start"], s["end"], s["label"]) for s in spans]
        assert got == [(5, 7, "LOC"), (14, 19, "LOC")], got  # code points: 😀 counts one
        assert [NER_LINES[0][a:b] for a, b, _ in got] == ["東京", "Japan"]
        assert items[NER_LINES[1]].status == "unlabeled" and not any(i.labels == ["b"] for i in items.values())
        job, items = by_text("drugs")
        assert [e.name for e in job.label_set.entities] == ["drug", "effect"]
        ann = items[TT_LINES[0]].annotation
        ents = {e["id"]: TT_LINES[0][e["start"]:e["end"]] + "/" + e["label"] for e in ann["entities"]}
        assert sorted(ents.values()) == ["Aspirin/drug", "nausea/effect"]
        assert [(ents[r["from"]], r["label"], ents[r["to"]]) for r in ann["relations"]] == [
            ("Aspirin/drug", "causes", "nausea/effect")]


def test_unsaved_spans_are_never_dropped(server, tpage: Page, page_errors, tmp_path):
    """The one unsaved-changes guard (issue 15): with an unsaved span, Next and opening another
    text are refused with one message (the status tabs stay usable: they vanished under an
    "Error" before); changing the status tab changes the list and keeps the span in the editor;
    Save then stores it."""
    page = tpage
    ner = write_lines(tmp_path / "ner", "ner.txt", NER_LINES)
    server.cli("create-job", "--name", "places", "--type", "named_entity_recognition", "--dataset", str(ner),
               "--labels", "PER,LOC")
    server.start()
    page.goto(server.url)
    page.locator("#job-picker").wait_for()
    open_job(page, "places  ·  Named entity recognition")
    expect(page.locator("#spans-picker .sp-text")).to_contain_text("東京", timeout=LONG)
    select_text(page, "spans-picker", "Japan")
    page.keyboard.press("2")  # LOC, not saved
    expect(span(page, "spans-picker", "Japan")).to_have_count(1)

    page.locator("#spans-next").click()
    expect(error_toast(page).filter(has_text="Unsaved changes on this text")).to_have_count(1, timeout=LONG)
    expect(page.locator("#spans-tabs")).to_contain_text("Unlabeled (2)")
    row(page, "spans-list", "Barack").click()
    expect(error_toast(page).filter(has_text="Unsaved changes on this text")).not_to_have_count(0, timeout=LONG)
    expect(span(page, "spans-picker", "Japan")).to_have_count(1)
    assert [sp.get("label") for sp in picker_state(page, "spans-picker")["spans"]] == ["LOC"]

    # another status tab: the list follows, the unsaved span stays
    page.locator("#spans-tabs").get_by_text("Labeled (0)").click()
    expect(page.locator("#spans-list .tl-row")).to_have_count(0, timeout=LONG)
    expect(page.locator("#spans-picker .sp-text")).to_contain_text("東京")
    expect(span(page, "spans-picker", "Japan")).to_have_count(1)

    page.locator("#spans-save").click()
    expect(page.locator("#spans-tabs")).to_contain_text("Labeled (1)", timeout=LONG)
    server.stop()
    with server.open_store() as store:
        from store.jobs import list_jobs
        from store.samples import SampleQuery, query_samples

        job = next(j for j in list_jobs(store) if j.name == "places")
        items = query_samples(store, job.id, SampleQuery(status="labeled")).items
        assert [(s.text, [(e["label"], s.text[e["start"]:e["end"]]) for e in s.annotation["spans"]]) for s in items] \
            == [(NER_LINES[0], [("LOC", "Japan")])]
    assert not page_errors


def test_label_set_editor_on_a_triplet_job(server, tpage: Page, page_errors, tmp_path):
    """The label-set editor (issue 15): a triplet job created from a comma list has those names as
    its entity labels (it had none before, silently); in Label management the editor adds an
    entity label from a comma list and a relation whose ends are picked from the entities; saved,
    the picker offers them, and they are still there after a reload."""
    page = tpage
    tt = write_lines(tmp_path / "tt", "tt.txt", TT_LINES)
    server.cli("create-job", "--name", "meds", "--type", "text_triplet", "--dataset", str(tt), "--labels", "drug,effect")
    server.start()
    page.goto(server.url)
    page.locator("#job-picker").wait_for()
    open_job(page, "meds  ·  Text triplet")
    expect(page.locator("#spans-picker .sp-text")).to_contain_text("Aspirin", timeout=LONG)
    expect(page.locator("#spans-picker .sp-label-btn[data-label='effect']")).to_have_count(1)

    open_accordion(page, "spans-label-management")
    editor = page.locator("#spans-label-editor")
    expect(editor.locator(".le-entity")).to_have_count(2, timeout=LONG)
    expect(editor.locator(".le-entity .le-name").first).to_have_value("drug")
    editor.locator(".le-quick").fill("dose")
    editor.locator(".le-quick").press("Enter")
    expect(editor.locator(".le-entity")).to_have_count(3)
    editor.locator(".le-relations .le-add").click()
    rel = editor.locator(".le-relation").first
    rel.locator(".le-name").fill("given at")
    rel.locator(".le-name").press("Tab")
    rel.locator(".le-source").select_option("drug")
    rel.locator(".le-target").select_option("dose")
    page.locator("#spans-lm-save-set").click()
    expect(page.locator('[data-testid="toast-body"]').filter(has_text="Label set saved")).to_have_count(1, timeout=LONG)
    expect(page.locator("#spans-labels-table")).to_contain_text("given at", timeout=LONG)
    expect(page.locator("#spans-picker .sp-label-btn[data-label='dose']")).to_have_count(1, timeout=LONG)

    # the JSON view says the same, and a relation to an entity that does not exist is refused
    editor.locator(".le-json-box summary").click()
    assert json.loads(editor.locator(".le-json").input_value())["relations"] == [
        {"name": "given at", "source": "drug", "target": "dose", "color": rel.locator(".le-color").input_value()}]
    editor.locator(".le-json").fill(json.dumps({"entities": ["drug", "effect"], "relations": [
        {"name": "x", "source": "drug", "target": "nowhere"}]}))
    editor.locator(".le-json-use").click()
    page.locator("#spans-lm-save-set").click()
    expect(error_toast(page).filter(has_text="not defined")).to_have_count(1, timeout=LONG)
    expect(page.locator("#spans-labels-table")).to_contain_text("given at")

    reload_and_land(page)
    open_job(page, "meds  ·  Text triplet")
    expect(page.locator("#spans-picker .sp-text")).to_contain_text("Aspirin", timeout=LONG)
    open_accordion(page, "spans-label-management")
    expect(page.locator("#spans-labels-table")).to_contain_text("given at", timeout=LONG)
    expect(page.locator("#spans-label-editor .le-relation .le-name")).to_have_value("given at")
    expect(page.locator("#spans-picker .sp-label-btn[data-label='dose']")).to_have_count(1)

    # My Creations' Modify form edits the same set with the same editor (it was a comma text box)
    page.get_by_role("tab", name="My Creations", exact=True).click()
    open_accordion(page, "modify-job")
    page.get_by_role("button", name="Load the picked job").click()
    form = page.locator("#modify-labels")
    expect(form.locator(".le-entity")).to_have_count(3, timeout=LONG)
    expect(form.locator(".le-relation .le-name")).to_have_value("given at")
    form.locator(".le-quick").fill("route")
    form.locator(".le-quick").press("Enter")
    expect(form.locator(".le-entity")).to_have_count(4)
    page.locator("#modify-save").click()
    expect(page.locator('[data-testid="toast-body"]').filter(has_text="Saved job")).to_have_count(1, timeout=LONG)
    open_job(page, "meds  ·  Text triplet")
    expect(page.locator("#spans-picker .sp-label-btn[data-label='route']")).to_have_count(1, timeout=LONG)
    expect(page.locator("#spans-picker .sp-label-btn[data-label='effect']")).to_have_count(1)
    assert not page_errors
