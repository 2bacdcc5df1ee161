"""The labeling-type registry: every type of SPEC F8.1 declared once, with what it needs."""
import importlib

import pytest

from store.formats import FORMATS, formats_for
from store.labelset import LabelSet, Label
from store.types import REGISTRY, get_type

SPEC_TYPES = ["image_classification", "object_detection", "image_segmentation", "text_classification",
              "named_entity_recognition", "text_triplet", "sound_classification", "speech_labeling",
              "speech_paragraph", "video_labeling"]
TEAM_TYPES = {"image_classification", "object_detection", "text_classification", "named_entity_recognition",
              "text_triplet", "speech_paragraph"}


def test_every_spec_type_is_registered_once():
    assert list(REGISTRY) == SPEC_TYPES


@pytest.mark.parametrize("type_id", SPEC_TYPES)
def test_type_declares_media_rules_and_formats(type_id):
    t = get_type(type_id)
    assert t.media in {"image", "audio", "text", "video"}
    assert t.extensions, "a type must say which files it accepts"
    assert "manifest" in t.formats
    assert t.team_labeling == (type_id in TEAM_TYPES)


@pytest.mark.parametrize("type_id", [t for t in SPEC_TYPES if REGISTRY[t].available])
def test_available_types_have_a_page_and_formats_both_ways(type_id):
    t = get_type(type_id)
    page = importlib.import_module(t.page)
    assert callable(page.build)
    for fmt in t.formats:
        if fmt in FORMATS:
            assert type_id in FORMATS[fmt].readers and type_id in FORMATS[fmt].writers
    assert formats_for(type_id, "read") and formats_for(type_id, "write")


def test_every_format_has_an_example_file():
    for fmt in FORMATS.values():
        assert fmt.example_text().strip(), f"format {fmt.id} has no example file"


def test_unknown_type_is_a_clear_error():
    from store.errors import ValidationError

    with pytest.raises(ValidationError, match="unknown labeling type 'pictures'"):
        get_type("pictures")


@pytest.mark.parametrize("type_id", SPEC_TYPES)
def test_a_job_of_every_type_can_be_created(store, type_id):
    from store.jobs import create_job

    if type_id == "text_triplet":
        ls = LabelSet(entities=[Label("drug"), Label("effect")])
    else:
        ls = LabelSet(labels=[Label("a-1")])
    job = create_job(store, f"job-{type_id}", type_id, label_set=ls)
    assert job.type == type_id


# -- the registry is the single source of a type: one case per registered type ----------------------
def test_registry_is_scanned_and_ordered_by_order():
    from store.types import HELPERS

    orders = [t.order for t in REGISTRY.values()]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)
    assert HELPERS == {"base", "shapes"}


@pytest.mark.parametrize("type_id", list(REGISTRY))
def test_type_declares_its_widget_and_tools(type_id):
    from store.types.base import WIDGETS
    from store.types.shapes import SHAPE_TYPES

    t = REGISTRY[type_id]
    assert t.widget in WIDGETS, f"{type_id} declares no labeling widget (widget= one of {WIDGETS})"
    assert set(t.shape_types) <= set(SHAPE_TYPES)
    if t.widget in ("shapes", "video"):
        assert t.tools and t.shape_types, f"{type_id} draws shapes: it declares its tools and shape types"
        assert set(t.tools) <= set(SHAPE_TYPES) | {"extreme_points"}
        assert len(set(t.tools)) == len(t.tools)
    else:
        assert not t.tools


@pytest.mark.parametrize("type_id", list(REGISTRY))
def test_type_formats_read_and_write_it(type_id):
    t = REGISTRY[type_id]
    assert t.formats, f"{type_id} lists no formats"
    for fmt in t.formats:
        assert fmt in FORMATS, f"{type_id} lists format {fmt!r}, which is not registered"
        assert type_id in FORMATS[fmt].readers, f"format {fmt} registers no reader for {type_id}"
        assert type_id in FORMATS[fmt].writers, f"format {fmt} registers no writer for {type_id}"
    registered = {f.id for f in FORMATS.values() if type_id in f.readers or type_id in f.writers}
    assert registered <= set(t.formats), f"formats for {type_id} that its formats= leaves out: {registered - set(t.formats)}"


@pytest.mark.parametrize("type_id", list(REGISTRY))
def test_type_importable_formats_have_example_files(type_id):
    t = REGISTRY[type_id]
    importable = [f for f in t.formats if type_id in FORMATS[f].readers]
    assert importable
    for fmt in importable:
        assert FORMATS[fmt].example and FORMATS[fmt].example_text().strip(), f"format {fmt} has no example file"


@pytest.mark.parametrize("type_id", list(REGISTRY))
def test_type_auto_labeling_kinds_have_runners(type_id):
    from autolabel.runner import HANDLERS
    from store.runs import KINDS, KINDS_BY_TYPE
    from store.types.base import ACTIVE_LEARNING_NEEDS

    t = REGISTRY[type_id]
    if t.auto_labeling:
        assert t.autolabel_kinds, f"{type_id} has auto labeling but declares no autolabel_kinds"
    else:
        assert not t.autolabel_kinds, f"{type_id} declares autolabel_kinds without auto_labeling=True"
    for kind in t.autolabel_kinds:
        assert kind in KINDS, f"{type_id}: unknown auto-labeling kind {kind!r}"
        assert (type_id, kind) in HANDLERS, f"autolabel/runner.py has no {kind} handler for {type_id}"
    assert {k for tid, k in HANDLERS if tid == type_id} == set(t.autolabel_kinds) | set(t.page_run_kinds)
    assert all(kind in KINDS for kind in t.page_run_kinds)
    assert KINDS_BY_TYPE.get(type_id, ()) == t.autolabel_kinds
    assert t.active_learning_needs in ACTIVE_LEARNING_NEEDS


@pytest.mark.parametrize("type_id", list(REGISTRY))
def test_type_model_tasks_and_prelabel_handler(type_id):
    from autolabel.prelabel import PREDICTORS, ZERO_SHOT
    from autolabel.runner import HANDLERS, MODEL_TASKS
    from store.models import TASKS, TASKS_BY_TYPE

    t = REGISTRY[type_id]
    if t.autolabel_kinds:
        assert t.model_tasks, f"{type_id} has auto labeling but declares no model_tasks"
    else:
        assert not t.model_tasks and t.prelabel_task is None
    if "prelabel" in t.autolabel_kinds:
        assert t.prelabel_task in t.model_tasks, f"{type_id}: prelabel_task must be one of its model_tasks"
        assert type_id in PREDICTORS, f"autolabel/prelabel.py PREDICTORS has no predictor for {type_id}"
        zero_shot = (t.zero_shot_task,) if t.zero_shot_task else ()
        assert (type_id, "prelabel") in HANDLERS and MODEL_TASKS[(type_id, "prelabel")] == (t.prelabel_task,) + zero_shot
        if t.zero_shot_task:
            assert t.zero_shot_task in t.model_tasks and type_id in ZERO_SHOT, type_id
    else:
        assert t.prelabel_task is None and type_id not in PREDICTORS and t.zero_shot_task is None
    assert TASKS_BY_TYPE.get(type_id, ()) == t.model_tasks and set(t.model_tasks) <= set(TASKS)


@pytest.mark.parametrize("type_id", list(REGISTRY))
def test_type_declares_its_dataset_card_task_categories(type_id):
    from store.versions import TASK_CATEGORIES

    assert REGISTRY[type_id].task_categories
    assert TASK_CATEGORIES[type_id] == list(REGISTRY[type_id].task_categories)


def _fake_types_package(tmp_path, monkeypatch, modules: dict[str, str]) -> tuple[str, list[str]]:
    import uuid

    name = f"fake_types_{uuid.uuid4().hex[:8]}"
    pkg = tmp_path / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for module, text in modules.items():
        (pkg / f"{module}.py").write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name, [str(pkg)]


_A_TYPE = """
from store.labelset import LabelRules
from store.types.base import LabelingType
TYPE = LabelingType(id={id!r}, order={order}, title="T", scene="images", media="image", rules=LabelRules())
"""


def test_a_module_without_a_type_fails_the_registry_scan(tmp_path, monkeypatch):
    from store.types import scan_types

    name, path = _fake_types_package(tmp_path, monkeypatch, {
        "alpha": _A_TYPE.format(id="alpha", order=1), "zeta": _A_TYPE.format(id="zeta", order=0),
        "helper": "def shared():\n    return 1\n"})
    with pytest.raises(RuntimeError, match=rf"{name}\.helper declares no TYPE"):
        scan_types(name, path)
    assert list(scan_types(name, path, helpers={"helper"})) == ["zeta", "alpha"]  # by order, not by name


def test_two_types_with_one_order_fail_the_registry_scan(tmp_path, monkeypatch):
    from store.types import scan_types

    name, path = _fake_types_package(tmp_path, monkeypatch, {
        "alpha": _A_TYPE.format(id="alpha", order=3), "beta": _A_TYPE.format(id="beta", order=3)})
    with pytest.raises(RuntimeError, match="share the order 3"):
        scan_types(name, path)


@pytest.mark.parametrize("type_id", list(REGISTRY))
def test_type_tool_model_tasks_are_registrable_and_not_run_tasks(type_id):
    """A tool's model (SAM for the segmentation tools) registers like any model, is listed with
    the type's models, and is no run's model: a run of the type refuses it."""
    from autolabel.runner import MODEL_TASKS
    from store.models import SAM_TASK, TASKS, TOOL_TASKS_BY_TYPE

    t = REGISTRY[type_id]
    assert TOOL_TASKS_BY_TYPE.get(type_id, ()) == t.tool_model_tasks and set(t.tool_model_tasks) <= set(TASKS)
    assert not set(t.tool_model_tasks) & set(t.model_tasks)
    assert all(not set(t.tool_model_tasks) & set(tasks) for (tid, _), tasks in MODEL_TASKS.items() if tid == type_id)
    if "extreme_points" in t.tools:
        assert SAM_TASK in t.tool_model_tasks


@pytest.mark.parametrize("type_id", list(REGISTRY))
def test_type_says_truly_whether_its_check_reads_the_sample_meta(type_id):
    """A save skips reading the sample's meta for a type whose validate never reads it
    (validate_reads_meta=False): the flag must agree with the function's code, or a shape or span
    would be saved unchecked against the image size or the text."""
    import ast
    import inspect
    import textwrap

    t = REGISTRY[type_id]
    if t.validate is None:
        return
    tree = ast.parse(textwrap.dedent(inspect.getsource(t.validate)))
    fn = tree.body[0]
    meta_param = fn.args.args[2].arg if len(fn.args.args) > 2 else None
    reads = meta_param is not None and any(isinstance(n, ast.Name) and n.id == meta_param for n in ast.walk(fn))
    assert reads == t.validate_reads_meta, (
        f"{type_id}: validate {'reads' if reads else 'never reads'} the sample meta; "
        f"set validate_reads_meta={reads} in its TYPE")
