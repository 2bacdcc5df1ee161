"""Formats of object detection and image segmentation (SPEC F7.1, F7.1b, F7.2, F8.2): coco, voc,
yolo, manifest. Round trips on the real cell polygons (../shared/data/cells), every shape type,
and bad input reported per annotation with nothing half-saved."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from store.errors import ValidationError
from store.exports import export_job
from store.formats import FORMATS, formats_for
from store.formats.common import iter_job_samples
from store.imports import import_format, list_imports
from store.labelset import Label, LabelSet
from store.samples import status_counts
from tests.factories import new_job, table_count, write_image

DET, SEG = "object_detection", "image_segmentation"


def cells_json(shared_data):
    return shared_data / "cells" / "cells_coco_polygons.json"


def shapes_by_name(store, job_id, stems: bool = False) -> dict[str, list[dict]]:
    """{file name: shapes}; `stems`: by name without its extension (VOC's images come back as JPEG)."""
    return {(s.name.rsplit(".", 1)[0] if stems else s.name): (s.annotation or {}).get("shapes", [])
            for s in iter_job_samples(store, job_id)}


def bbox(shape):
    if shape["type"] == "circle":
        (cx, cy), r = shape["points"][0], shape["radius"]
        return [[cx - r, cy - r], [cx + r, cy + r]]
    xs, ys = [p[0] for p in shape["points"]], [p[1] for p in shape["points"]]
    return [[min(xs), min(ys)], [max(xs), max(ys)]]


def assert_same_shapes(want: dict, got: dict, boxes_only: bool = False, tol: float = 0.5):
    """Shape by shape, in order: type, label, attributes, every point within `tol` pixels."""
    if boxes_only:  # yolo: each shape as its bounding box; shapes of no area are not exported
        want = {k: [{"type": "rectangle", "label": s["label"], "points": bbox(s)} for s in v
                    if bbox(s)[1][0] > bbox(s)[0][0] and bbox(s)[1][1] > bbox(s)[0][1]] for k, v in want.items()}
        want = {k: v for k, v in want.items() if v}
    assert {k for k, v in got.items() if v} == {k for k, v in want.items() if v}
    for name, shapes in want.items():
        if not shapes:
            continue
        back = got[name]
        assert len(back) == len(shapes), name
        for a, b in zip(shapes, back):
            assert (a["type"], a["label"]) == (b["type"], b["label"]), name
            if not boxes_only:
                assert a.get("attributes") == b.get("attributes"), name
            assert len(a["points"]) == len(b["points"]), (name, a["type"])
            for p, q in zip(a["points"], b["points"]):
                assert abs(p[0] - q[0]) <= tol and abs(p[1] - q[1]) <= tol, (name, p, q)
            assert abs(a.get("radius", 0) - b.get("radius", 0)) <= tol


def out_path(tmp_path, fmt: str):
    return tmp_path / f"out_{fmt}" / {"coco": "cells.json", "manifest": "cells.manifest"}.get(fmt, "dataset")


def test_shape_formats_are_registered_with_examples():
    assert set(formats_for(DET, "read")) >= {"coco", "voc", "yolo", "manifest"}
    assert set(formats_for(DET, "write")) >= {"coco", "voc", "yolo", "manifest"}
    assert set(formats_for(SEG, "read")) >= {"coco", "manifest"}
    assert set(formats_for(SEG, "write")) >= {"coco", "manifest"}
    assert "image_classification" in FORMATS["manifest"].readers  # still there
    for fid, name in (("coco", "coco.json"), ("voc", "voc.xml"), ("yolo", "yolo.txt")):
        assert FORMATS[fid].example == name and FORMATS[fid].example_text().strip()
    json.loads(FORMATS["coco"].example_text())


# -- the real cells: coco in, every format out and back --------------------------------------------

@pytest.mark.parametrize("type_id", [SEG, DET])
def test_cells_coco_import_matches_the_file(store, shared_data, type_id):
    src = json.loads(cells_json(shared_data).read_text())
    job = new_job(store, "cells", labels=("cell",), type_id=type_id)
    rec = import_format(store, job.id, "coco", str(cells_json(shared_data)))
    assert (rec.status, rec.found, rec.imported, rec.labeled, rec.errors) == ("succeeded", 10, 10, 10, [])
    got = shapes_by_name(store, job.id)
    files = {img["id"]: img["file_name"].rsplit("/", 1)[-1] for img in src["images"]}
    want: dict[str, list] = {}
    for ann in src["annotations"]:
        flat = ann["segmentation"][0]
        want.setdefault(files[ann["image_id"]], []).append(
            {"type": "polygon", "label": "cell", "points": [[flat[i], flat[i + 1]] for i in range(0, len(flat), 2)]})
    assert sum(map(len, got.values())) == len(src["annotations"]) == 1252
    assert_same_shapes(want, got, tol=0.001)
    # the import's file check gave each sample its size: shapes were checked against 512x512
    assert all(s.meta["width"] == 512 and s.meta["height"] == 512 for s in iter_job_samples(store, job.id))


ROUND_TRIPS = [(SEG, "coco"), (SEG, "manifest"), (SEG, "yolo"), (DET, "coco"), (DET, "voc"), (DET, "yolo"),
               (DET, "manifest")]


@pytest.mark.parametrize("type_id,fmt", ROUND_TRIPS)
def test_cells_round_trip(store, shared_data, tmp_path, type_id, fmt):
    job = new_job(store, "cells", labels=("cell",), type_id=type_id)
    import_format(store, job.id, "coco", str(cells_json(shared_data)))
    out = out_path(tmp_path, fmt)
    res = export_job(store, job.id, fmt, out)
    assert res.samples == 10
    back = new_job(store, "back", labels=("cell",), type_id=type_id)
    rec = import_format(store, back.id, fmt, str(out))
    assert (rec.status, rec.imported, rec.labeled, rec.errors) == ("succeeded", 10, 10, [])
    voc = fmt == "voc"
    assert_same_shapes(shapes_by_name(store, job.id, voc), shapes_by_name(store, back.id, voc),
                       boxes_only=fmt == "yolo" and type_id == DET)


def test_export_layouts(store, shared_data, tmp_path):
    job = new_job(store, "cells", labels=("cell",), type_id=DET)
    import_format(store, job.id, "coco", str(cells_json(shared_data)))
    export_job(store, job.id, "coco", tmp_path / "c" / "cells.json")
    doc = json.loads((tmp_path / "c" / "cells.json").read_text())
    assert doc["categories"] == [{"id": 1, "name": "cell"}]
    assert {i["width"] for i in doc["images"]} == {512} and (tmp_path / "c" / doc["images"][0]["file_name"]).is_file()
    a = doc["annotations"][0]
    assert a["iscrowd"] == 0 and len(a["bbox"]) == 4 and a["area"] > 0 and len(a["segmentation"][0]) >= 6
    # the source's bbox and area are written back (measured on its masks, not on the polygon's vertices)
    src = json.loads(cells_json(shared_data).read_text())
    key = lambda x: (tuple(round(v, 3) for v in x["bbox"]), round(x["area"], 3))  # noqa: E731
    assert sorted(map(key, doc["annotations"])) == sorted(map(key, src["annotations"]))
    # the same export again over the same file: refused, the file stays (an export never overwrites)
    with pytest.raises(ValidationError, match="never overwrites"):
        export_job(store, job.id, "coco", tmp_path / "c" / "cells.json")
    assert json.loads((tmp_path / "c" / "cells.json").read_text()) == doc

    export_job(store, job.id, "voc", tmp_path / "v")
    assert len(list((tmp_path / "v" / "Annotations").glob("*.xml"))) == 10
    assert len(list((tmp_path / "v" / "JPEGImages").glob("*.jpg"))) == 10

    export_job(store, job.id, "yolo", tmp_path / "y")
    assert (tmp_path / "y" / "classes.txt").read_text() == "cell\n"
    assert "names: [\"cell\"]" in (tmp_path / "y" / "data.yaml").read_text()
    line = (tmp_path / "y" / "labels" / "train" / "0.txt").read_text().splitlines()[0].split()
    assert line[0] == "0" and all(0 <= float(v) <= 1 for v in line[1:])

    export_job(store, job.id, "manifest", tmp_path / "m" / "cells.manifest")
    rows = [json.loads(ln) for ln in (tmp_path / "m" / "cells.manifest").read_text().splitlines()]
    ann = rows[0]["annotation"][0]
    assert (ann["type"], ann["annotation-format"]) == ("modelarts/object_detection", "PASCAL VOC")
    assert ann["annotation-loc"].startswith("cells_annotations/")  # relative to the manifest

    seg = new_job(store, "seg", labels=("cell",), type_id=SEG)
    import_format(store, seg.id, "coco", str(cells_json(shared_data)))
    export_job(store, seg.id, "manifest", tmp_path / "s.manifest")
    row = json.loads((tmp_path / "s.manifest").read_text().splitlines()[0])
    prop = row["annotation"][0]["property"]
    assert row["annotation"][0]["type"] == "modelarts/image_segmentation" and prop["@modelarts:shape"] == "polygon"


# -- every shape type ---------------------------------------------------------------------------

ALL_SHAPES_XML = """<annotation>
  <filename>scene.png</filename>
  <size><width>64</width><height>48</height></size>
  <object><name>car</name><BndBox><XMin>1.5</XMin><YMin>2</YMin><XMax>30.25</XMax><YMax>20</YMax></BndBox>
    <attributes><attribute><name>color</name><value>red</value></attribute></attributes></object>
  <object><name>car</name><polygon><x1>10</x1><y1>10</y1><x2>40</x2><y2>12</y2><x3>25</x3><y3>40</y3></polygon></object>
  <object><name>ball</name><circle><cx>50</cx><cy>30</cy><r>8.5</r></circle></object>
  <object><name>lane</name><line><x1>0</x1><y1>47</y1><x2>63</x2><y2>40</y2><x3>60</x3><y3>20</y3></line></object>
  <object><name>lane</name><dashed><x1>0</x1><y1>30</y1><x2>63</x2><y2>30</y2></dashed></object>
  <object><name>nose</name><point><x1>12</x1><y1>13</y1></point></object>
  <object><name>car</name><polygon><pt><x>1</x><y>1</y></pt><pt><x>9</x><y>1</y></pt><pt><x>5</x><y>9</y></pt></polygon></object>
</annotation>"""


def all_shapes_job(store, tmp_path, name="shapes"):
    labels = LabelSet([Label("car", attributes={"color": ["red", "blue"]}), Label("ball"), Label("lane"), Label("nose")])
    from store.jobs import create_job

    job = create_job(store, name, DET, label_set=labels)
    folder = tmp_path / "src"
    write_image(folder / "scene.png", size=(64, 48))
    (folder / "scene.xml").write_text(ALL_SHAPES_XML, encoding="utf-8")
    write_image(folder / "empty.png", seed=2, size=(64, 48))  # no XML: imported unlabeled
    rec = import_format(store, job.id, "voc", str(folder))
    assert (rec.status, rec.found, rec.imported, rec.labeled, rec.errors) == ("succeeded", 2, 2, 1, [])
    return job, labels


def test_voc_reads_every_shape_type(store, tmp_path):
    job, _ = all_shapes_job(store, tmp_path)
    shapes = shapes_by_name(store, job.id)["scene.png"]
    assert [s["type"] for s in shapes] == ["rectangle", "polygon", "circle", "line", "dashed_line", "point", "polygon"]
    # VOC's bndbox is 1-based (xmin 1.5 is 0.5 in the store's pixels; xmax is the last pixel, as is)
    assert shapes[0]["points"] == [[0.5, 1.0], [30.25, 20.0]] and shapes[0]["attributes"] == {"color": "red"}
    assert shapes[2]["radius"] == 8.5 and shapes[5]["points"] == [[12.0, 13.0]]
    assert shapes[6]["points"] == [[1, 1], [9, 1], [5, 9]]
    assert status_counts(store, job.id)["unlabeled"] == 1


@pytest.mark.parametrize("fmt", ["coco", "voc", "manifest", "yolo"])
def test_every_shape_type_round_trip(store, tmp_path, fmt):
    job, labels = all_shapes_job(store, tmp_path)
    out = out_path(tmp_path, fmt)
    assert export_job(store, job.id, fmt, out).samples == (2 if fmt == "manifest" else 1)
    from store.jobs import create_job

    back = create_job(store, "back", DET, label_set=labels)
    rec = import_format(store, back.id, fmt, str(out))
    assert rec.errors == [] and rec.labeled == 1
    voc = fmt == "voc"
    assert_same_shapes(shapes_by_name(store, job.id, voc), shapes_by_name(store, back.id, voc), boxes_only=fmt == "yolo")


def test_coco_export_of_circles_lines_points_for_other_tools(store, tmp_path):
    job, _ = all_shapes_job(store, tmp_path)
    export_job(store, job.id, "coco", tmp_path / "c.json")
    anns = json.loads((tmp_path / "c.json").read_text())["annotations"]
    circle, line, point = anns[2], anns[3], anns[5]
    assert circle["bbox"] == [41.5, 21.5, 17, 17] and len(circle["segmentation"][0]) == 64
    assert circle["labelport_shape"] == {"type": "circle", "points": [[50, 30]], "radius": 8.5}
    assert line["bbox"] == [0, 20, 63, 27] and line["segmentation"] == [] and line["area"] == 0
    assert point["bbox"] == [12, 13, 0, 0]
    assert anns[0]["attributes"] == {"color": "red"}


def test_segmentation_job_takes_only_polygons_from_voc_in_a_manifest(store, tmp_path):
    write_image(tmp_path / "scene.png", size=(64, 48))
    (tmp_path / "scene.xml").write_text(ALL_SHAPES_XML, encoding="utf-8")
    (tmp_path / "m.manifest").write_text(json.dumps({"source": "scene.png", "annotation": [
        {"type": "modelarts/image_segmentation", "annotation-loc": "scene.xml", "annotation-format": "PASCAL VOC"}]}))
    job = new_job(store, "seg", labels=("car",), type_id=SEG)
    rec = import_format(store, job.id, "manifest", str(tmp_path / "m.manifest"))
    assert rec.labeled == 0 and rec.imported == 1
    assert any("object 1 ('car'): a rectangle cannot be imported into an image segmentation job" in e
               for e in rec.errors)
    assert rec.errors[-1] == ("scene.png: imported without labels (5 refused above; its 2 other shape(s) are not "
                              "saved alone); fix the file and import it again")


# -- bad input ----------------------------------------------------------------------------------

def test_voc_missing_fields_and_typos(store, tmp_path):
    folder = tmp_path / "voc"
    write_image(folder / "JPEGImages" / "good.png", size=(40, 30))
    write_image(folder / "JPEGImages" / "bad.png", seed=1, size=(40, 30))
    write_image(folder / "SegmentationClass" / "good.png", seed=3, size=(40, 30))  # a mask: not a sample
    (folder / "Annotations").mkdir()
    (folder / "Annotations" / "good.xml").write_text(  # tag case typos, floats, no <size>, no <filename>
        "<Annotation><OBJECT><Name>cat</Name><bndBox><xmin>1.5</xmin><YMIN>2</YMIN><XMax>10</XMax>"
        "<ymax>12.75</ymax></bndBox><Difficult>0</Difficult></OBJECT></Annotation>", encoding="utf-8")
    (folder / "Annotations" / "bad.xml").write_text(
        "<annotation><filename>bad.png</filename><size><width>40</width><height>30</height></size>"
        "<object><name>cat</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>10</xmax></bndbox></object>"
        "<object><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>10</xmax><ymax>9</ymax></bndbox></object>"
        "<object><name>dog</name><bndbx><xmin>1</xmin></bndbx></object>"
        "<object><name>dog</name><bndbox><xmin>1</xmin><ymin>a</ymin><xmax>10</xmax><ymax>9</ymax></bndbox></object>"
        "<object><name>dog</name><polygon><x1>1</x1><y1>1</y1><x2>5</x2><y2>5</y2><x3>3</x3></polygon></object>"
        "<object><name>dog</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>50</xmax><ymax>9</ymax></bndbox></object>"
        "<object><name>dog</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>5</xmax><ymax>9</ymax></bndbox></object>"
        "</annotation>", encoding="utf-8")
    (folder / "Annotations" / "orphan.xml").write_text("<annotation><filename>nope.png</filename></annotation>")
    job = new_job(store, "voc", labels=(), type_id=DET)
    rec = import_format(store, job.id, "voc", str(folder))
    assert (rec.status, rec.found, rec.imported, rec.labeled) == ("partial", 3, 2, 1)
    assert rec.errors == [
        "Annotations/bad.xml: object 1: 'cat': <bndbox> lacks <ymax>",
        "Annotations/bad.xml: object 2: no <name> (the label)",
        "Annotations/bad.xml: object 3: 'dog' has no shape: none of <bndbox>, <polygon>, <circle>, <line>, "
        "<dashed>, <point>",
        "Annotations/bad.xml: object 4: 'dog': <bndbox> <ymin> is not a number: 'a'",
        "Annotations/bad.xml: object 5: 'dog': <polygon> has <x3> but lacks <y3>",
        "Annotations/bad.xml: object 6 ('dog'): rectangle lies outside the image (40x30): point (50, 9); "
        "shapes must lie within the image",
        "Annotations/orphan.xml: its image (nope.png) was not found in JPEGImages/ or images/ beside "
        "Annotations/; its objects were not imported",
        "JPEGImages/bad.png: imported without labels (6 refused above; its 1 other shape(s) are not saved alone); "
        "fix the file and import it again",
    ]
    got = shapes_by_name(store, job.id)
    assert got == {"good.png": [{"id": "s1", "type": "rectangle", "label": "cat", "points": [[0.5, 1.0], [10.0, 12.75]]}],
                   "bad.png": []}  # nothing of bad.png is saved, not even its one good box
    assert list_imports(store, job.id)[0].errors == rec.errors


def test_voc_broken_xml_and_dtd(store, tmp_path):
    write_image(tmp_path / "a.png")
    (tmp_path / "a.xml").write_text("<annotation><object>", encoding="utf-8")
    write_image(tmp_path / "b.png", seed=1)
    (tmp_path / "b.xml").write_text('<!DOCTYPE x [<!ENTITY e "x">]><annotation>&e;</annotation>')
    job = new_job(store, "voc", labels=(), type_id=DET)
    rec = import_format(store, job.id, "voc", str(tmp_path))
    assert rec.labeled == 0 and rec.imported == 2
    assert rec.errors[0].startswith("a.xml: not valid XML")
    assert rec.errors[1] == "b.xml: XML with a DTD or entities is not read (annotation files need neither)"


def rle_counts(mask) -> list[int]:
    """COCO's uncompressed RLE of a mask: run lengths in column-major order, zeros first."""
    flat = mask.flatten(order="F").tolist()
    counts, current, run = [], 0, 0
    for v in flat:
        if v != current:
            counts.append(run)
            current, run = v, 0
        run += 1
    counts.append(run)
    return counts


def block_rle(h=30, w=40, box=(2, 2, 8, 8)):
    import numpy as np

    mask = np.zeros((h, w), dtype=np.uint8)
    x1, y1, x2, y2 = box
    mask[y1:y2, x1:x2] = 1
    return {"counts": rle_counts(mask), "size": [h, w]}


def bad_coco(tmp_path, size=(40, 30)):
    for i in range(3):
        write_image(tmp_path / "images" / f"{i}.png", seed=i, size=(40, 30))
    doc = {"images": [{"id": i, "file_name": f"{i}.png", "width": size[0], "height": size[1]} for i in range(3)],
           "categories": [{"id": 1, "name": "cell"}],
           "annotations": [
               {"id": 1, "image_id": 0, "category_id": 1, "bbox": [1, 1, 5, 5]},                         # good
               {"id": 2, "image_id": 7, "category_id": 1, "bbox": [1, 1, 5, 5]},                         # unknown image
               {"id": 3, "image_id": 1, "category_id": 1, "bbox": [10, 10, -4, 5]},                      # negative size
               {"id": 4, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 5, 5]], "bbox": [1, 1, 4, 4]},  # 2 points
               {"id": 5, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 60, 5, 3, 9]]},        # outside
               {"id": 6, "image_id": 1, "category_id": 9, "bbox": [1, 1, 5, 5]},                         # unknown category
               {"id": 7, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]},                         # good
               {"id": 8, "image_id": 2, "category_id": 1, "segmentation": block_rle(), "bbox": [2, 2, 6, 6],
                "area": 36, "iscrowd": 1},                                                                # RLE
           ]}
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    return tmp_path / "bad.json"


def test_coco_bad_annotations_detection(store, tmp_path):
    job = new_job(store, "coco", labels=(), type_id=DET)
    rec = import_format(store, job.id, "coco", str(bad_coco(tmp_path)))
    assert (rec.status, rec.found, rec.imported, rec.labeled) == ("partial", 3, 3, 2)
    assert rec.errors == [
        "annotation 2: unknown image id 7",
        "annotation 3 (image 1, 1.png): the box has a negative size (width -4, height 5)",
        "annotation 4 (image 1, 1.png): a polygon of 2 point(s): a polygon needs at least 3",
        "annotation 5 (image 1, 1.png): polygon lies outside the image (40x30): point (60, 5); "
        "shapes must lie within the image",
        "annotation 6 (image 1, 1.png): unknown category id 9",
        "1.png: imported without labels (4 refused above; its 1 other shape(s) are not saved alone); fix the file "
        "and import it again",
    ]
    got = shapes_by_name(store, job.id)
    assert [s["points"] for s in got["0.png"]] == [[[1, 1], [6, 6]]]
    assert got["1.png"] == []  # its good box (annotation 7) is not saved alone
    # an RLE mask is traced into a polygon, which keeps the source's bbox, area and iscrowd
    (traced,) = got["2.png"]
    assert traced["type"] == "polygon" and sorted(map(tuple, traced["points"])) == [(2, 2), (2, 7), (7, 2), (7, 7)]
    assert {k: traced["coco"][k] for k in ("bbox", "area", "iscrowd", "ann")} == {
        "bbox": [2, 2, 6, 6], "area": 36, "iscrowd": 1, "ann": 8}
    # and is written back as an RLE that pycocotools decodes to the same mask
    from pycocotools import mask as mask_utils

    out = tmp_path / "out" / "back.json"
    export_job(store, job.id, "coco", out)
    doc = json.loads(out.read_text())
    (crowd,) = [a for a in doc["annotations"] if a["iscrowd"] == 1]
    assert crowd["bbox"] == [2, 2, 6, 6] and crowd["area"] == 36 and isinstance(crowd["segmentation"]["counts"], str)
    src = mask_utils.frPyObjects(block_rle(), 30, 40)
    back = {"size": crowd["segmentation"]["size"], "counts": crowd["segmentation"]["counts"].encode()}
    assert mask_utils.iou([back], [src], [0])[0][0] > 0.6  # a 5x5 trace of the 6x6 block's pixel centres


def test_a_bad_rle_mask_is_refused_with_a_reason(store, tmp_path):
    path = bad_coco(tmp_path)
    doc = json.loads(path.read_text())
    doc["annotations"] = [{"id": 1, "image_id": 2, "category_id": 1, "bbox": [1, 1, 5, 5], "area": 25,
                           "segmentation": {"counts": "abc", "size": [30, 40]}}]
    path.write_text(json.dumps(doc))
    rec = import_format(store, new_job(store, "coco", labels=(), type_id=DET).id, "coco", str(path))
    assert "annotation 1 (image 2, 2.png): the RLE mask cannot be decoded: its counts do not make a 30x40 mask" \
        in rec.errors


def test_coco_rle_traced_and_boxes_refused_for_segmentation(store, tmp_path):
    job = new_job(store, "coco", labels=(), type_id=SEG)
    rec = import_format(store, job.id, "coco", str(bad_coco(tmp_path)))
    assert rec.labeled == 1 and [s["type"] for s in shapes_by_name(store, job.id)["2.png"]] == ["polygon"]
    assert "annotation 1 (image 0, 0.png): has no polygon segmentation (only a bbox): image segmentation holds " \
           "polygons" in rec.errors


def test_shapes_outside_the_real_image_are_refused_at_import(store, tmp_path):
    """The file says 400x300 but the image is 40x30: the import's file check measures it."""
    path = bad_coco(tmp_path, size=(400, 300))
    doc = json.loads(path.read_text())
    doc["annotations"] = [{"id": 1, "image_id": 0, "category_id": 1, "bbox": [1, 1, 5, 5]},
                          {"id": 2, "image_id": 0, "category_id": 1, "bbox": [30, 20, 100, 5]},
                          {"id": 3, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}]
    path.write_text(json.dumps(doc))
    job = new_job(store, "coco", labels=(), type_id=DET)
    rec = import_format(store, job.id, "coco", str(path))
    assert (rec.status, rec.imported, rec.labeled) == ("partial", 3, 1)
    assert rec.errors == ["0.png: shape 2 (rectangle) lies outside the image (40x30): point (130, 25); "
                          "shapes must lie within the image"]
    got = shapes_by_name(store, job.id)
    assert got["0.png"] == [] and len(got["1.png"]) == 1


def test_coco_unreadable_file_fails_and_saves_nothing(store, tmp_path):
    (tmp_path / "x.json").write_text("{not json")
    job = new_job(store, "coco", labels=(), type_id=DET)
    with pytest.raises(ValidationError, match="not valid JSON"):
        import_format(store, job.id, "coco", str(tmp_path / "x.json"))
    (tmp_path / "y.json").write_text("[]")
    with pytest.raises(ValidationError, match="not a COCO file"):
        import_format(store, job.id, "coco", str(tmp_path / "y.json"))
    assert table_count(store, "samples") == 0
    assert [r.status for r in list_imports(store, job.id)] == ["failed", "failed"]


def test_coco_file_names_relative_to_json_or_images_folder(store, tmp_path):
    write_image(tmp_path / "sub" / "a.png")
    write_image(tmp_path / "images" / "b.png", seed=1)
    doc = {"images": [{"id": 1, "file_name": "sub/a.png"}, {"id": 2, "file_name": "b.png"},
                      {"id": 3, "file_name": "missing.png"}],
           "categories": [{"id": 1, "name": "x"}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]},
                           {"id": 2, "image_id": 2, "category_id": 1, "bbox": [1, 1, 2, 2]},
                           {"id": 3, "image_id": 3, "category_id": 1, "bbox": [1, 1, 2, 2]}]}
    (tmp_path / "c.json").write_text(json.dumps(doc))
    job = new_job(store, "coco", labels=(), type_id=DET)
    rec = import_format(store, job.id, "coco", str(tmp_path / "c.json"))
    assert (rec.found, rec.imported, rec.labeled) == (3, 2, 2)
    assert rec.errors == ["image 3 (missing.png): file not found beside the JSON or in images/ beside it; "
                          "its annotations were skipped"]


def yolo_folder(tmp_path):
    folder = tmp_path / "yolo"
    for name in ("a", "b", "c"):
        write_image(folder / "images" / f"{name}.png", size=(100, 50))
    (folder / "labels").mkdir()
    (folder / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n1 0.25 0.5 0.1 0.4\n")
    (folder / "labels" / "b.txt").write_text("0 0.5 0.5 0.2\n0 0.5 1.5 0.2 0.2\n5 0.5 0.5 0.2 0.2\n"
                                              "0 0.95 0.5 0.2 0.2\nx 0.5 0.5 0.2 0.2\n0 0.5 0.5 0.2 0.2\n")
    (folder / "labels" / "d.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    return folder


def test_yolo_import_and_bad_lines(store, tmp_path):
    folder = yolo_folder(tmp_path)
    (folder / "data.yaml").write_text("path: .\nnames:\n  0: cat\n  1: dog\n")
    job = new_job(store, "yolo", labels=(), type_id=DET)
    rec = import_format(store, job.id, "yolo", str(folder))
    assert (rec.found, rec.imported, rec.labeled) == (4, 3, 1)
    assert rec.errors == [
        "labels/b.txt line 1: 4 fields: a YOLO box line is `class cx cy w h` (5 fields)",
        "labels/b.txt line 2: value 1.5 is outside 0..1 (YOLO coordinates are normalized by the image size)",
        "labels/b.txt line 3: class 5 is not an index of the 2 class names (0..1)",
        "labels/b.txt line 4: rectangle lies outside the image (100x50): point (105, 30); "
        "shapes must lie within the image",
        "labels/b.txt line 5: the class 'x' is not an index of the class names",
        "labels/d.txt: no image of that name in images/; its boxes were not imported",
        "images/b.png: imported without labels (5 refused above; its 1 other shape(s) are not saved alone); fix "
        "the file and import it again",
    ]
    got = shapes_by_name(store, job.id)
    assert got["a.png"] == [{"id": "s1", "type": "rectangle", "label": "cat", "points": [[40, 20], [60, 30]]},
                            {"id": "s2", "type": "rectangle", "label": "dog", "points": [[20, 15], [30, 35]]}]
    assert got["b.png"] == got["c.png"] == []


def test_yolo_needs_class_names(store, tmp_path):
    folder = yolo_folder(tmp_path)
    job = new_job(store, "yolo", labels=(), type_id=DET)
    with pytest.raises(ValidationError, match="no class names: put classes.txt"):
        import_format(store, job.id, "yolo", str(folder))
    assert table_count(store, "samples") == 0 and list_imports(store, job.id)[0].status == "failed"
    (folder / "classes.txt").write_text("cat\ndog\n")
    assert import_format(store, job.id, "yolo", str(folder)).labeled == 1


def test_manifest_inline_shapes_and_missing_voc_file(store, tmp_path):
    write_image(tmp_path / "a.png", size=(40, 30))
    write_image(tmp_path / "b.png", seed=1, size=(40, 30))
    write_image(tmp_path / "c.png", seed=2, size=(40, 30))
    lines = [
        {"source": "a.png", "annotation": [
            {"type": "modelarts/object_detection", "name": "cat",
             "property": {"@modelarts:shape": "bndbox", "@modelarts:feature": [[1, 2], [10, 12]]}},
            {"type": "modelarts/object_detection", "name": "dog",
             "property": {"@modelarts:shape": "polygon", "@modelarts:feature": [1, 1, 9, 1, 5, 9]}},
            {"type": "modelarts/object_detection", "name": "ball",
             "property": {"@modelarts:shape": "circle", "@modelarts:feature": [[20, 15, 4]]}}]},
        {"source": "b.png", "annotation": [{"type": "modelarts/object_detection", "annotation-loc": "nope/b.xml",
                                            "annotation-format": "PASCAL VOC"}]},
        {"source": "c.png", "annotation": [{"type": "modelarts/image_classification", "name": "cat"}]},
    ]
    (tmp_path / "m.manifest").write_text("".join(json.dumps(x) + "\n" for x in lines))
    job = new_job(store, "man", labels=(), type_id=DET)
    rec = import_format(store, job.id, "manifest", str(tmp_path / "m.manifest"))
    assert (rec.found, rec.imported, rec.labeled) == (3, 3, 1)
    assert rec.errors[0] == f"line 2 annotation 1: annotation-loc nope/b.xml: file not found ({tmp_path}/nope/b.xml)"
    assert rec.errors[1].startswith("line 3 annotation 1: type 'modelarts/image_classification' is not a shape")
    got = shapes_by_name(store, job.id)["a.png"]
    assert [s["type"] for s in got] == ["rectangle", "polygon", "circle"] and got[2]["radius"] == 4


def test_voc_single_xml_file(store, tmp_path):
    write_image(tmp_path / "scene.png", size=(64, 48))
    (tmp_path / "scene.xml").write_text(ALL_SHAPES_XML, encoding="utf-8")
    labels = LabelSet([Label("car", attributes={"color": ["red"]})])
    from store.jobs import create_job

    job = create_job(store, "one", DET, label_set=labels)
    rec = import_format(store, job.id, "voc", str(tmp_path / "scene.xml"))
    assert (rec.found, rec.imported, rec.labeled, rec.errors) == (1, 1, 1, [])
    assert len(shapes_by_name(store, job.id)["scene.png"]) == 7


def test_coco_export_does_not_overwrite_other_images(store, tmp_path):
    job, _ = all_shapes_job(store, tmp_path)
    (tmp_path / "out" / "images").mkdir(parents=True)
    write_image(tmp_path / "out" / "images" / "scene.png", seed=5)
    with pytest.raises(ValidationError, match="already exists and is another file"):
        export_job(store, job.id, "coco", tmp_path / "out" / "c.json")
    assert not (tmp_path / "out" / "c.json").exists()


def test_shape_formats_refuse_other_types(store, tmp_path, shared_data):
    job = new_job(store, "cls", labels=("cell",))
    with pytest.raises(ValidationError, match="format 'coco' cannot import image_classification jobs"):
        import_format(store, job.id, "coco", str(cells_json(shared_data)))
    seg = new_job(store, "seg", labels=("cell",), type_id=SEG)
    with pytest.raises(ValidationError, match="format 'voc' cannot export image_segmentation jobs"):
        export_job(store, seg.id, "voc", tmp_path / "y")
    shutil.rmtree(tmp_path / "y", ignore_errors=True)


# -- S3 ------------------------------------------------------------------------------------------

def test_coco_voc_yolo_read_from_s3(s3_store, s3_bucket, tmp_path):
    """file_name relative to the JSON's s3:// folder (or images/ beside it); VOC and YOLO folders on a prefix."""
    from tests.factories import image_bytes

    _, bucket, client = s3_bucket
    png = image_bytes(size=(40, 30))
    for key in ("d/images/a.png", "d/images/b.png", "v/Annotations/a.xml", "v/JPEGImages/a.png",
                "y/images/a.png", "y/labels/a.txt", "y/classes.txt"):
        body = png if key.endswith(".png") else b""
        if key.endswith(".xml"):
            body = (b"<annotation><object><name>cat</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax>"
                    b"<ymax>9</ymax></bndbox></object></annotation>")
        elif key.endswith("a.txt"):
            body = b"0 0.5 0.5 0.5 0.5\n"
        elif key.endswith("classes.txt"):
            body = b"cat\n"
        client.put_object(Bucket=bucket, Key=key, Body=body)
    doc = {"images": [{"id": 1, "file_name": "images/a.png", "width": 40, "height": 30},
                      {"id": 2, "file_name": "b.png", "width": 40, "height": 30}],
           "categories": [{"id": 3, "name": "cat"}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 3, "segmentation": [[1, 1, 9, 1, 5, 9]]},
                           {"id": 2, "image_id": 2, "category_id": 3, "segmentation": [[2, 2, 9, 2, 5, 9]]}]}
    client.put_object(Bucket=bucket, Key="d/cells.json", Body=json.dumps(doc).encode())
    seg = new_job(s3_store, "seg", labels=(), type_id=SEG)
    rec = import_format(s3_store, seg.id, "coco", f"s3://{bucket}/d/cells.json")
    assert (rec.status, rec.imported, rec.labeled) == ("succeeded", 2, 2), rec.errors
    assert {s.uri for s in iter_job_samples(s3_store, seg.id)} == {f"s3://{bucket}/d/images/a.png",
                                                                   f"s3://{bucket}/d/images/b.png"}
    det = new_job(s3_store, "det", labels=(), type_id=DET)
    assert import_format(s3_store, det.id, "voc", f"s3://{bucket}/v/").labeled == 1
    assert import_format(s3_store, det.id, "yolo", f"s3://{bucket}/y/").labeled == 1
    export_job(s3_store, det.id, "voc", tmp_path / "voc")  # the images are read back from S3
    assert len(list((tmp_path / "voc" / "JPEGImages").iterdir())) == 2


def coco_ap(gt_path, dt_doc, iou_type: str) -> float:
    """pycocotools' COCOeval AP of an export (as detections, score 1) against a ground truth file,
    images matched by file name."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_path))
        by_name = {im["file_name"].rsplit("/", 1)[-1]: im["id"] for im in gt.dataset["images"]}
        cat_ids = {c["name"]: c["id"] for c in gt.dataset["categories"]}
        names = {im["id"]: im["file_name"].rsplit("/", 1)[-1] for im in dt_doc["images"]}
        cats = {c["id"]: c["name"] for c in dt_doc["categories"]}
        dts = [{**a, "image_id": by_name[names[a["image_id"]]], "category_id": cat_ids[cats[a["category_id"]]],
                "score": 1.0} for a in dt_doc["annotations"]]
        for a in dts:
            a.pop("id", None)
        ev = COCOeval(gt, gt.loadRes(dts), iou_type)
        ev.params.maxDets = [1, 10, 1000]  # ~125 cells an image: COCO's default stops at 100
        ev.evaluate()
        ev.accumulate()
    precision = ev.eval["precision"][:, :, :, 0, -1]  # IoU 0.5:0.95, every recall, category; all areas, 1000 dets
    return float(precision[precision > -1].mean())


def test_coco_import_export_scores_ap_1_against_the_source(store, shared_data, tmp_path):
    """The cells' COCO ground truth, imported and exported again, read by pycocotools as
    detections: AP 1.0 for boxes and masks (the source's bbox and area are kept, not measured
    again on the polygon's vertices; segmentation jobs read and write COCO the same way)."""
    job = new_job(store, "cells", labels=("cell",), type_id=DET)
    import_format(store, job.id, "coco", str(cells_json(shared_data)))
    out = tmp_path / "out" / "cells.json"
    export_job(store, job.id, "coco", out)
    doc = json.loads(out.read_text())
    assert coco_ap(cells_json(shared_data), doc, "bbox") == pytest.approx(1.0)
    assert coco_ap(cells_json(shared_data), doc, "segm") == pytest.approx(1.0)


def test_coco_rectangles_have_a_mask_and_an_edited_shape_is_measured_again(store, tmp_path):
    from pycocotools.coco import COCO

    from store.annotations import set_annotation

    write_image(tmp_path / "images" / "a.png", seed=1, size=(40, 30))
    src = {"images": [{"id": 1, "file_name": "a.png", "width": 40, "height": 30}],
           "categories": [{"id": 1, "name": "cell"}],
           "annotations": [{"id": 5, "image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 8], "area": 80,
                            "iscrowd": 0, "segmentation": []},
                           {"id": 6, "image_id": 1, "category_id": 1, "bbox": [20, 10, 10, 10], "area": 61.0,
                            "iscrowd": 0, "segmentation": [[20, 10, 29, 10, 29, 19, 20, 19, 24, 14]]}]}
    (tmp_path / "src.json").write_text(json.dumps(src))
    job = new_job(store, "coco", labels=("cell",), type_id=DET)
    import_format(store, job.id, "coco", str(tmp_path / "src.json"))
    out = tmp_path / "o1" / "x.json"
    export_job(store, job.id, "coco", out)
    coco = COCO(str(out))
    rect, poly = coco.dataset["annotations"]
    assert rect["segmentation"] == [[2, 2, 12, 2, 12, 10, 2, 10]] and coco.annToMask(rect).sum() == 80
    assert poly["bbox"] == [20, 10, 10, 10] and poly["area"] == 61  # the source's, kept while unedited
    (s,) = iter_job_samples(store, job.id)
    shapes = s.annotation["shapes"]
    shapes[1]["points"] = [[x + 1, y] for x, y in shapes[1]["points"]]  # moved: measured again
    set_annotation(store, job.id, s.id, {"shapes": shapes})
    out = tmp_path / "o2" / "x.json"
    export_job(store, job.id, "coco", out)
    poly = json.loads(out.read_text())["annotations"][1]
    assert poly["bbox"] == [21, 10, 9, 9] and poly["area"] == pytest.approx(81 - 4.5 * 5 / 2 * 2 / 2, abs=20)


def voc_detection(root, image_set: str) -> list[tuple[str, tuple[int, int], list[tuple[str, list[float]]]]]:
    """What torchvision's VOCDetection and detectron2's VOC loader read: the ids of
    ImageSets/Main/<image_set>.txt, JPEGImages/<id>.jpg, and each object's name and
    obj.find("bndbox") (detectron2 subtracts 1 from xmin and ymin: the 1-based convention)."""
    import xml.etree.ElementTree as ET

    from PIL import Image

    out = []
    for line in (root / "ImageSets" / "Main" / f"{image_set}.txt").read_text().splitlines():
        with Image.open(root / "JPEGImages" / f"{line.strip()}.jpg") as im:
            assert im.format == "JPEG"
            size = im.size
        tree = ET.parse(root / "Annotations" / f"{line.strip()}.xml")
        objs = []
        for obj in tree.findall("object"):
            bb = obj.find("bndbox")
            box = [float(bb.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax")]
            objs.append((obj.find("name").text, [box[0] - 1, box[1] - 1, box[2], box[3]]))
        out.append((line.strip(), size, objs))
    return out


def test_voc_export_opens_as_torchvision_and_detectron2_read_it(store, shared_data, tmp_path):
    from store.types.shapes import shape_bbox

    job = new_job(store, "cells", labels=("cell",), type_id=DET)
    import_format(store, job.id, "coco", str(cells_json(shared_data)))
    out = tmp_path / "voc"
    export_job(store, job.id, "voc", out, split="train=0.8,val=0.2", seed=3)
    train, val = voc_detection(out, "train"), voc_detection(out, "val")
    assert len(train) == 8 and len(val) == 2 and not {i for i, _, _ in train} & {i for i, _, _ in val}
    assert sorted(i for i, _, _ in voc_detection(out, "trainval")) == sorted(i for i, _, _ in train + val)
    stored = shapes_by_name(store, job.id, stems=True)
    for image_id, size, objs in train + val:
        assert size == (512, 512)
        want = sorted([float(v) for v in shape_bbox(s)] for s in stored[image_id])
        assert sorted(box for _name, box in objs) == want  # the store's extents, back from 1-based
    first = (out / "Annotations" / f"{train[0][0]}.xml").read_text()
    assert "<segmented>0</segmented>" in first and "<xmin>0</xmin>" not in first
    # the same spec and seed: the same splits
    again = tmp_path / "voc2"
    export_job(store, job.id, "voc", again, split="train=0.8,val=0.2", seed=3)
    assert (again / "ImageSets" / "Main" / "val.txt").read_text() == (out / "ImageSets" / "Main" / "val.txt").read_text()


def test_every_voc_object_has_a_bndbox(store, tmp_path):
    job = new_job(store, "shapes", labels=("cat",), type_id=DET)
    write_image(tmp_path / "in" / "a.png", seed=1, size=(64, 48))
    from store.annotations import set_annotation
    from store.imports import import_location

    import_location(store, job.id, str(tmp_path / "in"))
    (s,) = iter_job_samples(store, job.id)
    set_annotation(store, job.id, s.id, {"shapes": [
        {"type": "polygon", "label": "cat", "points": [[1, 1], [20, 4], [9, 30]]},
        {"type": "circle", "label": "cat", "points": [[30, 20]], "radius": 5},
        {"type": "line", "label": "cat", "points": [[0, 0], [63, 47]]},
        {"type": "point", "label": "cat", "points": [[12, 13]]}]})
    export_job(store, job.id, "voc", tmp_path / "voc")
    ((_id, size, objs),) = voc_detection(tmp_path / "voc", "train")
    assert size == (64, 48)
    assert [box for _n, box in objs] == [[1, 1, 20, 30], [25, 15, 35, 25], [0, 0, 63, 47], [12, 13, 13, 14]]


def ultralytics_dataset(yaml_path, cwd):
    """ultralytics' resolution of a detection data.yaml (check_det_dataset, img2label_paths), from
    another working directory: `path` (relative: to the working directory), train / val relative
    to it, each image's label file the image path with /images/ -> /labels/ and the suffix .txt."""
    import os

    import yaml

    data = yaml.safe_load(yaml_path.read_text())
    old = os.getcwd()
    os.chdir(cwd)
    try:
        root = Path(data.get("path") or yaml_path.parent)
        root = root if root.is_absolute() else (Path.cwd() / root).resolve()
        out = {"names": data["names"], "nc": data["nc"]}
        for key in ("train", "val", "test"):
            if key not in data:
                continue
            folder = root / data[key]
            assert folder.is_dir(), f"{key}: {folder} does not exist (ultralytics: 'Dataset not found')"
            images = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
            sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
            out[key] = [(p, Path(sb.join(str(p).rsplit(sa, 1)).rsplit(".", 1)[0] + ".txt")) for p in images]
        return out
    finally:
        os.chdir(old)


@pytest.mark.parametrize("type_id", [DET, SEG])
def test_yolo_export_resolves_as_ultralytics_does_from_anywhere(store, shared_data, tmp_path, type_id):
    job = new_job(store, "cells", labels=("cell",), type_id=type_id)
    import_format(store, job.id, "coco", str(cells_json(shared_data)))
    out = tmp_path / "yolo"
    export_job(store, job.id, "yolo", out, split="train=0.7,val=0.2,test=0.1", seed=1)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ds = ultralytics_dataset(out / "data.yaml", elsewhere)
    assert ds["names"] == ["cell"] and ds["nc"] == 1
    assert [len(ds[k]) for k in ("train", "val", "test")] == [7, 2, 1]
    assert not {p.name for p, _ in ds["train"]} & {p.name for p, _ in ds["val"]}
    for _image, label in ds["train"] + ds["val"] + ds["test"]:
        rows = [ln.split() for ln in label.read_text().splitlines()]
        assert rows and all(r[0] == "0" for r in rows)
        assert all(len(r) == 5 for r in rows) if type_id == DET else all(len(r) >= 7 and len(r) % 2 for r in rows)
    # no split: train and val are the same folder (ultralytics needs a val)
    export_job(store, job.id, "yolo", tmp_path / "plain")
    ds = ultralytics_dataset(tmp_path / "plain" / "data.yaml", elsewhere)
    assert len(ds["train"]) == 10 and ds["val"] == ds["train"]


def test_cvat_for_images_both_ways(store, shared_data, tmp_path):
    """CVAT for images 1.1: the cells' polygons and every shape type out and back; the labels the
    XML defines come with their colors and attributes; a video XML is refused with a reason."""
    import xml.etree.ElementTree as ET

    from store.annotations import set_annotation
    from store.imports import import_location
    from store.jobs import create_job, get_job

    job = new_job(store, "cells", labels=("cell",), type_id=SEG)
    import_format(store, job.id, "coco", str(cells_json(shared_data)))
    out = tmp_path / "cvat"
    assert export_job(store, job.id, "cvat", out).samples == 10
    root = ET.parse(out / "annotations.xml").getroot()
    assert root.findtext("version") == "1.1" and root.findtext("meta/task/mode") == "annotation"
    assert len(root.findall("image")) == 10 and len(root.findall("image/polygon")) == 1252
    back = new_job(store, "back", labels=("cell",), type_id=SEG)
    rec = import_format(store, back.id, "cvat", str(out))
    assert (rec.status, rec.imported, rec.labeled, rec.errors) == ("succeeded", 10, 10, [])
    assert_same_shapes(shapes_by_name(store, job.id), shapes_by_name(store, back.id), tol=0.01)

    det = create_job(store, "det", DET, label_set=LabelSet(labels=[Label("cat", color="#aa0000", attributes={
        "pose": ["up", "down"]})]))
    write_image(tmp_path / "in" / "a.png", seed=1, size=(64, 48))
    import_location(store, det.id, str(tmp_path / "in"))
    (s,) = iter_job_samples(store, det.id)
    shapes = [{"type": "rectangle", "label": "cat", "points": [[1, 2], [30, 40]], "attributes": {"pose": "up"}},
              {"type": "polygon", "label": "cat", "points": [[1, 1], [20, 4], [9, 30]]},
              {"type": "circle", "label": "cat", "points": [[30, 20]], "radius": 5},
              {"type": "line", "label": "cat", "points": [[0, 0], [63, 47]]},
              {"type": "dashed_line", "label": "cat", "points": [[5, 5], [9, 9], [20, 3]]},
              {"type": "point", "label": "cat", "points": [[12, 13]]}]
    set_annotation(store, det.id, s.id, {"shapes": shapes})
    export_job(store, det.id, "cvat", tmp_path / "det")
    fresh = create_job(store, "fresh", DET, label_set=LabelSet(labels=[]))
    rec = import_format(store, fresh.id, "cvat", str(tmp_path / "det" / "annotations.xml"))
    assert (rec.labeled, rec.errors) == (1, [])
    assert_same_shapes(shapes_by_name(store, det.id), shapes_by_name(store, fresh.id), tol=0.01)
    (cat,) = get_job(store, fresh.id).label_set.labels
    assert (cat.color, cat.attributes) == ("#aa0000", {"pose": ["up", "down"]})

    video = tmp_path / "video.xml"
    video.write_text('<annotations><version>1.1</version><track id="0" label="cat"><box frame="0" xtl="1" '
                     'ytl="1" xbr="5" ybr="5"/></track></annotations>')
    with pytest.raises(ValidationError, match="a CVAT for video file"):
        import_format(store, fresh.id, "cvat", str(video))


def test_coco_writes_one_file_per_split(store, shared_data, tmp_path):
    job = new_job(store, "cells", labels=("cell",), type_id=DET)
    import_format(store, job.id, "coco", str(cells_json(shared_data)))
    out = tmp_path / "coco" / "cells.json"
    assert export_job(store, job.id, "coco", out, split="train=0.8,val=0.2", seed=2).samples == 10
    assert not out.exists()
    train = json.loads((out.parent / "cells_train.json").read_text())
    val = json.loads((out.parent / "cells_val.json").read_text())
    assert (len(train["images"]), len(val["images"])) == (8, 2)
    assert not {i["file_name"] for i in train["images"]} & {i["file_name"] for i in val["images"]}
    assert len(train["annotations"]) + len(val["annotations"]) == 1252
    assert all((out.parent / i["file_name"]).is_file() for i in train["images"] + val["images"])


def test_voc_masks_with_the_voc_palette(store, tmp_path):
    from PIL import Image

    from store.annotations import set_annotation
    from store.imports import import_location

    job = new_job(store, "m", labels=("cat", "dog"), type_id=DET)
    write_image(tmp_path / "in" / "a.png", seed=1, size=(64, 48))
    import_location(store, job.id, str(tmp_path / "in"))
    (s,) = iter_job_samples(store, job.id)
    set_annotation(store, job.id, s.id, {"shapes": [
        {"type": "rectangle", "label": "dog", "points": [[2, 2], [20, 20]]},
        {"type": "polygon", "label": "cat", "points": [[30, 5], [60, 5], [45, 40]]},
        {"type": "point", "label": "cat", "points": [[5, 40]]}]})
    out = tmp_path / "voc"
    export_job(store, job.id, "voc", out, masks=True)
    cls = Image.open(out / "SegmentationClass" / "a.png")
    obj = Image.open(out / "SegmentationObject" / "a.png")
    assert cls.mode == "P" and cls.size == (64, 48) and cls.getpalette()[:9] == [0, 0, 0, 128, 0, 0, 0, 128, 0]
    assert (cls.getpixel((10, 10)), cls.getpixel((45, 15)), cls.getpixel((5, 40)), cls.getpixel((63, 47))) == (2, 1, 0, 0)
    assert (obj.getpixel((10, 10)), obj.getpixel((45, 15))) == (1, 2)
    assert (cls.getpixel((19, 19)), cls.getpixel((20, 20))) == (2, 0)  # the box's last pixel is 19
    assert "<segmented>1</segmented>" in (out / "Annotations" / "a.xml").read_text()
    assert (out / "ImageSets" / "Segmentation" / "train.txt").read_text() == "a\n"
    plain = tmp_path / "plain"
    export_job(store, job.id, "voc", plain)
    assert not (plain / "SegmentationClass").exists()
