"""Tracks of video labeling (issue 16): keyframes, interpolation of every kind, outside and
occluded, one label per track; CVAT for video 1.1 XML both ways (round trip exact on tracks, a
file as CVAT writes it), and the manifest / jsonl / coco exports carrying tracks and flags."""
import json
import shutil
import xml.etree.ElementTree as ET

import pytest

from store.annotations import set_annotation
from store.errors import ValidationError
from store.exports import export_job
from store.imports import import_format
from store.jobs import create_job
from store.labelset import Label, LabelSet
from store.samples import SampleQuery, query_samples
from store.tracks import frames_with_interpolation, interpolate_tracks, track_ranges
from store.types import get_type
from tests.test_video import META, page, rect, round_trips  # noqa: F401  (page: a fixture)

VL = get_type("video_labeling")
LABELS = LabelSet(labels=[Label("car", attributes={"color": ["red", "blue"]}), Label("person")])


def video_job(store, shared_data, name="video"):
    job = create_job(store, name, "video_labeling", source=str(shared_data / "video"), label_set=LABELS)
    rows = store.db.fetchall("SELECT s.id, s.path FROM samples s JOIN job_samples js ON js.sample_id = s.id "
                             "WHERE js.job_id = ?", [job.id])
    return job, {p.rsplit("/", 1)[-1]: (sid,) for sid, p in rows}


def validate(frames):
    return VL.validate({"frames": frames}, LABELS, META).data


def poly(points, track=None, label="person", **flags):
    s = {"type": "polygon", "label": label, "points": points, **flags}
    if track:
        s["track"] = track
    return s


def test_boxes_polygons_circles_and_points_interpolate_per_vertex():
    ann = validate([
        {"frame": 0, "shapes": [rect(0, 0, 100, 50, track="c"), poly([[0, 0], [10, 0], [10, 10]], "p"),
                                {"type": "circle", "label": "car", "points": [[10, 10]], "radius": 4, "track": "o"},
                                {"type": "point", "label": "car", "points": [[0, 0]], "track": "k"}]},
        {"frame": 4, "shapes": [rect(100, 50, 300, 150, track="c"), poly([[40, 0], [50, 0], [50, 10]], "p"),
                                {"type": "circle", "label": "car", "points": [[30, 10]], "radius": 8, "track": "o"},
                                {"type": "point", "label": "car", "points": [[8, 4]], "track": "k"}]}])
    mid = {s["track"]: s for s in interpolate_tracks(ann)[2]}
    assert mid["c"]["points"] == [[50, 25], [200, 100]] and mid["c"]["interpolated"]
    assert mid["p"]["points"] == [[20, 0], [30, 0], [30, 10]] and mid["p"]["type"] == "polygon"
    assert mid["o"]["points"] == [[20, 10]] and mid["o"]["radius"] == 6
    assert mid["k"]["points"] == [[4, 2]]
    assert sorted(interpolate_tracks(ann)) == [1, 2, 3]


def test_another_vertex_count_holds_the_earlier_shape():
    ann = validate([{"frame": 0, "shapes": [poly([[0, 0], [10, 0], [10, 10]], "p")]},
                    {"frame": 3, "shapes": [poly([[0, 0], [10, 0], [10, 10], [0, 10]], "p")]}])
    assert [s["points"] for f in (1, 2) for s in interpolate_tracks(ann)[f]] == [[[0, 0], [10, 0], [10, 10]]] * 2


def test_outside_ends_a_track_until_its_next_keyframe_and_occluded_carries_on():
    ann = validate([
        {"frame": 10, "shapes": [rect(0, 0, 10, 10, track="c")]},
        {"frame": 20, "shapes": [rect(10, 0, 20, 10, track="c", ) | {"occluded": True}]},
        {"frame": 25, "shapes": [rect(10, 0, 20, 10, track="c") | {"outside": True}]},
        {"frame": 40, "shapes": [rect(50, 0, 60, 10, track="c")]},
        {"frame": 44, "shapes": [rect(50, 0, 60, 10, track="c")]}])
    shown = frames_with_interpolation(ann)
    assert 25 not in shown and all(f not in shown for f in range(26, 40))  # gone between 25 and 40
    assert shown[22][0]["points"] == [[10, 0], [20, 10]] and shown[22][0]["occluded"]  # held up to the outside
    assert shown[15][0]["points"] == [[5, 0], [15, 10]] and "occluded" not in shown[15][0]
    assert 45 not in shown  # the track ends at its last keyframe
    assert track_ranges(ann) == {"c": [(10, 24), (40, 44)]}


def test_flags_and_labels_are_checked_and_redundant_outside_keyframes_dropped():
    with pytest.raises(ValidationError, match="only a shape of a track can be outside"):
        validate([{"frame": 1, "shapes": [rect(0, 0, 5, 5) | {"outside": True}]}])
    with pytest.raises(ValidationError, match='"occluded" is true or false'):
        validate([{"frame": 1, "shapes": [rect(0, 0, 5, 5) | {"occluded": "yes"}]}])
    with pytest.raises(ValidationError, match="track 'c' has two labels"):
        validate([{"frame": 1, "shapes": [rect(0, 0, 5, 5, track="c")]},
                  {"frame": 5, "shapes": [rect(0, 0, 5, 5, "person", track="c")]}])
    ann = validate([{"frame": 0, "shapes": [rect(0, 0, 5, 5, track="c") | {"outside": True}]},  # nothing before it
                    {"frame": 3, "shapes": [rect(0, 0, 5, 5, track="c")]},
                    {"frame": 4, "shapes": [rect(0, 0, 5, 5, track="c") | {"outside": True}, rect(1, 1, 2, 2, "person")]}])
    assert [(f["frame"], [s.get("outside", False) for s in f["shapes"]]) for f in ann["frames"]] == \
        [(3, [False]), (4, [False])]  # the last one right after the track's end changes nothing


def tracked_annotation():
    return {"frames": [
        {"frame": 10, "shapes": [rect(100, 60, 300, 200, track="b1") | {"attributes": {"color": "red"}},
                                 rect(5, 5, 20, 30, "person")]},
        {"frame": 40, "shapes": [poly([[1, 1], [9, 1], [5, 8]]), rect(200, 80, 400, 240, track="b1")
                                 | {"occluded": True, "attributes": {"color": "blue"}}]},
        {"frame": 50, "shapes": [rect(200, 80, 400, 240, track="b1") | {"outside": True}]},
        {"frame": 60, "shapes": [{"type": "dashed_line", "label": "person", "points": [[0, 0], [50, 50], [80, 20]],
                                  "track": "walk"},
                                 {"type": "circle", "label": "car", "points": [[30, 30]], "radius": 12, "track": "wheel"}]},
        {"frame": 70, "shapes": [{"type": "dashed_line", "label": "person", "points": [[10, 0], [60, 50], [90, 20]],
                                  "track": "walk"},
                                 {"type": "point", "label": "person", "points": [[7, 7]], "track": "one"}]},
        {"frame": 249, "shapes": [{"type": "circle", "label": "car", "points": [[40, 30]], "radius": 10,
                                   "track": "wheel"}]}]}


def test_cvat_round_trip_is_exact_on_tracks(store, shared_data, tmp_path, page):  # noqa: F811
    job, samples = video_job(store, shared_data)
    sid = samples["bikes.mp4"][0]
    set_annotation(store, job.id, sid, tracked_annotation())
    saved = query_samples(store, job.id, SampleQuery(status="labeled")).items[0].annotation
    out = tmp_path / "cvat"
    res = export_job(store, job.id, "cvat", out)
    assert res.samples == len(samples) and (out / "bikes.xml").is_file()

    root = ET.parse(out / "bikes.xml").getroot()
    assert root.findtext("version") == "1.1" and root.findtext("meta/task/mode") == "interpolation"
    assert root.findtext("meta/task/size") == "250" and root.findtext("meta/task/original_size/width") == "640"
    assert [lab.findtext("name") for lab in root.iter("label")] == ["car", "person"]
    b1 = next(t for t in root.iter("track") if t.get("labelport_track") == "b1")
    boxes = {int(b.get("frame")): b for b in b1.iter("box")}
    assert sorted(boxes) == list(range(10, 51))  # keyframes, the frames between, held up to the outside one
    assert [f for f, b in boxes.items() if b.get("keyframe") == "1"] == [10, 40, 50]
    assert boxes[25].get("xtl") == "150.00" and boxes[25].get("keyframe") == "0"  # halfway from 10 to 40
    assert boxes[50].get("outside") == "1" and boxes[45].get("occluded") == "1" and boxes[45].get("xtl") == "200.00"
    assert boxes[40].find("attribute").text == "blue"
    plain = next(t for t in root.iter("track") if t.get("labelport_track") == "" and t.get("label") == "person"
                 and t.find("box") is not None)
    assert [(b.get("frame"), b.get("outside")) for b in plain] == [("10", "0"), ("11", "1")]  # a one-frame track
    wheel = next(t for t in root.iter("track") if t.get("labelport_track") == "wheel")
    assert wheel.find("ellipse").get("rx") == "12.00" and wheel[-1].get("frame") == "249"  # the last frame: no end mark

    job2 = create_job(store, "v-cvat", "video_labeling", label_set=LabelSet(labels=[Label("car", attributes={
        "color": ["red", "blue"]})]))
    rec = import_format(store, job2.id, "cvat", str(out))
    assert rec.labeled == 1, rec.errors
    got = query_samples(store, job2.id, SampleQuery(status="labeled")).items[0]
    assert got.annotation == saved, [(a, b) for a, b in zip(got.annotation["frames"], saved["frames"]) if a != b]
    assert sorted(store_names(store, job2.id)) == ["car", "person"]  # the labels the file uses were added
    from store.jobs import get_job

    # a job with no labels: those of <meta>, with their colors and attributes
    job3 = create_job(store, "v-cvat-meta", "video_labeling", label_set=LabelSet(labels=[]))
    (out / "bikes.xml").write_text((out / "bikes.xml").read_text(encoding="utf-8").replace(
        "<name>person</name>", "<name>person</name><color>#12AB34</color>", 1), encoding="utf-8")
    assert import_format(store, job3.id, "cvat", str(out)).labeled == 1
    labels = {lab.name: lab for lab in get_job(store, job3.id).label_set.labels}
    assert labels["car"].attributes == {"color": ["red", "blue"]} and labels["person"].color == "#12ab34"


def store_names(store, job_id):
    from store.jobs import get_job

    return get_job(store, job_id).label_set.names()


def test_a_file_as_cvat_writes_it(store, shared_data, tmp_path, page):  # noqa: F811
    """CVAT's own export: numbered tracks that run on to the end of the task, shapes as one-frame
    tracks, the video named by file name beside the XML."""
    folder = tmp_path / "task"
    folder.mkdir()
    (folder / "bikes.mp4").write_bytes((shared_data / "video" / "bikes.mp4").read_bytes())
    boxes = "".join(f'<box frame="{f}" keyframe="{1 if f in (5, 9) else 0}" outside="0" occluded="0" '
                    f'xtl="{10 + f}" ytl="10" xbr="{50 + f}" ybr="40" z_order="0"/>' for f in range(5, 12))
    (folder / "annotations.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?><annotations><version>1.1</version><meta><task><name>t</name>'
        '<size>250</size><mode>interpolation</mode></task><source>bikes.mp4</source></meta>'
        f'<track id="3" label="car" source="manual">{boxes}</track>'
        '<track id="4" label="person" source="manual"><polygon frame="7" keyframe="1" outside="0" occluded="1" '
        'points="1,1;9,1;5,8" z_order="0"><attribute name="pose">standing</attribute></polygon>'
        '<polygon frame="8" keyframe="1" outside="1" occluded="0" points="1,1;9,1;5,8" z_order="0"/></track>'
        '<track id="5" label="car" source="manual"><box frame="2" keyframe="1" outside="0" occluded="0" '
        'xtl="nan" ytl="1" xbr="2" ybr="3" z_order="0"/></track></annotations>', encoding="utf-8")
    job = create_job(store, "from-cvat", "video_labeling",
                     label_set=LabelSet(labels=[Label("car"), Label("person", attributes={"pose": ["standing"]})]))
    rec = import_format(store, job.id, "cvat", str(folder / "annotations.xml"))
    assert rec.labeled == 1
    assert any("track 5" in e and "not a number" in e for e in rec.errors), rec.errors
    ann = query_samples(store, job.id, SampleQuery(status="labeled")).items[0].annotation
    car = [(f["frame"], s["points"]) for f in ann["frames"] for s in f["shapes"] if s.get("track") == "3"]
    assert car == [(5, [[15, 10], [55, 40]]), (9, [[19, 10], [59, 40]]), (11, [[21, 10], [61, 40]])]  # runs on
    (person,) = [s for f in ann["frames"] if f["frame"] == 7 for s in f["shapes"]]
    assert "track" not in person and person["occluded"] and person["attributes"] == {"pose": "standing"}


def test_bad_cvat_files_are_refused_with_a_reason(store, tmp_path):
    job = create_job(store, "bad-cvat", "video_labeling", label_set=LabelSet(labels=[Label("car")]))
    cases = {"bomb.xml": '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><annotations>&x;</annotations>',
             "images.xml": '<annotations><image id="0" name="a.jpg"/></annotations>',
             "nosource.xml": '<annotations><meta><task/></meta></annotations>',
             "broken.xml": "<annotations><track",
             "other.xml": "<annotation/>"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    rec = import_format(store, job.id, "cvat", str(tmp_path))
    assert rec.labeled == 0 and rec.imported == 0, rec
    text = " ".join(rec.errors)
    for needle in ("DTD or entities", "CVAT for images", "no <source>", "not valid XML", "not a CVAT XML file"):
        assert needle in text, (needle, text)


def test_manifest_jsonl_and_coco_carry_tracks_and_flags(store, shared_data, tmp_path, page):  # noqa: F811
    job, samples = video_job(store, shared_data)
    sid = samples["bikes.mp4"][0]
    data = {"frames": [f for f in tracked_annotation()["frames"] if f["frame"] <= 50]}
    set_annotation(store, job.id, sid, data)
    round_trips(store, job.id, LABELS, tmp_path)
    from pycocotools.coco import COCO

    coco = COCO(str(tmp_path / "coco" / "coco" / "v.json"))
    anns = coco.loadAnns(coco.getAnnIds())
    b1 = [a for a in anns if a.get("labelport_track") == "b1"]
    assert len({a["track_id"] for a in b1}) == 1 and len(b1) == 40  # frames 10..49, interpolated and held included
    assert [a["occluded"] for a in b1 if coco.imgs[a["image_id"]]["frame_id"] == 45] == [1]
    outside = [i for i in coco.imgs.values() if i["labelport_video"].get("outside")]
    assert [(i["frame_id"], [o["track"] for o in i["labelport_video"]["outside"]]) for i in outside] == [(50, ["b1"])]
    assert coco.dataset["tracks"][0]["category_id"] == coco.getCatIds(catNms=["car"])[0]


def test_the_player_overlay_lists_each_frames_shapes_with_their_flags():
    from components.video_player import overlay_shapes, player_value

    ann = validate(tracked_annotation()["frames"])
    over = overlay_shapes(ann, {"car": "#123456"})
    assert [d["l"] for d in over["10"]] == ["car", "person"] and over["10"][0]["c"] == "#123456"
    assert over["25"] == [{"t": "rectangle", "p": [[150.0, 70.0], [350.0, 220.0]], "l": "car", "c": "#123456", "k": "b1",
                           "i": 1}]
    assert over["45"][0]["o"] == 1 and "50" not in over and "51" not in over  # held occluded, then outside
    assert over["65"][0]["t"] == "dashed_line" and over["65"][0]["i"] == 1
    value = player_value(3, 25, 250, 10, overlay=over, size=(640, 272))
    assert value["overlay"] is over and value["size"] == [640, 272]


def test_the_canvas_shows_interpolated_shapes_and_a_moved_one_becomes_a_keyframe():
    """The video page's canvas on a frame between two keyframes (issue 16): the track's
    interpolated box is there to edit; saved untouched it stays interpolated, moved it becomes a
    keyframe of its track; stored shapes keep their flags, and an outside keyframe stays hidden
    from the canvas and kept on save."""
    from pages.labeling.video import canvas_shapes, saved_shapes

    ann = validate(tracked_annotation()["frames"])
    on25 = canvas_shapes(ann, 25)
    assert [(s["id"], s["track"]) for s in on25] == [("b1@25", "b1")] and "interpolated" not in on25[0]
    drawn = [{k: v for k, v in s.items() if k in ("id", "type", "label", "points")} for s in on25]  # what the canvas returns
    assert saved_shapes(ann, 25, drawn, {}, "") == []  # untouched: nothing to store
    moved = [{**drawn[0], "points": [[160, 70], [360, 220]]}]
    (key,) = saved_shapes(ann, 25, moved, {}, "")
    assert key["track"] == "b1" and key["points"] == [[160, 70], [360, 220]]
    assert VL.validate({"frames": ann["frames"] + [{"frame": 25, "shapes": [key]}]}, LABELS, META)

    on40 = canvas_shapes(ann, 40)  # the occluded keyframe and the person's polygon
    kept = saved_shapes(ann, 40, [{k: v for k, v in s.items() if k in ("id", "type", "label", "points")} for s in on40],
                        {}, "")
    assert [(s.get("track"), s.get("occluded", False)) for s in kept] == [(None, False), ("b1", True)]
    assert canvas_shapes(ann, 50) == []  # the outside keyframe is not drawn...
    (outside,) = saved_shapes(ann, 50, [], {}, "")  # ...and saving the frame keeps it
    assert outside["outside"] and outside["track"] == "b1"


def test_track_edits_on_a_frame_outside_occluded_and_delete():
    """The video page's track buttons (issue 16): outside from a frame between keyframes makes a
    keyframe there from the interpolated box and hides the object until the next keyframe;
    occluded toggles; delete takes every keyframe of the track; a track not on the frame, or
    none picked, is refused with a reason."""
    from pages.labeling.video import track_table
    from store.tracks import edit_track

    ann = validate([{"frame": 0, "shapes": [rect(0, 0, 10, 10, track="c")]},
                    {"frame": 10, "shapes": [rect(100, 0, 110, 10, track="c"), rect(1, 1, 5, 5, "person")]}])
    ann2, msg = edit_track(ann, 5, "c", "outside")
    after = validate(ann2["frames"])
    assert "outside from frame 5" in msg
    assert sorted(frames_with_interpolation(after)) == [0, 1, 2, 3, 4, 10]
    assert [(f, s["points"]) for f, s in keyframes_of(after, "c")] == [
        (0, [[0, 0], [10, 10]]), (5, [[50, 0], [60, 10]]), (10, [[100, 0], [110, 10]])]
    ann2, msg = edit_track(after, 5, "c", "outside")  # again: back in view
    assert "in view again" in msg and sorted(frames_with_interpolation(validate(ann2["frames"]))) == list(range(11))
    ann2, msg = edit_track(ann, 3, "c", "occluded")
    assert frames_with_interpolation(validate(ann2["frames"]))[7][0]["occluded"]
    table = track_table(validate(ann2["frames"]))
    assert table.to_dict("records") == [{"Track": "c", "Label": "car", "Shape": "rectangle", "Visible frames": "0–10",
                                         "Keyframes": 3, "Interpolated": 8, "Occluded on": "3", "Outside at": ""}]
    ann2, msg = edit_track(ann, 0, "c", "delete")
    assert msg == "Deleted track c (2 keyframes)" and [len(f["shapes"]) for f in ann2["frames"]] == [0, 1]
    with pytest.raises(ValidationError, match="pick a track"):
        edit_track(ann, 3, "", "outside")
    with pytest.raises(ValidationError, match="not on frame 20"):
        edit_track(ann, 20, "c", "occluded")
    assert [s.get("outside") for f in ann["frames"] for s in f["shapes"]] == [None, None, None]  # ann untouched


def test_keyframes_are_deleted_and_moved_between_their_neighbours():
    from store.tracks import edit_track

    ann = validate([{"frame": 0, "shapes": [rect(0, 0, 10, 10, track="c")]},
                    {"frame": 10, "shapes": [rect(50, 0, 60, 10, track="c"), rect(1, 1, 5, 5, "person")]},
                    {"frame": 20, "shapes": [rect(100, 0, 110, 10, track="c")]}])
    moved, msg = edit_track(ann, 10, "c", "move_keyframe", to=15)
    after = validate(moved["frames"])
    assert msg == "Moved the keyframe of track c from frame 10 to frame 15"
    assert [f for f, _ in keyframes_of(after, "c")] == [0, 15, 20]
    assert [f["frame"] for f in after["frames"]] == [0, 10, 15, 20]  # frame 10 keeps its other shape
    assert sum(interpolate_tracks(after)[5][0]["points"], []) == pytest.approx([50 / 3, 0, 10 + 50 / 3, 10], abs=0.01)
    for to in (0, 20, 25, -1):
        with pytest.raises(ValidationError, match="between its neighbours|a frame number"):
            edit_track(ann, 10, "c", "move_keyframe", to=to)
    same, msg = edit_track(ann, 10, "c", "move_keyframe", to=10)
    assert "stays on frame 10" in msg and validate(same["frames"]) == ann
    gone, msg = edit_track(ann, 10, "c", "delete_keyframe")
    assert msg == "Deleted the keyframe of track c on frame 10 (2 keyframes left)"
    after = validate(gone["frames"])
    assert [f for f, _ in keyframes_of(after, "c")] == [0, 20] and interpolate_tracks(after)[10][0]["points"] == [
        [50, 0], [60, 10]]
    with pytest.raises(ValidationError, match="no keyframe on frame 5"):
        edit_track(ann, 5, "c", "delete_keyframe")
    one = validate([{"frame": 3, "shapes": [rect(0, 0, 10, 10, track="solo")]}])
    gone, msg = edit_track(one, 3, "solo", "delete_keyframe")
    assert msg.endswith("the track is gone") and gone == {"frames": []}
    moved, _ = edit_track(one, 3, "solo", "move_keyframe", to=40)  # a lone keyframe goes anywhere
    assert [f["frame"] for f in validate(moved["frames"])["frames"]] == [40]
    assert [f["frame"] for f in ann["frames"]] == [0, 10, 20]  # ann untouched


def keyframes_of(ann, track):
    from store.tracks import keyframes

    return keyframes(ann)[track]


def test_mot_export_lists_every_visible_frame_of_each_box_track(store, shared_data, tmp_path, page):  # noqa: F811
    import configparser

    import numpy as np

    job, samples = video_job(store, shared_data)
    sid = samples["bikes.mp4"][0]
    set_annotation(store, job.id, sid, tracked_annotation())
    res = export_job(store, job.id, "mot", tmp_path / "mot")
    assert res.samples == 1
    seq = tmp_path / "mot" / "bikes"
    gt = np.loadtxt(seq / "gt" / "gt.txt", delimiter=",", ndmin=2)  # as MOT tools read it
    assert gt.shape[1] == 9 and set(gt[:, 6]) == {1}
    b1 = gt[gt[:, 1] == 1]
    assert [int(f) for f in b1[:, 0]] == list(range(11, 51))  # frames 10..49 (from 1), outside from 50
    assert list(b1[b1[:, 0] == 26][0][2:6]) == [150, 70, 200, 150] and b1[b1[:, 0] == 46][0][8] == 0.5
    person = gt[gt[:, 7] == 2]
    assert len(person) == 1 and list(person[0][:6]) == [11, 2, 5, 5, 15, 25]  # a box of its own, its own id
    assert (seq / "gt" / "labels.txt").read_text().split() == ["car", "person"]
    ini = configparser.ConfigParser()
    ini.read(seq / "seqinfo.ini")
    assert dict(ini["Sequence"]) == {"name": "bikes", "imdir": "img1", "framerate": "25", "seqlength": "250",
                                     "imwidth": "640", "imheight": "272", "imext": ".jpg",
                                     "labelport_source": ini["Sequence"]["labelport_source"],
                                     "labelport_tracks": '{"1": "b1"}'}
    assert (seq / ini["Sequence"]["labelport_source"]).resolve() == (shared_data / "video" / "bikes.mp4").resolve()


def test_mot_round_trip_keeps_what_mot_can_hold_and_reads_a_plain_sequence(store, shared_data, tmp_path, page):  # noqa: F811
    from store.tracks import track_ranges

    job, samples = video_job(store, shared_data)
    sid = samples["bikes.mp4"][0]
    boxes_only = {"frames": [{"frame": f["frame"], "shapes": [s for s in f["shapes"] if s["type"] == "rectangle"]}
                             for f in tracked_annotation()["frames"] if f["frame"] <= 50]}
    set_annotation(store, job.id, sid, boxes_only)
    saved = get_sample_annotation(store, job.id, sid)
    export_job(store, job.id, "mot", tmp_path / "mot")
    job2 = create_job(store, "v-mot", "video_labeling", label_set=LabelSet(labels=[Label("car")]))
    rec = import_format(store, job2.id, "mot", str(tmp_path / "mot"))
    assert rec.labeled == 1, rec.errors
    got = query_samples(store, job2.id, SampleQuery(status="labeled")).items[0].annotation
    # every frame's boxes are the same (MOT lists them all); track 1 is b1, visible 10..49
    assert {f: [s["points"] for s in ss] for f, ss in frames_with_interpolation(got).items()} == \
        {f: [s["points"] for s in ss] for f, ss in frames_with_interpolation(saved).items()}
    assert track_ranges(got) == {"b1": [(10, 49)]}  # our track ids come back
    assert [f for f, ss in frames_with_interpolation(got).items() if any(s.get("occluded") for s in ss)] == \
        list(range(40, 50))

    seq = tmp_path / "plain" / "walk"  # a sequence as MOT tools write it: the video beside gt/, a gap, an ignored box
    (seq / "gt").mkdir(parents=True)
    shutil.copy(shared_data / "video" / "bikes.mp4", seq / "walk.mp4")
    (seq / "seqinfo.ini").write_text("[Sequence]\nname=walk\nframeRate=25\nseqLength=250\n", encoding="utf-8")
    (seq / "gt" / "gt.txt").write_text("\n".join(
        [f"{f},7,{10 + f},20,40,30,1,1,1" for f in range(1, 6)] + [f"{f},7,{10 + f},20,40,30,1,1,1" for f in (9, 10)]
        + ["3,8,1,1,5,5,0,1,1", "4,9,300,100,20,20,1,2,1", "x,1,2"]) + "\n", encoding="utf-8")
    job3 = create_job(store, "v-plain", "video_labeling", label_set=LabelSet(labels=[Label("car")]))
    rec = import_format(store, job3.id, "mot", str(seq))
    assert rec.labeled == 1 and any("line 10" in e for e in rec.errors), rec.errors
    ann = query_samples(store, job3.id, SampleQuery(status="labeled")).items[0].annotation
    assert track_ranges(ann) == {"7": [(0, 4), (8, 9)]}  # the gap is an outside keyframe
    keys = [(fr["frame"], s.get("outside", False)) for fr in ann["frames"] for s in fr["shapes"] if s.get("track")]
    assert keys == [(0, False), (4, False), (5, True), (8, False), (9, False)]
    (own,) = [s for fr in ann["frames"] for s in fr["shapes"] if not s.get("track")]
    assert own["label"] == "class 2" and own["points"] == [[300, 100], [320, 120]]


def get_sample_annotation(store, job_id, sid):
    from store.samples import get_sample

    return get_sample(store, job_id, sid).annotation


def test_tracks_files_naming_server_files_register_nothing(store, tmp_path):
    """A hostile CVAT or MOT file whose video is a server file (/etc/passwd, the app's DuckDB
    file, a path climbing out): nothing is registered, each is refused with a reason."""
    db = str(next(store.settings.data_dir.glob("*.duckdb")))
    job = create_job(store, "hostile", "video_labeling", label_set=LabelSet(labels=[Label("car")]))
    for source in ("/etc/passwd", db, "../../../../../../etc/passwd"):
        xml = tmp_path / "cvat.xml"
        xml.write_text(f'<annotations><meta><source>{source}</source></meta><track id="0" label="car">'
                       '<box frame="0" keyframe="1" outside="0" occluded="0" xtl="1" ytl="1" xbr="5" ybr="5"/>'
                       '</track></annotations>', encoding="utf-8")
        seq = tmp_path / "mot" / "s"
        (seq / "gt").mkdir(parents=True, exist_ok=True)
        (seq / "gt" / "gt.txt").write_text("1,1,1,1,4,4,1,1,1\n", encoding="utf-8")
        (seq / "seqinfo.ini").write_text(f"[Sequence]\nname=s\nlabelport_source={source}\n", encoding="utf-8")
        for fmt, path in (("cvat", xml), ("mot", tmp_path / "mot")):
            try:
                rec = import_format(store, job.id, fmt, str(path))
            except ValidationError as e:  # refused as a whole
                assert "passwd" in str(e) or "duckdb" in str(e) or "refused" in str(e), (fmt, source, e)
                continue
            assert rec.imported == 0 and rec.errors, (fmt, source, rec)
    assert store.db.scalar("SELECT count(*) FROM samples") == 0


def test_the_label_list_groups_keyframes_by_track_then_shapes_by_frame():
    from pages.labeling.video import label_list

    ann = validate([{"frame": 5, "shapes": [rect(0, 0, 9, 9, "person"), rect(0, 0, 10, 10, track="late")]},
                    {"frame": 2, "shapes": [rect(1, 1, 5, 5, track="early")]},
                    {"frame": 8, "shapes": [rect(1, 1, 6, 6, track="early"), rect(2, 2, 9, 9, "person")]},
                    {"frame": 9, "shapes": [rect(0, 0, 12, 12, track="late")]}])
    rows = label_list(ann)[["Frame", "Track", "Kind"]].values.tolist()
    assert rows == [[2, "early", "keyframe"], [8, "early", "keyframe"], [5, "late", "keyframe"],
                    [9, "late", "keyframe"], [5, "", "shape"], [8, "", "shape"]]
