"""Audio formats (SPEC F7.1, F7.2, F8.2): csv for sound classification, jsonl and manifest for
the three audio types, round trips on the real data in ../shared/data."""
import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from store.exports import export_job
from store.formats import FORMATS
from store.formats.audio_io import hms, parse_time
from store.formats.common import iter_job_samples
from store.imports import import_format
from store.jobs import create_job
from store.labelset import Label, LabelClass, LabelSet
from store.stats import job_stats


def samples(store, job_id):
    return {Path(s.uri).name: s for s in iter_job_samples(store, job_id)}


def test_audio_formats_are_registered_with_examples():
    for t in ("sound_classification", "speech_labeling", "speech_paragraph"):
        assert t in FORMATS["manifest"].readers and t in FORMATS["jsonl"].writers
    assert "sound_classification" in FORMATS["csv"].readers
    examples = Path(FORMATS["csv"].example_text.__func__.__globals__["EXAMPLES"])
    for name in ("audio_labels.csv", "audio.jsonl", "audio_manifest.jsonl"):
        assert (examples / name).read_text().strip()
    for line in (examples / "audio_manifest.jsonl").read_text().splitlines():
        json.loads(line)


def test_times_hh_mm_ss_mmm():
    assert hms(0.3944) == "00:00:00.394" and hms(3725.5) == "01:02:05.500" and hms(59.9996) == "00:01:00.000"
    assert parse_time("01:02:05.500", "t") == 3725.5 and parse_time("02:05.5", "t") == 125.5
    assert parse_time(1.25, "t") == 1.25
    for bad in ("", "1:2:3:4", "00:61:00", "aa:00:01", None, "00:00:-1"):
        with pytest.raises(Exception):
            parse_time(bad, "t")


def test_fsdd_csv_round_trip(store, shared_data, tmp_path):
    rec_dir = shared_data / "fsdd" / "recordings"
    files = sorted(rec_dir.glob("*.wav"))[::5]  # 120 clips
    src = tmp_path / "fsdd.csv"
    with open(src, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "label"])
        for p in files:
            w.writerow([str(p), "digit_" + p.name.split("_")[0]])
    want = Counter("digit_" + p.name.split("_")[0] for p in files)
    labels = LabelSet([Label(f"digit_{d}", shortcut=str(d)) for d in range(10)])
    job = create_job(store, "fsdd", "sound_classification", label_set=labels)
    rec = import_format(store, job.id, "csv", str(src))
    assert rec.imported == len(files) and rec.labeled == len(files) and rec.errors == []
    st = job_stats(store, job.id)
    assert st.labeled == len(files) and {k: v for k, v in st.labels.items() if v} == dict(want)
    s = next(iter(samples(store, job.id).values()))
    assert s.meta["sample_rate"] == 8000 and s.meta["channels"] == 1 and 0 < s.meta["duration"] < 3
    for fmt, name in (("csv", "out.csv"), ("manifest", "out.manifest"), ("jsonl", "out.jsonl")):
        export_job(store, job.id, fmt, tmp_path / name)
        job2 = create_job(store, f"fsdd-{fmt}", "sound_classification", label_set=labels)
        rec2 = import_format(store, job2.id, fmt, str(tmp_path / name))
        assert rec2.labeled == len(files), (fmt, rec2.errors[:3])
        got = {k: v.labels for k, v in samples(store, job2.id).items()}
        assert got == {k: v.labels for k, v in samples(store, job.id).items()}, fmt
    row = json.loads((tmp_path / "out.manifest").read_text().splitlines()[0])
    assert row["annotation"][0]["type"] == "modelarts/audio_classification"


def test_speech_sentences_manifest_round_trip(store, shared_data, tmp_path):
    base = shared_data / "speech_sentences"
    want = {}
    src = tmp_path / "speech.manifest"
    with open(src, "w", encoding="utf-8") as f:
        for line in (base / "metadata.csv").read_text(encoding="utf-8").splitlines():
            i, text = line.split("|")[:2]
            want[f"{i}.wav"] = text
            f.write(json.dumps({"source": str(base / "wavs" / f"{i}.wav"), "annotation": [
                {"type": "modelarts/audio_content", "property": {"@modelarts:content": text}}]}) + "\n")
    job = create_job(store, "speech", "speech_labeling")
    rec = import_format(store, job.id, "manifest", str(src))
    assert rec.labeled == len(want) and rec.errors == []
    assert job_stats(store, job.id).labeled == len(want)
    assert {k: s.annotation["content"] for k, s in samples(store, job.id).items()} == want
    assert all(s.meta["sample_rate"] == 16000 for s in samples(store, job.id).values())
    for fmt in ("manifest", "jsonl"):
        out = tmp_path / f"out.{fmt}"
        export_job(store, job.id, fmt, out)
        job2 = create_job(store, f"speech-{fmt}", "speech_labeling")
        assert import_format(store, job2.id, fmt, str(out)).labeled == len(want)
        assert {k: s.annotation["content"] for k, s in samples(store, job2.id).items()} == want, fmt
    assert job.label_set.names() == []  # the "transcript" marker is no label of the set


def test_digit_sequences_segments_round_trip_within_1ms(store, shared_data, tmp_path):
    base = shared_data / "digit_sequences"
    rows = [json.loads(line) for line in (base / "segments.jsonl").read_text().splitlines()]
    src = tmp_path / "para.manifest"
    want = {}
    with open(src, "w", encoding="utf-8") as f:
        for r in rows:
            ann = [{"type": "modelarts/audio_segmentation", "name": s["label"],
                    "property": {"@modelarts:start_time": hms(s["start"]), "@modelarts:end_time": hms(s["end"]),
                                 "@modelarts:source": s["source"]}} for s in r["segments"]]
            f.write(json.dumps({"source": str(base / r["file"]), "annotation": ann}) + "\n")
            want[Path(r["file"]).name] = sorted((s["start"], s["end"], s["label"], s["source"]) for s in r["segments"])
    job = create_job(store, "para", "speech_paragraph")  # labels come from the data (F8.4)
    rec = import_format(store, job.id, "manifest", str(src))
    assert rec.labeled == len(rows) and rec.errors == []

    def check(job_id):
        got = {k: sorted((g["start"], g["end"], g["label"], g.get("source")) for g in s.annotation["segments"])
               for k, s in samples(store, job_id).items()}
        assert set(got) == set(want)
        for k in want:
            assert len(got[k]) == len(want[k])
            for a, b in zip(want[k], got[k]):
                assert abs(a[0] - b[0]) <= 0.001 and abs(a[1] - b[1]) <= 0.001 and a[2:] == b[2:]
    check(job.id)
    for fmt in ("manifest", "jsonl"):
        out = tmp_path / f"out.{fmt}"
        export_job(store, job.id, fmt, out)
        job2 = create_job(store, f"para-{fmt}", "speech_paragraph")
        assert import_format(store, job2.id, fmt, str(out)).labeled == len(rows)
        check(job2.id)
    line = json.loads((tmp_path / "out.manifest").read_text().splitlines()[0])
    prop = line["annotation"][0]["property"]
    assert len(prop["@modelarts:start_time"]) == 12 and prop["@modelarts:source"].endswith(".wav")


def test_multi_label_segments_with_content_round_trip(store, shared_data, tmp_path):
    base = shared_data / "digit_sequences"
    r = json.loads((base / "segments.jsonl").read_text().splitlines()[0])
    src = tmp_path / "multi.jsonl"
    segs = [{"start": s["start"], "end": s["end"], "labels": {"type": "speech", "speaker": "A"}, "content": s["label"]}
            for s in r["segments"]]
    src.write_text(json.dumps({"source": str(base / r["file"]), "segments": segs}) + "\n")
    ls = LabelSet(classes=[LabelClass("type", ["noise", "speech"]), LabelClass("speaker", ["A", "B"])],
                  speech_content=True)
    job = create_job(store, "multi", "speech_paragraph", label_set=ls)
    assert import_format(store, job.id, "jsonl", str(src)).labeled == 1
    export_job(store, job.id, "manifest", tmp_path / "m.manifest")
    job2 = create_job(store, "multi2", "speech_paragraph", label_set=ls)
    assert import_format(store, job2.id, "manifest", str(tmp_path / "m.manifest")).labeled == 1
    a, b = (next(iter(samples(store, j).values())).annotation["segments"] for j in (job.id, job2.id))
    assert a == b and a[0]["labels"] == {"type": "speech", "speaker": "A"} and a[0]["content"] == r["segments"][0]["label"]


def test_bad_audio_input_is_refused_with_reasons(store, shared_data, tmp_path):
    base = shared_data / "digit_sequences"
    r = json.loads((base / "segments.jsonl").read_text().splitlines()[0])
    wav = base / r["file"]
    (tmp_path / "trunc.wav").write_bytes(wav.read_bytes()[:5000])
    (tmp_path / "zero.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("just text\n")
    lines = [{"source": str(tmp_path / n), "segments": [{"start": 0, "end": 0.1, "label": "w"}]}
             for n in ("trunc.wav", "zero.wav", "text.wav")]
    lines += [{"source": str(wav), "segments": [{"start": 1.0, "end": 1.0, "label": "w"}]},
              {"source": str(wav), "segments": [{"start": 1.0, "end": r["duration"] + 1, "label": "w"}]},
              {"source": str(tmp_path / "song.aiff"), "segments": []}]
    src = tmp_path / "bad.jsonl"
    src.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    job = create_job(store, "bad", "speech_paragraph", label_set=LabelSet([Label("w")]))
    rec = import_format(store, job.id, "jsonl", str(src))
    errs = " | ".join(rec.errors)
    assert rec.labeled == 0 and rec.imported == 1  # the good file, without its broken segments
    for what in ("truncated", "empty", "not audio", "end after it starts", "past the end", "song.aiff",
                 "not valid JSON"):
        assert what in errs, (what, errs)
