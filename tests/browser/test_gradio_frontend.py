"""gradio_frontend.py's mended ``find_attached_events`` gives every component the events Gradio's
own gives it, in the same order: both run in Chromium on the real UI's config and on the corner
cases (an event with two targets on one component, an unnamed trigger, events sharing one)."""
from __future__ import annotations

import json

from gradio_frontend import PATCHES

RUN = """([deps, ids, oldSrc, newSrc, prelude]) => {
  const make = src => new Function(prelude + "return {" + src + "};")();
  const impls = [make(oldSrc), make(newSrc)];
  return ids.map(id => impls.map(impl => {
    const node = {id, props: {shared_props: {}}};
    impl.find_attached_events(node, deps);
    return node.props.shared_props.attached_events;
  }));
}"""


def test_mended_find_attached_events_matches_gradios_own(browser, store):
    from ui import build_ui

    patch = next(p for p in PATCHES if p.name == "find_attached_events")
    config = build_ui(store).get_config_file()
    deps = [{"targets": d["targets"]} for d in config["dependencies"]]
    ids = [c["id"] for c in config["components"]]
    corner = [{"targets": [[1, "click"], [1, "change"], [2, "submit"]]}, {"targets": [[1, None], [3, ""]]},
              {"targets": [[2, "change"], [1, "click"]]}, {"targets": []}, {"targets": [[3, "blur"], [3, "focus"]]}]
    page = browser.new_page()
    try:
        results = {}
        for name, case_deps, case_ids in (("ui", deps, ids), ("corner", corner, [1, 2, 3, 4])):
            results[name] = page.evaluate(RUN, [json.loads(json.dumps(case_deps)), case_ids, patch.old, patch.new,
                                                patch.prelude])
            assert len(results[name]) == len(case_ids)
            for cid, (old, new) in zip(case_ids, results[name]):
                assert new == old, (cid, old, new)
        # every event triggered by a component is among that component's (the page's load is not)
        found = sum(len(new) for _, new in results["ui"])
        assert found == sum(1 for d in deps for t in d["targets"][:1] if t[0] in set(ids)) > 250
    finally:
        page.close()
