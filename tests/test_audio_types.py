"""Audio types (SPEC F2.6, F3.8-F3.10): annotation checks, probing files at import, paged peaks
of a long file, playing one segment, and silero-vad pre-segmentation on real speech."""
import io
import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from store.annotations import set_annotation
from store.audio import detect_speech, probe_audio, segment_audio_bytes, waveform_peaks
from store.errors import ValidationError
from store.imports import import_location, upload_files
from store.jobs import create_job
from store.labelset import Label, LabelClass, LabelSet
from store.samples import SampleQuery, query_samples
from store.stats import job_stats
from store.types import REGISTRY, get_type

@pytest.fixture
def pages(monkeypatch):
    """set_annotation needs a labeling page: stand one in while the audio pages are being built."""
    from dataclasses import replace

    for t in ("sound_classification", "speech_labeling", "speech_paragraph"):
        if REGISTRY[t].page is None:
            monkeypatch.setitem(REGISTRY, t, replace(REGISTRY[t], page=f"pages.{t}"))


SC, SL, SP = get_type("sound_classification"), get_type("speech_labeling"), get_type("speech_paragraph")
META = {"duration": 2.5, "sample_rate": 8000, "channels": 1, "format": "wav"}


def wav_bytes(seconds=1.0, sr=8000, channels=1, freq=440.0):
    t = np.arange(int(seconds * sr)) / sr
    x = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, np.stack([x] * channels, axis=1) if channels > 1 else x, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def test_audio_types_are_modules_in_registry_order():
    assert list(REGISTRY)[6:9] == ["sound_classification", "speech_labeling", "speech_paragraph"]
    for t in (SC, SL, SP):
        assert t.validate is not None and t.media == "audio" and ".wav" in t.extensions
    assert SC.relabel is None and SC.rules.shortcuts  # label management's SQL fast path


def test_sound_classification_labels():
    ls = LabelSet(labels=[Label("dog", shortcut="d"), Label("cat", shortcut="c")])
    ann = SC.validate({"labels": ["cat", "dog", "cat"]}, ls, META)
    assert ann.data == {"labels": ["cat", "dog"]} and ann.labels == ["cat", "dog"]
    with pytest.raises(ValidationError, match="not in this job's label set"):
        SC.validate({"labels": ["bird"]}, ls)
    with pytest.raises(ValidationError, match="labels"):
        SC.validate({"labels": "dog"}, ls)


def test_speech_labeling_transcript():
    ann = SL.validate({"content": "  nine two  "}, LabelSet(), META)
    assert ann.data == {"content": "  nine two  "} and ann.labels == ["transcript"]
    assert SL.validate({"content": "   "}, LabelSet()).labels == []  # blank: back to Unlabeled
    assert SL.relabel({"content": "x"}, "a", None) == {"content": "x"}
    for bad in ({"content": 3}, {"text": "x"}, {"content": "a\x00b"}, "x"):
        with pytest.raises(ValidationError):
            SL.validate(bad, LabelSet())


def test_speech_paragraph_single_label_segments():
    ls = LabelSet(labels=[Label("nine"), Label("two")])
    ann = SP.validate({"segments": [{"start": 1.5451, "end": 1.8857, "label": "two"},
                                    {"start": 0.39441, "end": 0.79819, "label": "nine", "id": "S1"},
                                    {"start": 0.5, "end": 0.9, "label": "two"}]}, ls, META)  # overlap is fine
    assert [(s["id"], s["start"], s["end"], s["label"]) for s in ann.data["segments"]] == [
        ("S1", 0.394, 0.798, "nine"), ("S3", 0.5, 0.9, "two"), ("S2", 1.545, 1.886, "two")]
    assert ann.labels == ["nine", "two"]
    cases = [({"start": 1.0, "end": 1.0, "label": "two"}, "end after it starts"),
             ({"start": 1.2, "end": 1.0, "label": "two"}, "end after it starts"),
             ({"start": 2.0, "end": 2.6, "label": "two"}, "past the end"),
             ({"start": -0.1, "end": 1.0, "label": "two"}, "before the audio"),
             ({"start": "0", "end": 1.0, "label": "two"}, "number of seconds"),
             ({"start": 0.0, "end": float("nan"), "label": "two"}, "number of seconds"),
             ({"start": 0.0, "end": 1.0, "label": "three"}, "not in this job's label set")]
    for seg, msg in cases:
        with pytest.raises(ValidationError, match=msg):
            SP.validate({"segments": [seg]}, ls, META)
    with pytest.raises(ValidationError, match="repeats"):
        SP.validate({"segments": [{"start": 0, "end": 1, "label": "two"}] * 2}, ls, META)
    # an end within rounding of the duration is kept at the duration
    assert SP.validate({"segments": [{"start": 0, "end": 2.5004, "label": "two"}]}, ls, META).data["segments"][0]["end"] == 2.5
    assert SP.validate({"segments": []}, ls, META).labels == []
    assert SP.relabel(ann.data, "two", None)["segments"] == [ann.data["segments"][0]]
    assert {s["label"] for s in SP.relabel(ann.data, "two", "deux")["segments"]} == {"nine", "deux"}


def test_speech_paragraph_multi_label_and_content():
    ls = LabelSet(classes=[LabelClass("type", ["noise", "speech"]), LabelClass("speaker", ["A", "B"])],
                  speech_content=True)
    ann = SP.validate({"segments": [{"start": 0, "end": 1, "labels": {"speaker": "A", "type": "speech"},
                                     "content": "hello"}, {"start": 1, "end": 2, "labels": {"type": "noise"}}]},
                      ls, META)
    assert ann.data["segments"][0] == {"id": "S1", "start": 0.0, "end": 1.0, "labels": {"type": "speech", "speaker": "A"},
                                       "content": "hello"}
    assert ann.data["segments"][1]["content"] == "" and ann.labels == ["speech", "A", "noise"]
    for labels, msg in (({"speaker": "C"}, "not a label of class"), ({"mood": "A"}, "not in this job's"),
                        ({}, "at least one class")):
        with pytest.raises(ValidationError, match=msg):
            SP.validate({"segments": [{"start": 0, "end": 1, "labels": labels}]}, ls, META)


def test_probe_refuses_bad_files(tmp_path):
    good = wav_bytes(1.0, 8000, 2)
    assert probe_audio(good, "a.wav") == {"duration": 1.0, "sample_rate": 8000, "channels": 2, "format": "wav"}
    with pytest.raises(ValidationError, match="empty"):
        probe_audio(b"", "empty.wav")
    with pytest.raises(ValidationError, match="truncated"):
        probe_audio(good[: len(good) // 2], "half.wav")
    with pytest.raises(ValidationError, match="text, not audio"):
        probe_audio(b"hello, I am a text file\n" * 10, "notes.wav")
    with pytest.raises(ValidationError):
        probe_audio(good[:30], "header.wav")
    flac = io.BytesIO()
    sf.write(flac, np.zeros(4000, dtype=np.float32), 16000, format="FLAC")
    assert probe_audio(flac.getvalue(), "a.flac")["format"] == "flac"
    ogg = io.BytesIO()
    sf.write(ogg, np.zeros(16000, dtype=np.float32), 16000, format="OGG", subtype="VORBIS")
    assert probe_audio(ogg.getvalue(), "a.ogg")["format"] == "ogg"
    aiff = io.BytesIO()
    sf.write(aiff, np.zeros(800, dtype=np.float32), 8000, format="AIFF")
    with pytest.raises(ValidationError, match="not accepted"):
        probe_audio(aiff.getvalue(), "a.wav")


def test_import_folder_and_upload_refuse_bad_audio_with_reasons(store, tmp_path):
    folder = tmp_path / "audio"
    folder.mkdir()
    good = wav_bytes(1.5)
    (folder / "good.wav").write_bytes(good)
    (folder / "trunc.wav").write_bytes(good[: len(good) // 3])
    (folder / "zero.wav").write_bytes(b"")
    (folder / "text.wav").write_text("not audio at all\n")
    job = create_job(store, "snd", "sound_classification", label_set=LabelSet([Label("a", shortcut="1")]))
    rec = import_location(store, job.id, str(folder))
    assert rec.imported == 1, rec.errors
    reasons = " | ".join(rec.errors)
    assert "trunc.wav" in reasons and "truncated" in reasons
    assert "zero.wav" in reasons and "empty" in reasons
    assert "text.wav" in reasons and "not audio" in reasons
    item = query_samples(store, job.id, SampleQuery()).items[0]
    assert item.meta == {"duration": 1.5, "sample_rate": 8000, "channels": 1, "format": "wav"}
    rec = upload_files(store, job.id, [("up.wav", wav_bytes(0.5, 16000)), ("bad.wav", good[:100]),
                                       ("x.mp4", b"....")])
    assert rec.imported == 1 and len(rec.errors) == 2, rec.errors
    metas = {s.name: s.meta for s in query_samples(store, job.id, SampleQuery()).items}
    assert metas["up.wav"]["sample_rate"] == 16000 and metas["up.wav"]["duration"] == 0.5


def test_speech_status_and_segments_checked_against_duration(store, tmp_path, pages):
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "x.wav").write_bytes(wav_bytes(2.0))
    sl = create_job(store, "speech", "speech_labeling", source=str(folder))
    sid = query_samples(store, sl.id, SampleQuery()).items[0].id
    set_annotation(store, sl.id, sid, {"content": "hello world"})
    st = job_stats(store, sl.id)
    assert (st.labeled, st.unlabeled) == (1, 0)
    set_annotation(store, sl.id, sid, {"content": ""})
    assert job_stats(store, sl.id).labeled == 0
    sp = create_job(store, "para", "speech_paragraph", source=str(folder), label_set=LabelSet([Label("w")]))
    with pytest.raises(ValidationError, match="past the end"):
        set_annotation(store, sp.id, sid, {"segments": [{"start": 1.0, "end": 2.5, "label": "w"}]})
    set_annotation(store, sp.id, sid, {"segments": [{"start": 1.0, "end": 2.0, "label": "w"}]})
    assert query_samples(store, sp.id, SampleQuery(status="labeled")).items[0].annotation["segments"][0]["end"] == 2.0
    # play just a segment
    wav = segment_audio_bytes(store, sid, 0.5, 1.25)
    data, sr = sf.read(io.BytesIO(wav))
    assert sr == 8000 and len(data) == 6000
    with pytest.raises(ValidationError):
        segment_audio_bytes(store, sid, 1.0, 1.0)


def test_peaks_of_a_two_hour_file_read_only_the_window(store, tmp_path, pages):
    """A 2-hour 8 kHz mono WAV (~115 MB), written in blocks: import reads its header only, and the
    peaks of a window come from that window alone."""
    folder = tmp_path / "long"
    folder.mkdir()
    sr, hours = 8000, 2
    with sf.SoundFile(folder / "long.wav", "w", sr, 1, subtype="PCM_16") as f:
        block = np.zeros(sr * 600, dtype=np.int16)
        for minute10 in range(hours * 6):
            block[:] = 0
            # a tone burst at 10 s into every 10 minutes, with a known amplitude
            amp = 1000 * (minute10 + 1)
            block[sr * 10: sr * 11] = (amp * np.sin(np.arange(sr) * 2 * np.pi * 200 / sr)).astype(np.int16)
            f.write(block)
    job = create_job(store, "long", "speech_paragraph", source=str(folder), label_set=LabelSet([Label("w")]))
    item = query_samples(store, job.id, SampleQuery()).items[0]
    assert item.meta["duration"] == 7200.0
    # the window 6000-6030 s holds the burst of the 11th ten-minute block (6010-6011 s)
    p = waveform_peaks(store, item.id, 6000, 6030, 30)
    assert p["duration"] == 7200.0 and len(p["max"]) == 30 and p["start"] == 6000
    assert p["max"][10] == pytest.approx(11000 / 32768, abs=2e-3) and p["min"][10] < -0.3
    assert all(v == 0 for i, v in enumerate(p["max"]) if i != 10)
    # peaks past the end are empty, a 2-hour overview has the bursts where they are
    assert waveform_peaks(store, item.id, 7300, 7400, 10)["max"] == [0.0] * 10
    with pytest.raises(ValidationError, match="buckets"):
        waveform_peaks(store, item.id, 0, 10, 0)
    set_annotation(store, job.id, item.id, {"segments": [{"start": 7199.0, "end": 7200.0, "label": "w"}]})


def test_detect_speech_overlaps_ground_truth(store, shared_data, tmp_path, pages):
    base = shared_data / "digit_sequences"
    row = json.loads((base / "segments.jsonl").read_text().splitlines()[0])
    folder = tmp_path / "seq"
    folder.mkdir()
    shutil.copy(base / row["file"], folder / "seq.wav")
    job = create_job(store, "vad", "speech_paragraph", source=str(folder), label_set=LabelSet([Label("speech")]))
    sid = query_samples(store, job.id, SampleQuery()).items[0].id
    found = detect_speech(store, sid)
    truth = [(s["start"], s["end"]) for s in row["segments"]]
    assert found and all(0 <= s < e <= row["duration"] + 1e-3 for s, e in found)
    hit = sum(any(min(e, te) - max(s, ts) > 0 for s, e in found) for ts, te in truth)
    assert hit >= len(truth) - 1, (found, truth)
    # the detected segments save as an annotation (the page's "Detect speech" fills the table)
    set_annotation(store, job.id, sid, {"segments": [{"start": s, "end": e, "label": "speech"} for s, e in found]})
