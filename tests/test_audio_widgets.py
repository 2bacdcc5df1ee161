"""The audio labeling UI pieces without a browser: the waveform editor's value helpers, the
pages' build and load on real audio jobs, and the /media/{id}/peaks and /segment routes."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from components.waveform import annotation_of, segments_of, unlabeled_segments, waveform_value
from store.labelset import Label, LabelClass, LabelSet


def _wav(path: Path, seconds: float, sr: int = 8000) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr)
    return path


def test_waveform_value_single_label_mode_sorts_and_numbers():
    ls = LabelSet(labels=[Label("speech", "#FF0000"), Label("noise")], speech_content=True)
    ann = {"segments": [{"id": "S7", "start": 2, "end": 3, "label": "noise", "content": "x"},
                        {"start": 0.5, "end": 1.25, "label": "speech", "source": "a.wav"}]}
    v = waveform_value(4, 10.0, ann, ls)
    assert v["audio"] == "/media/4/file" and v["duration"] == 10.0 and v["speech_content"] is True
    assert [s["id"] for s in v["segments"]] == ["S1", "S7"]  # sorted by start, missing ids given
    assert v["labels"][0] == {"name": "speech", "color": "#ff0000"} and v["labels"][1]["color"].startswith("#")
    assert v["classes"] == [] and v["dirty"] is False
    saved = annotation_of(v)
    assert saved["segments"][0] == {"id": "S1", "start": 0.5, "end": 1.25, "label": "speech", "content": "",
                                    "source": "a.wav"}
    assert unlabeled_segments(v) == []


def test_waveform_value_multi_label_mode_and_detected_segments():
    ls = LabelSet(classes=[LabelClass("speaker", ["m", "f"]), LabelClass("lang", ["en", "fr"])])
    v = waveform_value(1, 5.0, None, ls, segments=[(0.25, 1.0), (2.0, 2.5)], dirty=True)
    assert v["dirty"] is True and [s["labels"] for s in v["segments"]] == [{}, {}]
    assert "content" not in v["segments"][0]
    v["segments"][0]["labels"] = {"speaker": "m", "lang": ""}
    assert annotation_of(v)["segments"][0]["labels"] == {"speaker": "m"}
    assert unlabeled_segments(v) == [2]
    assert segments_of([{"id": "S1", "start": 0, "end": 1}, {"id": "S1", "start": 1, "end": 2}], False, False)[1][
        "id"] == "S2"  # a repeated id is renumbered
    assert annotation_of(None) == {"segments": []}


@pytest.fixture
def audio_jobs(store, tmp_path):
    from store.jobs import create_job

    folder = tmp_path / "wavs"
    folder.mkdir()
    _wav(folder / "a.wav", 2.0)
    _wav(folder / "b.wav", 1.0)
    jobs = {
        "sound_classification": create_job(store, "snd", "sound_classification", source=str(folder),
                                           label_set=LabelSet(labels=[Label("x", shortcut="x")])),
        "speech_labeling": create_job(store, "tr", "speech_labeling", source=str(folder)),
        "speech_paragraph": create_job(store, "para", "speech_paragraph", source=str(folder),
                                       label_set=LabelSet(labels=[Label("speech")], speech_content=True)),
    }
    return jobs


def test_audio_pages_build_and_load(store, audio_jobs):
    import importlib

    import gradio as gr

    from pages.common import AppContext
    from store.types import get_type

    ctx = AppContext(store)
    for type_id, job in audio_jobs.items():
        module = importlib.import_module(get_type(type_id).page)
        with gr.Blocks():
            page = module.build(ctx, gr.State(None))
        out = page.load(job.id)
        assert len(out) == len(page.load_outputs)
        lists = [o for o in out if isinstance(o, dict) and "items" in o]
        assert lists and len(lists[0]["items"]) == 2
        assert all(it["audio"].startswith("/media/") for it in lists[0]["items"])
        if type_id == "sound_classification":
            assert lists[0]["labels"] == [{"name": "x", "color": lists[0]["labels"][0]["color"], "shortcut": "x"}]
        if type_id == "speech_paragraph":
            wf = next(o for o in out if isinstance(o, dict) and "segments" in o)
            assert wf["sample_id"] == lists[0]["items"][0]["id"] and wf["duration"] > 0


def test_peaks_and_segment_routes(store, audio_jobs):
    from fastapi.testclient import TestClient

    from server import build_server
    from store.samples import SampleQuery, query_samples

    sid = next(s.id for s in query_samples(store, audio_jobs["speech_paragraph"].id, SampleQuery()).items
               if s.name == "a.wav")
    client = TestClient(build_server(store, defer_ui=True))  # media routes only: no UI built
    r = client.get(f"/media/{sid}/peaks", params={"start": 0.5, "end": 1.5, "buckets": 100})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    data = r.json()
    assert len(data["max"]) == 100 and abs(data["start"] - 0.5) < 1e-3 and abs(data["end"] - 1.5) < 1e-3
    assert 0.4 < max(data["max"]) <= 0.51
    r = client.get(f"/media/{sid}/segment", params={"start": 0.25, "end": 0.75})
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    audio, sr = sf.read(io.BytesIO(r.content))
    assert abs(len(audio) / sr - 0.5) < 0.01
    assert client.get("/media/999999/peaks").status_code == 404
    assert client.get(f"/media/{sid}/peaks", params={"buckets": 0}).status_code in (200, 422)


def test_file_route_serves_byte_ranges(store, audio_jobs):
    """<audio> seeks (play one segment, click on the waveform) only when ranges are served."""
    from fastapi.testclient import TestClient

    from server import build_server
    from store.samples import SampleQuery, query_samples

    sid = query_samples(store, audio_jobs["speech_labeling"].id, SampleQuery()).items[0].id
    client = TestClient(build_server(store, defer_ui=True))  # media routes only: no UI built
    whole = client.get(f"/media/{sid}/file")
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    part = client.get(f"/media/{sid}/file", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
    assert part.headers["content-type"].startswith("audio/")
    tail = client.get(f"/media/{sid}/file", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == whole.content[-10:]
    assert client.get(f"/media/{sid}/file", headers={"Range": f"bytes={len(whole.content)}-"}).status_code == 416
