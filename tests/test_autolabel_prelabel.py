"""Pre-labeling (F4.3, F4.4) with tiny models built from configs (tests/tiny_models.py): every
supported task, labels outside the label set, hard examples, refusals, and broken files."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
import soundfile as sf

from autolabel.models import register_model
from autolabel.runner import run_now
from store.errors import ValidationError
from store.imports import upload_files
from store.jobs import get_job
from store.samples import SampleQuery, get_sample_uri, query_samples

from . import tiny_models as T
from .factories import image_bytes, new_job


def rows(store, job_id):
    """sample id -> (status, annotation, confidence, model, hard, coefficient, reason)."""
    return {r[0]: (r[1], json.loads(r[2]) if r[2] else None, r[3], r[4], r[5], r[6], r[7]) for r in store.db.fetchall(
        "SELECT sample_id, status, annotation, confidence, model, hard, hard_coefficient, hard_reason "
        "FROM job_samples WHERE job_id = ? ORDER BY sample_id", [job_id])}


def sample_ids(store, job_id) -> list[int]:
    return [s.id for s in query_samples(store, job_id, SampleQuery(page_size=500)).items]


def check_predictions(store, job_id, expect: int, model_ref: str) -> dict:
    """Every predicted sample is in To Be Confirmed with a confidence in [0, 1], the model and an
    annotation its type accepts; returns the predicted rows."""
    job = get_job(store, job_id)
    metas = dict(store.db.fetchall("SELECT s.id, s.meta FROM samples s JOIN job_samples js ON js.sample_id = s.id "
                                   "WHERE js.job_id = ?", [job_id]))
    texts = dict(store.db.fetchall("SELECT s.id, s.text FROM samples s JOIN job_samples js ON js.sample_id = s.id "
                                   "WHERE js.job_id = ?", [job_id]))
    out = {}
    for sid, (status, ann, conf, model, hard, coef, reason) in rows(store, job_id).items():
        if status != "to_be_confirmed":
            continue
        assert 0 <= conf <= 1 and model.startswith(model_ref), (conf, model)
        meta = json.loads(metas[sid]) if metas[sid] else {}
        if texts[sid] is not None:
            meta["text"] = texts[sid]
        job.labeling_type.validate(ann, job.label_set, meta)  # raises if the type refuses it
        if hard:
            assert 0 <= coef <= 1 and reason.startswith("auto: ")
        out[sid] = (ann, conf, hard)
    assert len(out) == expect, rows(store, job_id)
    return out


def upload(store, job_id, files):
    rec = upload_files(store, job_id, files)
    assert rec.status == "succeeded" and not rec.errors, rec.errors
    return sample_ids(store, job_id)


def images(n=4):
    files = [(f"rgb_{i}.png", image_bytes(size=(40, 30), seed=i)) for i in range(n - 3)]
    files += [("rgba.png", image_bytes(size=(40, 30), mode="RGBA", seed=7)),
              ("palette.png", image_bytes(size=(30, 40), mode="P", seed=8)),
              ("gray_alpha.png", image_bytes(size=(32, 32), mode="LA", seed=9))]
    return files


def wav_bytes(seconds=0.5, sr=8000, channels=1, freq=440.0):
    t = np.arange(int(seconds * sr)) / sr
    x = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, np.stack([x] * channels, axis=1) if channels > 1 else x, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def break_file(store, sample_id: int, data: bytes = b"this is no image at all") -> None:
    path = store.locations.local_path(get_sample_uri(store, sample_id))
    path.write_bytes(data)


# -- image classification -------------------------------------------------------------------------

def test_image_classification_top_label_mapped_case_insensitively(store, tmp_path):
    record = register_model(store, str(T.vit_image_classifier(tmp_path / "vit", ["CAT", "dog", "LABEL_2"],
                                                              favor="CAT")))
    assert record.task == "image-classification"
    job = new_job(store, labels=("cat", "dog"))
    upload(store, job.id, images())
    run = run_now(store, job.id, "prelabel", model=record.ref, batch_size=2)
    assert run.status == "done", run.message
    got = check_predictions(store, job.id, 4, record.ref)
    assert {a["labels"][0] for a, _, _ in got.values()} == {"cat"}
    assert all(c > 0.9 and not h for _, c, h in got.values())
    assert run.labeled == 4 and run.model == record.ref and "4 of 4" in run.message


def test_labels_outside_the_label_set_are_dropped_and_reported(store, tmp_path):
    record = register_model(store, str(T.vit_image_classifier(tmp_path / "vit", ["cat", "dog", "LABEL_2"],
                                                              favor="LABEL_2")))
    job = new_job(store, labels=("cat", "dog"))
    upload(store, job.id, images())
    run = run_now(store, job.id, "prelabel", model=record.ref, batch_size=3)
    assert run.status == "done", run.message
    assert "4 predictions used labels outside the label set" in run.message and "LABEL_2" in run.message
    assert {r[0] for r in rows(store, job.id).values()} == {"unlabeled"}


def test_low_confidence_predictions_are_hard_examples(store, tmp_path):
    record = register_model(store, str(T.vit_image_classifier(tmp_path / "vit", ["cat", "dog", "bird"])))
    job = new_job(store, labels=("cat", "dog", "bird"))
    upload(store, job.id, images())
    run = run_now(store, job.id, "prelabel", model=record.ref, batch_size=2)
    assert run.status == "done", run.message
    got = check_predictions(store, job.id, 4, record.ref)
    assert all(h and abs(c - 1 / 3) < 0.01 for _, c, h in got.values())
    assert run.hard == 4
    reasons = {r[6] for r in rows(store, job.id).values()}
    assert all("low confidence" in r for r in reasons)


def test_a_broken_image_is_skipped_and_reported(store, tmp_path):
    record = register_model(store, str(T.vit_image_classifier(tmp_path / "vit", ["cat", "dog"], favor="dog")))
    job = new_job(store, labels=("cat", "dog"))
    ids = upload(store, job.id, images())
    break_file(store, ids[1])
    run = run_now(store, job.id, "prelabel", model=record.ref, batch_size=2)
    assert run.status == "done", run.message
    got = check_predictions(store, job.id, 3, record.ref)
    assert ids[1] not in got and rows(store, job.id)[ids[1]][0] == "unlabeled"
    assert "1 sample file(s) could not be read" in run.message


def test_labeled_samples_are_left_alone(store, tmp_path):
    from store.annotations import set_annotation

    record = register_model(store, str(T.vit_image_classifier(tmp_path / "vit", ["cat", "dog"], favor="dog")))
    job = new_job(store, labels=("cat", "dog"))
    ids = upload(store, job.id, images())
    set_annotation(store, job.id, ids[0], {"labels": ["cat"]})
    run = run_now(store, job.id, "prelabel", model=record.ref, batch_size=2)
    assert run.status == "done", run.message
    check_predictions(store, job.id, 3, record.ref)
    status, ann, *_ = rows(store, job.id)[ids[0]]
    assert status == "labeled" and ann == {"labels": ["cat"]}


# -- refusals ---------------------------------------------------------------------------------------

def test_a_model_whose_task_does_not_fit_the_job_is_refused(store, tmp_path):
    record = register_model(store, str(T.wav2vec2_ctc(tmp_path / "ctc")))
    assert record.task == "automatic-speech-recognition"
    job = new_job(store, labels=("cat", "dog"))
    upload(store, job.id, images())
    with pytest.raises(ValidationError, match="does automatic-speech-recognition; this needs image-classification"):
        run_now(store, job.id, "prelabel", model=record.ref)
    assert not store.db.scalar("SELECT count(*) FROM runs")


def test_prelabeling_without_a_model_is_refused(store):
    job = new_job(store, labels=("cat", "dog"))
    upload(store, job.id, images())
    with pytest.raises(ValidationError, match="(?i)pre-labeling needs a registered model"):
        run_now(store, job.id, "prelabel", model=None)


# -- object detection -------------------------------------------------------------------------------

def test_object_detection_rectangles_clipped_to_the_image(store, tmp_path):
    folder = T.detr_detector(tmp_path / "detr", ["cat", "DOG", "zebra"], favor="DOG", box=(0.9, 0.5, 0.4, 0.4))
    record = register_model(store, str(folder))
    assert record.task == "object-detection"
    job = new_job(store, labels=("cat", "dog"), type_id="object_detection")
    ids = upload(store, job.id, images())
    break_file(store, ids[0], b"\x89PNG\r\n\x1a\n broken")
    run = run_now(store, job.id, "prelabel", model=record.ref, batch_size=2)
    assert run.status == "done", run.message
    got = check_predictions(store, job.id, 3, record.ref)
    for sid, (ann, conf, _hard) in got.items():
        assert len(ann["shapes"]) == 1 and conf > 0.9  # 5 queries on one box: duplicates dropped
        for shape in ann["shapes"]:
            assert shape["type"] == "rectangle" and shape["label"] == "dog"
            (x1, y1), (x2, y2) = shape["points"]
            assert 0 <= x1 < x2 and 0 <= y1 < y2
        w = json.loads(store.db.scalar("SELECT meta FROM samples WHERE id = ?", [sid]))["width"]
        assert max(s["points"][1][0] for s in ann["shapes"]) == pytest.approx(w)  # clipped at the right edge
    assert ids[0] not in got and "could not be read" in run.message


def test_object_detection_threshold_option_and_outside_labels(store, tmp_path):
    record = register_model(store, str(T.detr_detector(tmp_path / "detr", ["cat", "dog", "zebra"], favor="zebra")))
    job = new_job(store, labels=("cat", "dog"), type_id="object_detection")
    upload(store, job.id, images())
    run = run_now(store, job.id, "prelabel", model=record.ref, batch_size=4)
    assert run.status == "done", run.message
    assert "zebra" in run.message and "outside the label set" in run.message
    assert "4 sample(s) got no box above the score threshold" in run.message
    check_predictions(store, job.id, 0, record.ref)
    # a threshold above every score: nothing is proposed
    record2 = register_model(store, str(T.detr_detector(tmp_path / "detr2", ["cat", "dog"], favor="cat")),
                             version="2")
    run = run_now(store, job.id, "prelabel", model=record2.ref, batch_size=4, options={"score_threshold": 1.01})
    assert run.status == "done" and "0 of 4" in run.message


# -- text -------------------------------------------------------------------------------------------

TEXTS = "Zürich 🎉 is ok\nhello world\nanna lives in london\n"


def test_text_classification(store, tmp_path):
    record = register_model(store, str(T.bert_sequence_classifier(tmp_path / "seq", ["POS", "neg", "other"],
                                                                  favor="POS")))
    assert record.task == "text-classification"
    job = new_job(store, labels=("pos", "neg"), type_id="text_classification")
    upload(store, job.id, [("t.txt", TEXTS.encode())])
    run = run_now(store, job.id, "prelabel", model=record.ref, batch_size=2)
    assert run.status == "done", run.message
    got = check_predictions(store, job.id, 3, record.ref)
    assert {a["labels"][0] for a, _, _ in got.values()} == {"pos"}


def test_zero_shot_text_classification_with_an_nli_model(store, tmp_path):
    """An NLI model (a label "entailment") registers as zero-shot-classification; with no labeled
    text at all it pre-labels with the job's own label names as the hypotheses."""
    record = register_model(store, str(T.bert_sequence_classifier(tmp_path / "nli",
                                                                  ["contradiction", "neutral", "entailment"])))
    assert record.task == "zero-shot-classification" and record.labels == ["contradiction", "neutral", "entailment"]
    job = new_job(store, labels=("sports", "cooking", "politics"), type_id="text_classification")
    upload(store, job.id, [("t.txt", TEXTS.encode())])
    run = run_now(store, job.id, "prelabel", model=record.ref, batch_size=2)
    assert run.status == "done", run.message
    assert 'zero-shot: each label asked as "This example is <label>."' in run.message
    got = check_predictions(store, job.id, 3, record.ref)
    for ann, conf, _ in got.values():  # always one of the job's labels; the scores over them sum to 1
        assert ann["labels"][0] in ("sports", "cooking", "politics") and 1 / 3 - 1e-6 <= conf <= 1
    # a job with a single label has nothing to choose between
    one = new_job(store, "one", labels=("sports",), type_id="text_classification")
    upload(store, one.id, [("u.txt", b"a text\n")])
    run = run_now(store, one.id, "prelabel", model=record.ref)
    assert run.status == "failed" and "at least 2 labels" in run.message
    # the other types do not take it
    ner = new_job(store, "ner", labels=("place",), type_id="named_entity_recognition")
    with pytest.raises(ValidationError, match="does zero-shot-classification"):
        run_now(store, ner.id, "prelabel", model=record.ref)


def test_zero_shot_image_classification_with_a_clip_model(store, tmp_path):
    """A CLIP dual encoder registers as zero-shot-image-classification (no labels of its own);
    with no labeled image it pre-labels with "a photo of a <label>." for each of the job's
    labels: the label is the one CLIP itself ranks first, its softmax share the confidence."""
    import torch
    from transformers import AutoModel, AutoProcessor

    from autolabel.features import load_image
    from autolabel.prelabel import ZeroShotImageClassifier
    from store.samples import sample_bytes

    folder = T.clip_model(tmp_path / "clip")
    record = register_model(store, str(folder))
    assert record.task == "zero-shot-image-classification" and record.labels == []
    names = ("cat", "dog", "bird")
    job = new_job(store, labels=names)
    ids = upload(store, job.id, images())
    run = run_now(store, job.id, "prelabel", model=record.ref, batch_size=3)
    assert run.status == "done", run.message
    assert 'zero-shot: each label asked as "a photo of a <label>."' in run.message and "4 of 4" in run.message
    got = check_predictions(store, job.id, 4, record.ref)
    processor, model = AutoProcessor.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()
    prompts = [ZeroShotImageClassifier.TEMPLATE.format(n) for n in names]
    for sid in ids:  # the same answer as the model asked directly, one image at a time
        enc = processor(text=prompts, images=[load_image(sample_bytes(store, sid))], return_tensors="pt", padding=True)
        with torch.inference_mode():
            probs = torch.softmax(model(**enc).logits_per_image[0], -1).numpy()
        ann, conf, _ = got[sid]
        assert ann["labels"] == [names[int(probs.argmax())]] and conf == pytest.approx(float(probs.max()), abs=1e-4)
        assert 1 / 3 - 1e-6 <= conf <= 1
    # one label: nothing to choose between; the other image types do not take the model
    one = new_job(store, "one", labels=("cat",))
    upload(store, one.id, images(3))
    run = run_now(store, one.id, "prelabel", model=record.ref)
    assert run.status == "failed" and "zero-shot classification needs at least 2 labels" in run.message
    detection = new_job(store, "det", labels=("cat",), type_id="object_detection")
    with pytest.raises(ValidationError, match="does zero-shot-image-classification"):
        run_now(store, detection.id, "prelabel", model=record.ref)


def test_zero_shot_object_detection_with_owlvit(store, tmp_path):
    """OWL-ViT registers as zero-shot-object-detection; prompted with "a photo of a <label>" for
    the job's labels it proposes rectangles of the job's labels in the image's pixels, clipped,
    as Detector writes them (here: the tiny model's 16 grid cells, all matching "dog" at ~0.73)."""
    from autolabel.prelabel import ZeroShotDetector

    folder = T.owlvit_detector(tmp_path / "owl", favor_prompt=ZeroShotDetector.TEMPLATE.format("dog"))
    record = register_model(store, str(folder))
    assert record.task == "zero-shot-object-detection" and record.labels == []
    job = new_job(store, labels=("cat", "dog", "bird"), type_id="object_detection")
    upload(store, job.id, images())
    run = run_now(store, job.id, "prelabel", model=record.ref, batch_size=3)
    assert run.status == "done", run.message
    assert 'each label asked as "a photo of a <label>"' in run.message and "boxes scoring >= 0.1" in run.message
    got = check_predictions(store, job.id, 4, record.ref)
    for sid, (ann, conf, hard) in got.items():
        meta = json.loads(store.db.scalar("SELECT meta FROM samples WHERE id = ?", [sid]))
        assert len(ann["shapes"]) == 16 and conf == pytest.approx(0.731, abs=0.01) and not hard
        for shape in ann["shapes"]:
            assert shape["type"] == "rectangle" and shape["label"] == "dog"
            (x1, y1), (x2, y2) = shape["points"]
            assert 0 <= x1 < x2 <= meta["width"] and 0 <= y1 < y2 <= meta["height"]
        assert max(sh["points"][1][0] for sh in ann["shapes"]) == pytest.approx(meta["width"])  # clipped
    # the run's score_threshold: above every box, nothing is proposed
    again = new_job(store, "again", labels=("cat", "dog"), type_id="object_detection")
    upload(store, again.id, images(3))
    run = run_now(store, again.id, "prelabel", model=record.ref, options={"score_threshold": 0.8})
    assert run.status == "done" and "0 of 3" in run.message and "no box above the score threshold" in run.message
    # the classification jobs do not take it
    with pytest.raises(ValidationError, match="does zero-shot-object-detection"):
        run_now(store, new_job(store, "cls", labels=("cat", "dog")).id, "prelabel", model=record.ref)


def test_named_entities_have_code_point_offsets(store, tmp_path):
    labels = ["O", "B-PLACE", "I-PLACE", "B-MISC", "I-MISC"]
    record = register_model(store, str(T.bert_token_classifier(tmp_path / "ner", labels, favor="I-PLACE")))
    assert record.task == "token-classification"
    job = new_job(store, labels=("place", "person"), type_id="named_entity_recognition")
    ids = upload(store, job.id, [("t.txt", TEXTS.encode())])
    run = run_now(store, job.id, "prelabel", model=record.ref, batch_size=2)
    assert run.status == "done", run.message
    got = check_predictions(store, job.id, 3, record.ref)
    texts = dict(store.db.fetchall("SELECT id, text FROM samples WHERE id IN (SELECT unnest(?::BIGINT[]))", [ids]))
    for sid, (ann, conf, _) in got.items():
        (span,) = ann["spans"]  # every token tagged I-PLACE: one entity over the whole text
        assert span["label"] == "place" and (span["start"], span["end"]) == (0, len(texts[sid]))
    emoji = next(sid for sid, t in texts.items() if "🎉" in t)
    assert got[emoji][0]["spans"][0]["end"] == len("Zürich 🎉 is ok")  # code points, not UTF-8 bytes


@pytest.mark.parametrize("favor, message", [("O", "3 sample(s) got no entities"),
                                            ("B-MISC", "used labels outside the label set (dropped): MISC")])
def test_texts_without_entities_stay_unlabeled(store, tmp_path, favor, message):
    labels = ["O", "B-PLACE", "I-PLACE", "B-MISC", "I-MISC"]
    record = register_model(store, str(T.bert_token_classifier(tmp_path / "ner", labels, favor=favor)))
    job = new_job(store, labels=("place",), type_id="named_entity_recognition")
    upload(store, job.id, [("t.txt", TEXTS.encode())])
    run = run_now(store, job.id, "prelabel", model=record.ref, batch_size=2)
    assert run.status == "done" and message in run.message, run.message
    check_predictions(store, job.id, 0, record.ref)


# -- audio ------------------------------------------------------------------------------------------

def test_speech_labeling_ctc_transcript(store, tmp_path):
    record = register_model(store, str(T.wav2vec2_ctc(tmp_path / "ctc", favor="a")))
    job = new_job(store, labels=(), type_id="speech_labeling")
    ids = upload(store, job.id, [("a.wav", wav_bytes(0.5, 8000)), ("b.wav", wav_bytes(0.3, 16000, channels=2)),
                                 ("c.wav", wav_bytes(0.4, 22050))])
    break_file(store, ids[2], b"RIFF not really a wave file")
    run = run_now(store, job.id, "prelabel", model=record.ref, batch_size=2)
    assert run.status == "done", run.message
    got = check_predictions(store, job.id, 2, record.ref)
    assert all(a == {"content": "a"} and c > 0.9 for a, c, _ in got.values())
    assert "could not be read" in run.message


def test_speech_labeling_empty_transcripts_are_not_written(store, tmp_path):
    record = register_model(store, str(T.wav2vec2_ctc(tmp_path / "ctc", favor=None)))  # blank everywhere
    job = new_job(store, labels=(), type_id="speech_labeling")
    upload(store, job.id, [("a.wav", wav_bytes(0.5))])
    run = run_now(store, job.id, "prelabel", model=record.ref, batch_size=2)
    assert run.status == "done" and "1 sample(s) got an empty transcript" in run.message, run.message
    check_predictions(store, job.id, 0, record.ref)


def test_sound_classification(store, tmp_path):
    record = register_model(store, str(T.ast_audio_classifier(tmp_path / "ast", ["bark", "MEOW", "x"], favor="MEOW")))
    assert record.task == "audio-classification"
    job = new_job(store, labels=("bark", "meow"), type_id="sound_classification")
    upload(store, job.id, [(f"s{i}.wav", wav_bytes(0.2 + 0.3 * i, 8000, freq=300 + 100 * i)) for i in range(3)])
    run = run_now(store, job.id, "prelabel", model=record.ref, batch_size=2)
    assert run.status == "done", run.message
    got = check_predictions(store, job.id, 3, record.ref)
    assert {a["labels"][0] for a, _, _ in got.values()} == {"meow"}


def test_wav2vec2_audio_classifier_registers_as_audio_classification(store, tmp_path):
    record = register_model(store, str(T.wav2vec2_audio_classifier(tmp_path / "w2v", ["bark", "meow"])))
    assert record.task == "audio-classification"


def test_long_texts_are_tagged_in_overlapping_windows(store, tmp_path):
    record = register_model(store, str(T.bert_token_classifier(tmp_path / "ner", ["O", "B-PLACE", "I-PLACE"],
                                                               favor="B-PLACE")))
    job = new_job(store, labels=("place",), type_id="named_entity_recognition")
    text = " ".join(["anna lives in london"] * 40)  # 160 words: several 64-token windows
    upload(store, job.id, [("t.txt", (text + "\n").encode())])
    run = run_now(store, job.id, "prelabel", model=record.ref, batch_size=2)
    assert run.status == "done", run.message
    ((ann, _conf, _hard),) = check_predictions(store, job.id, 1, record.ref).values()
    assert [text[s["start"]:s["end"]] for s in ann["spans"]] == text.split()  # every word once, in order
