"""Text formats (SPEC F7.1, F7.2): conll, jsonl, csv, manifest; text datasets (F2.6); bad input."""
import csv
import json
from collections import Counter

import pytest

from store.exports import export_job
from store.imports import import_format, upload_files
from store.jobs import create_job, get_job, synchronize
from store.labelset import Label, LabelSet, Relation
from store.samples import sample_bytes
from store.texts import MAX_TEXT_CHARS

WNUT = ("wnut17train.conll", "emerging.dev.conll", "emerging.test.annotated")


def conll_sentences(path):
    """(token, tag) per sentence, read as a plain CoNLL reader would: a line of only whitespace
    (or a stray byte-order mark) ends a sentence."""
    out, cur = [], []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if not line.replace("\ufeff", "").strip():
            if cur:
                out.append(cur)
            cur = []
        else:
            tok, tag = line.split("\t")
            cur.append((tok, tag))
    return out + ([cur] if cur else [])


def all_samples(store, job_id):
    from store.formats.common import iter_job_samples

    return list(iter_job_samples(store, job_id))


@pytest.mark.parametrize("name", WNUT)
def test_wnut17_conll_round_trip_is_identical(store, shared_data, tmp_path, name):
    src = shared_data / "wnut17" / name
    job = create_job(store, "wnut", "named_entity_recognition")  # labels come from the data
    rec = import_format(store, job.id, "conll", str(src))
    want = conll_sentences(src)
    assert rec.imported == len(want) and rec.errors == [], rec.errors[:3]
    assert {lab.name for lab in get_job(store, job.id).label_set.labels} == {
        t[2:] for s in want for _, t in s if t != "O"}
    export_job(store, job.id, "conll", tmp_path / "out.conll")
    got = conll_sentences(tmp_path / "out.conll")
    assert len(got) == len(want)
    assert got == want  # token for token, tag for tag
    # and once more: the export imports to the same spans
    job2 = create_job(store, "wnut2", "named_entity_recognition")
    import_format(store, job2.id, "conll", str(tmp_path / "out.conll"))
    a, b = all_samples(store, job.id), all_samples(store, job2.id)
    assert [(s.text, s.annotation) for s in a] == [(s.text, s.annotation) for s in b]


def semeval(shared_data, n=None):
    lines = (shared_data / "semeval2010_task8" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[:n]]


def test_semeval_as_triplets_jsonl_round_trip(store, shared_data, tmp_path):
    rows = semeval(shared_data)
    with open(tmp_path / "tri.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            ents = [{"id": "E1", "start": r["e1"]["start"], "end": r["e1"]["end"], "label": "e1"},
                    {"id": "E2", "start": r["e2"]["start"], "end": r["e2"]["end"], "label": "e2"}]
            f.write(json.dumps({"text": r["text"], "entities": ents,
                                "relations": [{"id": "R1", "from": "E1", "to": "E2", "label": r["label"]}]}) + "\n")
    job = create_job(store, "tri", "text_triplet")  # entity and relation labels come from the data
    rec = import_format(store, job.id, "jsonl", str(tmp_path / "tri.jsonl"))
    assert (rec.imported, rec.labeled, rec.errors) == (len(rows), len(rows), [])
    ls = get_job(store, job.id).label_set
    assert [e.name for e in ls.entities] == ["e1", "e2"]
    assert len(ls.relations) == 19 and all((r.source, r.target) == ("e1", "e2") for r in ls.relations)
    export_job(store, job.id, "jsonl", tmp_path / "out.jsonl")
    job2 = create_job(store, "tri2", "text_triplet")
    import_format(store, job2.id, "jsonl", str(tmp_path / "out.jsonl"))
    a, b = all_samples(store, job.id), all_samples(store, job2.id)
    assert len(b) == len(rows)
    assert [(s.text, s.annotation) for s in a] == [(s.text, s.annotation) for s in b]
    s = a[0]
    e1 = s.annotation["entities"][0]
    assert s.text[e1["start"]:e1["end"]] == rows[0]["e1"]["text"]
    # and through the manifest
    export_job(store, job.id, "manifest", tmp_path / "out.manifest")
    job3 = create_job(store, "tri3", "text_triplet", label_set=ls)
    import_format(store, job3.id, "manifest", str(tmp_path / "out.manifest"))
    assert [(s.text, s.annotation) for s in a] == [(s.text, s.annotation) for s in all_samples(store, job3.id)]


def test_semeval_as_19_class_text_classification(store, shared_data, tmp_path):
    rows = semeval(shared_data)
    want = Counter(r["label"] for r in rows)
    with open(tmp_path / "rel.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for r in rows:
            w.writerow([r["text"], r["label"]])
    job = create_job(store, "rel", "text_classification")
    rec = import_format(store, job.id, "csv", str(tmp_path / "rel.csv"))
    assert (rec.imported, rec.labeled, rec.errors) == (len(rows), len(rows), [])
    assert len(get_job(store, job.id).label_set.labels) == 19
    from store.stats import job_stats
    for fmt, name in (("csv", "out.csv"), ("jsonl", "out.jsonl"), ("manifest", "out.manifest")):
        export_job(store, job.id, fmt, tmp_path / name)
        job2 = create_job(store, f"rel-{fmt}", "text_classification")
        import_format(store, job2.id, fmt, str(tmp_path / name))
        got = [(s.text, s.labels) for s in all_samples(store, job2.id)]
        assert got == [(r["text"], [r["label"]]) for r in rows], fmt
    assert job_stats(store, job.id).labels == dict(want)


def test_text_csv_several_labels_and_first_column(store, tmp_path):
    (tmp_path / "a.csv").write_text('text,label\n"Hi, you",greeting,polite\nBye,\nHi<b>,\n', encoding="utf-8")
    job = create_job(store, "tc", "text_classification")
    rec = import_format(store, job.id, "csv", str(tmp_path / "a.csv"))
    assert (rec.imported, rec.labeled) == (3, 1)
    items = all_samples(store, job.id)
    assert [(s.text, s.labels) for s in items] == [("Hi, you", ["greeting", "polite"]), ("Bye", []), ("Hi<b>", [])]
    export_job(store, job.id, "csv", tmp_path / "o.csv")
    assert list(csv.reader(open(tmp_path / "o.csv", encoding="utf-8")))[1] == ["Hi, you", "greeting", "polite"]
    # the image csv still works on image jobs (dispatch by type)
    from store.formats import get_format
    from store.formats.csv_format import read_file_label_csv
    assert get_format("csv").reader_for("image_classification") is read_file_label_csv


def test_manifest_ner_and_equal_texts_are_separate_samples(store, tmp_path):
    line = {"source": "content://Ada met Ada 🎉", "annotation": [
        {"type": "modelarts/text_entity", "name": "person",
         "property": {"@modelarts:start_index": 0, "@modelarts:end_index": 3}}]}
    (tmp_path / "m.manifest").write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in (line, line)) + "\n",
                                         encoding="utf-8")
    job = create_job(store, "ner", "named_entity_recognition")
    rec = import_format(store, job.id, "manifest", str(tmp_path / "m.manifest"))
    assert (rec.imported, rec.labeled) == (2, 2)
    export_job(store, job.id, "manifest", tmp_path / "o.manifest")
    rows = [json.loads(x) for x in (tmp_path / "o.manifest").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 2 and rows[0]["source"] == "content://Ada met Ada 🎉"
    assert rows[0]["annotation"][0]["property"] == {"@modelarts:start_index": 0, "@modelarts:end_index": 3}
    assert rows[0]["annotation"][0]["type"] == "modelarts/text_entity"


def test_triplet_import_refuses_bad_relations_and_extends_labels(store, tmp_path):
    ls = LabelSet(entities=[Label("drug"), Label("effect")], relations=[Relation("causes", "drug", "effect")])
    job = create_job(store, "t", "text_triplet", label_set=ls)
    ents = [{"id": "E1", "start": 0, "end": 7, "label": "drug"}, {"id": "E2", "start": 15, "end": 21, "label": "effect"}]
    lines = [{"text": "Aspirin causes nausea", "entities": ents, "relations": [{"from": "E2", "to": "E1", "label": "causes"}]},
             {"text": "Aspirin causes nausea", "entities": ents, "relations": [{"from": "E1", "to": "E7", "label": "causes"}]},
             {"text": "Aspirin causes nausea", "entities": ents, "relations": [{"from": "E1", "to": "E2", "label": "treats"}]}]
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps(x) for x in lines), encoding="utf-8")
    rec = import_format(store, job.id, "jsonl", str(tmp_path / "t.jsonl"))
    assert rec.imported == 3 and rec.labeled == 1 and len(rec.errors) == 2
    assert "E2 is 'effect'" in rec.errors[0] and "does not exist" in rec.errors[1]
    rels = get_job(store, job.id).label_set.relations
    assert [(r.name, r.source, r.target) for r in rels][-1] == ("treats", "drug", "effect")


def test_text_dataset_from_folder_all_three_kinds(store, tmp_path):
    d = tmp_path / "texts"
    d.mkdir()
    (d / "a.txt").write_text("one\nsame\nsame\n\nfour 😀\n", encoding="utf-8")
    (d / "b.csv").write_text("id,text\n1,hello\n2,\"multi\nline\"\n", encoding="utf-8")
    (d / "c.jsonl").write_text('{"text": "from jsonl"}\n{"nope": 1}\n', encoding="utf-8")
    job = create_job(store, "folder", "text_classification", source=str(d))
    items = all_samples(store, job.id)
    assert sorted(s.text for s in items) == sorted(["one", "same", "same", "four 😀", "hello", "multi\nline",
                                                    "from jsonl"])
    assert {s.path for s in items} >= {"a.txt:2", "a.txt:3", "b.csv:3"}
    assert sample_bytes(store, items[0].id) == items[0].text.encode()
    rec = synchronize(store, job.id)  # nothing new the second time
    assert rec.imported == 0 and len(all_samples(store, job.id)) == 7
    assert any("empty record" in e for e in rec.errors) and any("'text' field" in e for e in rec.errors)


def test_bad_text_input(store, tmp_path):
    job = create_job(store, "bad", "text_classification")
    big = "x" * 1_000_000
    rec = upload_files(store, job.id, [
        ("ok.txt", "fine\n".encode()),
        ("bad.txt", b"good line\n\xff\xfe broken\n\nlast\n"),
        ("big.txt", (big + "\nsmall\n").encode()),
        ("empty.txt", b""),
        ("blank.jsonl", b"\n\n"),
    ])
    texts = sorted(s.text for s in all_samples(store, job.id))
    assert texts == ["fine", "good line", "last", "small"]
    errs = "\n".join(rec.errors)
    assert "line 2 is not valid UTF-8" in errs
    assert f"1,000,000 characters; the limit is {MAX_TEXT_CHARS:,}" in errs
    assert "bad.txt: line 3: empty record" in errs
    assert "empty.txt: the file is empty" in errs and "blank.jsonl: the file is empty" in errs
    assert rec.status == "partial"
    # a 1 MB CoNLL sentence and a manifest record too
    (tmp_path / "big.conll").write_text("a\tO\n" * 300_000, encoding="utf-8")
    ner = create_job(store, "ner", "named_entity_recognition")
    rec = import_format(store, ner.id, "conll", str(tmp_path / "big.conll"))
    assert rec.imported == 0 and "the limit is 100,000 characters" in rec.errors[0]
    (tmp_path / "bad.conll").write_bytes(b"ok\tO\n\xff\tB-x\n\nfine\tB-person\n")
    rec = import_format(store, ner.id, "conll", str(tmp_path / "bad.conll"))
    assert rec.imported == 2 and "line 2 is not valid UTF-8" in rec.errors[0]
    (tmp_path / "e.manifest").write_text('{"source": "content://"}\n{"source": "/x.txt"}\n', encoding="utf-8")
    rec = import_format(store, ner.id, "manifest", str(tmp_path / "e.manifest"))
    assert rec.imported == 0 and "empty record" in rec.errors[0] and "content://" in rec.errors[1]
