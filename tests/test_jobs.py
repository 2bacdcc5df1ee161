"""Jobs: create, list, modify, copy, delete, synchronize (SPEC F1.1, F1.3-F1.5, F2.1)."""
from __future__ import annotations

import re

import pytest

from store.annotations import apply_labels
from store.datasets import get_dataset, list_datasets
from store.errors import NotFound, StorageError, StoreError, ValidationError
from store.imports import list_imports
from store.jobs import (copy_job, create_job, delete_job, find_job, get_job, list_jobs, modify_job,
                        synchronize)
from store.labelset import Label, LabelSet
from store.samples import SampleQuery, get_sample, query_samples, status_counts
from tests.factories import make_image_folder, new_job, table_count, upload_images, write_image


def sample_ids(store, job_id, status="all"):
    return [s.id for s in query_samples(store, job_id, SampleQuery(status=status, page_size=500)).items]


# -- create -----------------------------------------------------------------------------------

def test_default_name_is_task_and_random_hex(store):
    a = create_job(store, None, "image_classification")
    b = create_job(store, "", "image_classification")
    assert re.fullmatch(r"task-[0-9a-f]{4}", a.name) and re.fullmatch(r"task-[0-9a-f]{4}", b.name)
    assert a.name != b.name


def test_default_name_retries_when_taken(store, monkeypatch):
    import store.jobs as jobs

    names = iter(["task-aaaa", "task-aaaa", "task-bbbb"])
    monkeypatch.setattr(jobs, "random_job_name", lambda prefix="task": next(names))
    assert create_job(store, None, "image_classification").name == "task-aaaa"
    assert create_job(store, None, "image_classification").name == "task-bbbb"


def test_create_records_everything(store):
    job = create_job(store, "  cats  ", "image_classification", description="my job", instructions="# Rules\n*be nice*",
                     label_set=LabelSet(labels=[Label("cat"), Label("dog")]), actor="alice")
    assert job.name == "cats" and job.description == "my job" and job.instructions.startswith("# Rules")
    assert job.type == "image_classification" and job.created_by == "alice" and job.team_labeling is False
    assert job.label_set.names() == ["cat", "dog"]
    assert get_job(store, job.id) == job == find_job(store, "cats")
    ds = get_dataset(store, job.dataset_id)
    assert ds.source == f"store://datasets/{ds.id}/" and ds.media == "image"


def test_description_limit(store):
    assert len(create_job(store, "ok", "image_classification", description="d" * 256).description) == 256
    with pytest.raises(ValidationError, match="257 characters; the limit is 256"):
        create_job(store, "long", "image_classification", description="d" * 257)
    assert table_count(store, "jobs") == 1 and table_count(store, "datasets") == 1


def test_duplicate_name_refused(store):
    create_job(store, "same", "image_classification")
    with pytest.raises(StoreError, match="a job named 'same' already exists"):
        create_job(store, "same", "object_detection")
    with pytest.raises(StoreError, match="already exists"):
        create_job(store, " same ", "image_classification")
    assert table_count(store, "jobs") == 1 and table_count(store, "datasets") == 1


@pytest.mark.parametrize("name, message", [("x" * 101, "limit is 100"), ("a\nb", "control characters")])
def test_bad_job_names(store, name, message):
    with pytest.raises(ValidationError, match=message):
        create_job(store, name, "image_classification")


@pytest.mark.parametrize("type_id", ["sound_classification", "speech_labeling", "image_segmentation",
                                     "video_labeling"])
def test_team_labeling_refused_for_types_without_it(store, type_id):
    with pytest.raises(ValidationError, match="team labeling is not available"):
        create_job(store, "team", type_id, team_labeling=True)
    assert table_count(store, "jobs") == 0 and table_count(store, "datasets") == 0


@pytest.mark.parametrize("type_id", ["image_classification", "object_detection", "text_classification",
                                     "named_entity_recognition", "text_triplet", "speech_paragraph"])
def test_team_labeling_allowed(store, type_id):
    assert create_job(store, "team", type_id, team_labeling=True).team_labeling is True


def test_create_on_a_folder_scans_it(store, tmp_path):
    make_image_folder(tmp_path / "imgs", {"a": 2}, top=3)
    (tmp_path / "imgs" / "notes.txt").write_text("not an image")
    (tmp_path / "imgs" / ".hidden.png").write_bytes(b"x")
    job = create_job(store, "folder", "image_classification", source=str(tmp_path / "imgs"))
    assert status_counts(store, job.id) == {"unlabeled": 5, "labeled": 0, "to_be_confirmed": 0}
    # a second job on the same folder reuses the dataset
    job2 = create_job(store, "folder2", "image_classification", source=str(tmp_path / "imgs") + "/")
    assert job2.dataset_id == job.dataset_id and len(sample_ids(store, job2.id)) == 5
    assert len(list_datasets(store)) == 1


def test_create_on_a_missing_folder_or_a_file(store, tmp_path):
    with pytest.raises(NotFound, match="folder not found"):
        create_job(store, "x", "image_classification", source=str(tmp_path / "nope"))
    (tmp_path / "f.png").write_bytes(b"x")
    with pytest.raises(ValidationError, match="is a file"):
        create_job(store, "x", "image_classification", source=str(tmp_path / "f.png"))
    assert table_count(store, "jobs") == 0 and table_count(store, "datasets") == 0


def test_create_on_a_dataset_of_other_media_refused(store):
    img = create_job(store, "img", "image_classification")
    with pytest.raises(ValidationError, match="holds image files; Text classification needs text"):
        create_job(store, "txt", "text_classification", dataset_id=img.dataset_id)
    assert table_count(store, "jobs") == 1


def test_a_failed_first_scan_leaves_no_job_and_no_dataset(store, tmp_path, monkeypatch):
    """The dataset's source cannot be listed (S3 down): nothing is saved half-way (F1.2, DESIGN)."""
    import store.jobs as jobs

    make_image_folder(tmp_path / "imgs", {"a": 2})

    def unreachable(*a, **k):
        raise StorageError("S3 storage at http://127.0.0.1:9 cannot be reached")

    monkeypatch.setattr(jobs, "list_source_files", unreachable)
    with pytest.raises(StorageError, match="cannot be reached"):
        create_job(store, "s3job", "image_classification", source=str(tmp_path / "imgs"))
    assert table_count(store, "jobs") == 0
    assert table_count(store, "datasets") == 0 and table_count(store, "samples") == 0
    assert table_count(store, "job_samples") == 0
    monkeypatch.undo()
    assert len(sample_ids(store, create_job(store, "s3job", "image_classification",
                                             source=str(tmp_path / "imgs")).id)) == 2


# -- list ---------------------------------------------------------------------------------------

def test_list_with_progress_filter_and_search(store):
    cats = new_job(store, "Cats-2024")
    ids = upload_images(store, cats.id, 4)
    apply_labels(store, cats.id, ids[:1], ["cat"])
    new_job(store, "dogs")
    create_job(store, "boxes", "object_detection")
    rows = {j.name: j for j in list_jobs(store)}
    assert set(rows) == {"Cats-2024", "dogs", "boxes"}
    c = rows["Cats-2024"]
    assert (c.total, c.labeled, c.unlabeled, c.to_be_confirmed) == (4, 1, 3, 0)
    assert c.progress == 0.25 and c.dataset == "Cats-2024-data" and c.type == "image_classification"
    assert rows["dogs"].total == 0 and rows["dogs"].progress == 0.0
    assert [j.name for j in list_jobs(store)][0] == "boxes"  # newest first
    assert {j.name for j in list_jobs(store, type_id="image_classification")} == {"Cats-2024", "dogs"}
    assert [j.name for j in list_jobs(store, type_id="object_detection")] == ["boxes"]
    assert [j.name for j in list_jobs(store, search="cats")] == ["Cats-2024"]
    assert [j.name for j in list_jobs(store, search=" 2024 ")] == ["Cats-2024"]
    assert {j.name for j in list_jobs(store, search="O")} == {"dogs", "boxes"}
    assert list_jobs(store, type_id="image_classification", search="box") == []
    assert list_jobs(store, search="%") == [] and list_jobs(store, search="_") == []


# -- modify -------------------------------------------------------------------------------------

def test_modify_name_description_instructions_labels(store):
    job = new_job(store, "old", labels=("cat",))
    other = new_job(store, "other")
    got = modify_job(store, job.id, name="new", description="d", instructions="## How",
                     label_set=LabelSet(labels=[Label("cat"), Label("bird")]), actor="bob")
    assert (got.name, got.description, got.instructions, got.label_set.names()) == ("new", "d", "## How",
                                                                                    ["cat", "bird"])
    assert modify_job(store, job.id, name="new").name == "new"  # its own name is fine
    with pytest.raises(StoreError, match="already exists"):
        modify_job(store, job.id, name="other")
    with pytest.raises(ValidationError, match="limit is 256"):
        modify_job(store, job.id, description="x" * 257)
    with pytest.raises(ValidationError, match="only letters"):
        modify_job(store, job.id, label_set=LabelSet(labels=[Label("a b")]))
    got = get_job(store, job.id)  # the refusals changed nothing
    assert (got.name, got.description, got.label_set.names()) == ("new", "d", ["cat", "bird"])
    assert get_job(store, other.id).name == "other"


def test_modify_refuses_dropping_a_used_label(store):
    job = new_job(store, "j", labels=("cat", "dog", "bird"))
    ids = upload_images(store, job.id, 2)
    apply_labels(store, job.id, ids, ["cat"])
    with pytest.raises(ValidationError, match="'cat' is used by 2 samples"):  # the label-set editor's rule
        modify_job(store, job.id, label_set=LabelSet(labels=[Label("dog")]))
    assert get_job(store, job.id).label_set.names() == ["cat", "dog", "bird"]
    # unused labels may go
    assert modify_job(store, job.id, label_set=LabelSet(labels=[Label("cat")])).label_set.names() == ["cat"]


# -- copy ---------------------------------------------------------------------------------------

def test_copy_keeps_samples_and_label_set_not_labels(store):
    job = create_job(store, "orig", "image_classification", description="desc", instructions="inst",
                     label_set=LabelSet(labels=[Label("cat"), Label("dog")]), team_labeling=True)
    ids = upload_images(store, job.id, 3)
    apply_labels(store, job.id, ids[:2], ["cat"])
    cp = copy_job(store, job.id, actor="carol")
    assert re.fullmatch(r"orig-copy-[0-9a-f]{4}", cp.name)
    assert cp.id != job.id and cp.dataset_id == job.dataset_id and cp.type == job.type
    assert cp.label_set == job.label_set and cp.team_labeling is True
    assert (cp.description, cp.instructions) == ("desc", "inst")
    assert sample_ids(store, cp.id) == sample_ids(store, job.id) == ids
    assert status_counts(store, cp.id) == {"unlabeled": 3, "labeled": 0, "to_be_confirmed": 0}
    assert status_counts(store, job.id)["labeled"] == 2  # the original keeps its labels
    named = copy_job(store, job.id, name="mine", description="other")
    assert (named.name, named.description) == ("mine", "other")
    with pytest.raises(StoreError, match="already exists"):
        copy_job(store, job.id, name="mine")


def test_copy_of_a_long_name_stays_within_the_limit(store):
    job = new_job(store, "n" * 100)
    cp = copy_job(store, job.id)
    assert len(cp.name) <= 100 and "-copy-" in cp.name


# -- delete -------------------------------------------------------------------------------------

def test_delete_keeps_dataset_files_and_other_jobs(store, settings):
    job = new_job(store, "a")
    ids = upload_images(store, job.id, 3)
    other = create_job(store, "b", "image_classification", dataset_id=job.dataset_id,
                       label_set=LabelSet(labels=[Label("cat")]))
    apply_labels(store, job.id, ids, ["dog"])
    apply_labels(store, other.id, ids[:1], ["cat"])
    folder = settings.objects_root / "datasets" / str(job.dataset_id)
    files = sorted(p.name for p in folder.iterdir())
    assert len(files) == 3
    delete_job(store, job.id)
    with pytest.raises(NotFound):
        get_job(store, job.id)
    with pytest.raises(NotFound):
        find_job(store, "a")
    assert store.db.scalar("SELECT count(*) FROM job_samples WHERE job_id = ?", [job.id]) == 0
    assert sorted(p.name for p in folder.iterdir()) == files
    assert get_dataset(store, job.dataset_id).samples == 3
    assert sample_ids(store, other.id) == ids
    assert get_sample(store, other.id, ids[0]).labels == ["cat"]
    assert status_counts(store, other.id) == {"unlabeled": 2, "labeled": 1, "to_be_confirmed": 0}
    assert [j.name for j in list_jobs(store)] == ["b"]
    with pytest.raises(NotFound):
        delete_job(store, job.id)
    # the name is free again
    assert new_job(store, "a").name == "a"


# -- synchronize --------------------------------------------------------------------------------

def test_synchronize_adds_new_files_once_and_keeps_labels(store, tmp_path):
    folder = tmp_path / "imgs"
    make_image_folder(folder, {}, top=3)
    job = create_job(store, "sync", "image_classification", source=str(folder),
                     label_set=LabelSet(labels=[Label("cat")]))
    twin = create_job(store, "twin", "image_classification", dataset_id=job.dataset_id)
    first = sample_ids(store, job.id)
    apply_labels(store, job.id, first[:2], ["cat"])
    write_image(folder / "new_1.png", seed=7)
    write_image(folder / "sub" / "new_2.png", seed=8)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    rec = synchronize(store, job.id)
    assert (rec.found, rec.imported, rec.status) == (6, 2, "partial")
    assert any("broken.png" in e for e in rec.errors)
    assert status_counts(store, job.id) == {"unlabeled": 3, "labeled": 2, "to_be_confirmed": 0}
    assert [get_sample(store, job.id, s).labels for s in first] == [["cat"], ["cat"], []]
    assert len(sample_ids(store, twin.id)) == 5  # every job on the dataset gets the new files
    again = synchronize(store, job.id)
    assert again.imported == 0
    assert len(sample_ids(store, job.id)) == 5 and table_count(store, "samples") == 5
    assert status_counts(store, job.id)["labeled"] == 2
    assert [r.mode for r in list_imports(store, job.id)] == ["synchronize"] * 3


def test_synchronize_an_upload_dataset_finds_nothing_new(store):
    job = new_job(store, "up")
    upload_images(store, job.id, 2)
    rec = synchronize(store, job.id)
    assert (rec.found, rec.imported, rec.status) == (2, 0, "succeeded")


def test_synchronize_does_not_bring_back_samples_deleted_from_the_job(store, tmp_path):
    from store.samples import delete_samples

    make_image_folder(tmp_path / "imgs", {}, top=2)
    job = create_job(store, "j", "image_classification", source=str(tmp_path / "imgs"))
    ids = sample_ids(store, job.id)
    delete_samples(store, job.id, ids[:1])
    synchronize(store, job.id)
    assert sample_ids(store, job.id) == ids[1:]


def test_uploads_that_are_all_refused_leave_no_empty_job(store):
    """Issue 15: every refused file still created an empty job (and an empty dataset)."""
    import pytest

    from store.datasets import list_datasets
    from store.errors import ValidationError
    from store.imports import create_job_with_uploads
    from store.jobs import list_jobs

    before = len(list_datasets(store))
    with pytest.raises(ValidationError, match="no job was created") as err:
        create_job_with_uploads(store, "refused", "image_classification",
                                [("notes.txt", b"hello"), ("broken.png", b"not a png")])
    assert "notes.txt" in str(err.value) and "broken.png" in str(err.value)
    assert [j.name for j in list_jobs(store)] == [] and len(list_datasets(store)) == before
    assert store.db.scalar("SELECT count(*) FROM imports") == 0
    # the same name is free for the next try; one good file among bad ones makes the job
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "PNG")
    job, rec = create_job_with_uploads(store, "refused", "image_classification",
                                       [("notes.txt", b"hello"), ("ok.png", buf.getvalue())])
    assert rec.imported == 1 and len(rec.errors) == 1 and [j.name for j in list_jobs(store)] == ["refused"]
