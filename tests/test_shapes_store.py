"""Shape annotations (detection, segmentation) in the store: the check, rename/delete, quick review."""
import io

import pytest
from PIL import Image

from store.annotations import delete_label, rename_label, set_annotation
from store.errors import ValidationError
from store.imports import upload_files
from store.jobs import create_job
from store.labelset import Label, LabelSet
from store.review import Modification, apply_modifications, shapes_of_label
from store.samples import SampleQuery, get_sample, query_samples


def png(w=200, h=100) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (w, h), "white").save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def det(store):
    ls = LabelSet([Label("cat", "#ff8800", attributes={"color": ["yellow", "black"]}), Label("dog")])
    job = create_job(store, "det", "object_detection", label_set=ls)
    upload_files(store, job.id, [("a.png", png()), ("b.png", png())])
    ids = [s.id for s in query_samples(store, job.id, SampleQuery()).items]
    return job, ids


ALL_SHAPES = [
    {"type": "rectangle", "label": "cat", "points": [[50, 60], [10, 20]], "attributes": {"color": "black"}},
    {"type": "polygon", "label": "dog", "points": [[10, 10], [50, 10], [30, 40]]},
    {"type": "circle", "label": "cat", "points": [[100, 50]], "radius": 20},
    {"type": "line", "label": "dog", "points": [[0, 0], [200, 100]]},
    {"type": "dashed_line", "label": "dog", "points": [[0, 100], [100, 0], [200, 100]]},
    {"type": "point", "label": "cat", "points": [[199.5, 99.5]]},
]


def test_every_shape_type_saves_and_reads_back(store, det):
    job, (a, _b) = det
    set_annotation(store, job.id, a, {"shapes": ALL_SHAPES})
    s = get_sample(store, job.id, a)
    assert s.status == "labeled" and s.labels == ["cat", "dog"]
    shapes = s.annotation["shapes"]
    assert [x["type"] for x in shapes] == [x["type"] for x in ALL_SHAPES]
    assert shapes[0]["points"] == [[10, 20], [50, 60]]  # corners normalised
    assert shapes[0]["attributes"] == {"color": "black"}
    assert len({x["id"] for x in shapes}) == 6


@pytest.mark.parametrize("shape, message", [
    ({"type": "point", "label": "cat", "points": [[201, 5]]}, "outside the image"),
    ({"type": "rectangle", "label": "cat", "points": [[-1, 0], [10, 10]]}, "outside the image"),
    ({"type": "circle", "label": "cat", "points": [[5, 5]], "radius": 10}, "outside the image"),
    ({"type": "rectangle", "label": "cat", "points": [[10, 10], [10, 30]]}, "no area"),
    ({"type": "polygon", "label": "cat", "points": [[1, 1], [2, 2]]}, "at least 3 points"),
    ({"type": "polygon", "label": "cat", "points": [[1, 1], [2, 2], [1, 1]]}, "3 distinct points"),
    ({"type": "hexagon", "label": "cat", "points": [[1, 1]]}, "not one of"),
    ({"type": "point", "label": "bird", "points": [[1, 1]]}, "not in this job's label set"),
    ({"type": "point", "label": "cat", "points": [["a", 1]]}, "finite numbers"),
    ({"type": "point", "label": "cat", "points": [[1, 1]], "attributes": {"size": "big"}}, "no attribute"),
    ({"type": "point", "label": "cat", "points": [[1, 1]], "attributes": {"color": "red"}}, "not a value"),
])
def test_bad_shapes_are_refused_and_nothing_is_saved(store, det, shape, message):
    job, (a, _b) = det
    set_annotation(store, job.id, a, {"shapes": [ALL_SHAPES[1]]})
    with pytest.raises(ValidationError, match=message):
        set_annotation(store, job.id, a, {"shapes": [ALL_SHAPES[0], shape]})
    assert len(get_sample(store, job.id, a).annotation["shapes"]) == 1


def test_segmentation_takes_polygons_only(store):
    job = create_job(store, "seg", "image_segmentation", label_set=LabelSet([Label("cell")]))
    upload_files(store, job.id, [("a.png", png())])
    sid = query_samples(store, job.id, SampleQuery()).items[0].id
    with pytest.raises(ValidationError, match="not one of polygon"):
        set_annotation(store, job.id, sid, {"shapes": [{"type": "rectangle", "label": "cell",
                                                        "points": [[1, 1], [5, 5]]}]})
    set_annotation(store, job.id, sid, {"shapes": [{"type": "polygon", "label": "cell",
                                                    "points": [[1, 1], [5, 1], [5, 5]]}]})
    assert get_sample(store, job.id, sid).status == "labeled"


def test_all_shapes_deleted_returns_to_unlabeled(store, det):
    job, (a, _b) = det
    set_annotation(store, job.id, a, {"shapes": ALL_SHAPES})
    set_annotation(store, job.id, a, {"shapes": []})
    s = get_sample(store, job.id, a)
    assert s.status == "unlabeled" and s.labels == [] and s.labeled_by is None


def test_rename_and_delete_label_inside_shapes(store, det):
    job, (a, b) = det
    set_annotation(store, job.id, a, {"shapes": ALL_SHAPES})
    set_annotation(store, job.id, b, {"shapes": [ALL_SHAPES[2]]})  # only a cat circle
    assert rename_label(store, job.id, "cat", "feline") == 2
    assert get_sample(store, job.id, a).labels == ["feline", "dog"]
    assert delete_label(store, job.id, "feline") == 2
    sa, sb = get_sample(store, job.id, a), get_sample(store, job.id, b)
    assert [x["label"] for x in sa.annotation["shapes"]] == ["dog", "dog", "dog"]
    assert sb.status == "unlabeled" and sb.annotation is None


def test_quick_review_sorts_and_applies_modifications(store, det):
    job, (a, b) = det
    set_annotation(store, job.id, a, {"shapes": ALL_SHAPES})
    set_annotation(store, job.id, b, {"shapes": [{"type": "rectangle", "label": "cat", "points": [[0, 0], [100, 50]]}]})
    crops = shapes_of_label(store, job.id, "cat", "area")
    assert [c.type for c in crops] == ["rectangle", "rectangle", "circle", "point"]  # 5000, 1600, 1257, 0 px²
    assert crops[0].sample_id == b
    by_ratio = shapes_of_label(store, job.id, "cat", "aspect_ratio", descending=False)
    assert by_ratio[0].aspect_ratio <= by_ratio[-1].aspect_ratio
    circle = next(c for c in crops if c.type == "circle")
    big = crops[0]
    n = apply_modifications(store, job.id, [
        Modification(circle.sample_id, circle.shape_id, "relabel", label="dog"),
        Modification(big.sample_id, big.shape_id, "adjust", points=[[10, 10], [60, 40]]),
    ])
    assert n == 2
    assert [c.type for c in shapes_of_label(store, job.id, "cat", "area")] == ["rectangle", "rectangle", "point"]
    assert get_sample(store, job.id, b).annotation["shapes"][0]["points"] == [[10, 10], [60, 40]]
    with pytest.raises(ValidationError, match="outside the image"):
        apply_modifications(store, job.id, [Modification(big.sample_id, big.shape_id, "adjust",
                                                         points=[[10, 10], [500, 40]])])
    apply_modifications(store, job.id, [Modification(big.sample_id, big.shape_id, "delete")])
    assert get_sample(store, job.id, b).status == "unlabeled"


def test_quick_review_patches_what_is_stored_when_it_applies(store, det):
    """The reviewer's changes are patched by shape id onto the image as stored when they are
    applied: another person's save in between keeps its changes beside the reviewer's (a new
    version in the history, saved by the reviewer), and a change to a shape they deleted is
    refused with nothing written."""
    from store.errors import NotFound
    from store.history import sample_history

    job, (a, _b) = det
    set_annotation(store, job.id, a, {"shapes": ALL_SHAPES[:3]})
    ids = [x["id"] for x in get_sample(store, job.id, a).annotation["shapes"]]
    review = [Modification(a, ids[0], "relabel", label="dog")]  # read by the reviewer's page
    # meanwhile someone moves the polygon and deletes the circle
    shapes = get_sample(store, job.id, a).annotation["shapes"]
    shapes[1]["points"] = [[12, 12], [52, 12], [32, 42]]
    set_annotation(store, job.id, a, {"shapes": shapes[:2]}, actor="bob")
    assert apply_modifications(store, job.id, review, actor="rev") == 1
    after = {x["id"]: x for x in get_sample(store, job.id, a).annotation["shapes"]}
    assert after[ids[0]]["label"] == "dog" and after[ids[1]]["points"] == [[12, 12], [52, 12], [32, 42]]
    assert ids[2] not in after
    assert [(v.version, v.saved_by) for v in sample_history(store, job.id, a)][:2] == [(3, "rev"), (2, "bob")]
    with pytest.raises(NotFound, match="no longer exists"):
        apply_modifications(store, job.id, [Modification(a, ids[0], "relabel", label="cat"),
                                            Modification(a, ids[2], "delete")], actor="rev")
    assert get_sample(store, job.id, a).version == 3
