"""Samples of a job: tabs, paging, filters, labeling actions, label management, delete,
thumbnails (SPEC F2.3-F2.5, F3.1)."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from store.annotations import (add_label, apply_labels, delete_label, label_usage, remove_labels, rename_label,
                               set_labels)
from store.errors import NotFound, StoreError, ValidationError
from store.jobs import get_job
from store.samples import (SampleQuery, clusters, counts, delete_samples, get_sample, label_counts, labelers,
                           page_sample_ids, query_samples, sample_image, sample_thumbnail, set_cluster, set_hard,
                           status_counts)
from tests.factories import new_job, table_count, upload_images


def ids_of(store, job_id, **q):
    q.setdefault("page_size", 500)
    return page_sample_ids(store, job_id, SampleQuery(**q))


def mark_to_be_confirmed(store, job_id, sample_ids, label="cat", model="vit-tiny"):
    """What an auto-labeling run writes (F4.4): labels waiting for a human, from inference."""
    with store.db.transaction() as cur:
        cur.execute("UPDATE job_samples SET status = 'to_be_confirmed', labels = [?], annotation = json_object("
                    "'labels', [?]), from_inference = true, confidence = 0.7, model = ? "
                    "WHERE job_id = ? AND sample_id IN (SELECT unnest(?::BIGINT[]))",
                    [label, label, model, job_id, sample_ids])


@pytest.fixture
def job12(store):
    """A job with 12 images: 0-3 cat (by alice), 4-5 dog (by bob), 6 cat+dog (by bob), 7-8 to be
    confirmed (cat, from inference), 9-11 unlabeled."""
    job = new_job(store, "grid", labels=("cat", "dog", "bird"))
    ids = upload_images(store, job.id, 10, prefix="Photo") + upload_images(store, job.id, 2, prefix="other")
    apply_labels(store, job.id, ids[0:4], ["cat"], actor="alice")
    apply_labels(store, job.id, ids[4:6], ["dog"], actor="bob")
    apply_labels(store, job.id, ids[6:7], ["cat", "dog"], actor="bob")
    mark_to_be_confirmed(store, job.id, ids[7:9])
    return job, ids


# -- tabs, paging ---------------------------------------------------------------------------------

def test_tabs_and_counts(store, job12):
    job, ids = job12
    assert status_counts(store, job.id) == {"unlabeled": 3, "labeled": 7, "to_be_confirmed": 2}
    assert ids_of(store, job.id) == ids
    assert ids_of(store, job.id, status="unlabeled") == ids[9:]
    assert ids_of(store, job.id, status="labeled") == ids[:7]
    assert ids_of(store, job.id, status="to_be_confirmed") == ids[7:9]
    c = counts(store, job.id)
    assert c.total == 12 and c.by_label == {"cat": 7, "dog": 3, "bird": 0}
    with pytest.raises(ValidationError, match="unknown tab"):
        ids_of(store, job.id, status="done")


def test_paging_and_clamping(store, job12):
    job, ids = job12
    pages = [query_samples(store, job.id, SampleQuery(page=p, page_size=5)) for p in (1, 2, 3)]
    assert [p.page for p in pages] == [1, 2, 3] and all(p.total == 12 and p.pages == 3 for p in pages)
    assert [s.id for p in pages for s in p.items] == ids
    beyond = query_samples(store, job.id, SampleQuery(page=99, page_size=5))
    assert beyond.page == 3 and [s.id for s in beyond.items] == ids[10:]
    before = query_samples(store, job.id, SampleQuery(page=0, page_size=5))
    assert before.page == 1 and [s.id for s in before.items] == ids[:5]
    empty = query_samples(store, job.id, SampleQuery(status="unlabeled", labels=("cat",), page=4))
    assert (empty.total, empty.page, empty.pages, empty.items) == (0, 1, 1, [])
    for size in (0, 501):
        with pytest.raises(ValidationError, match="page size"):
            query_samples(store, job.id, SampleQuery(page_size=size))


def test_sample_view_fields(store, job12):
    job, ids = job12
    s = get_sample(store, job.id, ids[6])
    assert s.labels == ["cat", "dog"] and s.status == "labeled" and s.labeled_by == "bob"
    assert s.labeled_at is not None and s.annotation == {"labels": ["cat", "dog"]}
    assert s.name == "Photo_6.png" and s.meta["width"] == 16 and s.meta["format"] == "PNG"
    t = get_sample(store, job.id, ids[7])
    assert t.from_inference is True and t.confidence == 0.7
    with pytest.raises(NotFound):
        get_sample(store, job.id, 10_000)


# -- filters --------------------------------------------------------------------------------------

def test_filters_combined(store, job12):
    job, ids = job12
    assert ids_of(store, job.id, labels=("dog",)) == ids[4:7]
    assert ids_of(store, job.id, labels=("dog", "bird")) == ids[4:7]
    assert ids_of(store, job.id, labels=("cat", "dog")) == ids[:9]  # any of
    assert ids_of(store, job.id, labels=("cat",), status="labeled") == [*ids[:4], ids[6]]
    assert ids_of(store, job.id, name="photo") == ids[:10]  # case-insensitive substring
    assert ids_of(store, job.id, name="PHOTO_1") == [ids[1]]
    assert ids_of(store, job.id, name="  other_ ") == ids[10:]
    assert ids_of(store, job.id, name="%") == [] and ids_of(store, job.id, name="_") == ids
    assert ids_of(store, job.id, labeled_by="bob") == ids[4:7]
    assert ids_of(store, job.id, labeled_by="bob", labels=("cat",)) == [ids[6]]
    assert labelers(store, job.id) == ["alice", "bob"]
    assert ids_of(store, job.id, from_inference=True) == ids[7:9]
    assert ids_of(store, job.id, from_inference=False, status="to_be_confirmed") == []

    assert set_hard(store, job.id, [ids[0], ids[5], ids[9]], True, coefficient=0.8, reason="margin") == 3
    assert ids_of(store, job.id, hard=True) == [ids[0], ids[5], ids[9]]
    assert ids_of(store, job.id, hard=False) == [i for i in ids if i not in (ids[0], ids[5], ids[9])]
    assert ids_of(store, job.id, hard=True, labels=("dog",)) == [ids[5]]
    assert ids_of(store, job.id, hard=True, status="unlabeled", name="photo") == [ids[9]]
    h = get_sample(store, job.id, ids[0])
    assert (h.hard, h.hard_coefficient, h.hard_reason) == (True, 0.8, "margin")
    assert set_hard(store, job.id, [ids[5]], False) == 1
    u = get_sample(store, job.id, ids[5])
    assert (u.hard, u.hard_coefficient, u.hard_reason) == (False, None, None)
    hard_first = query_samples(store, job.id, SampleQuery(hard_first=True, page_size=3)).items
    assert [s.id for s in hard_first] == [ids[0], ids[9], ids[1]]
    with pytest.raises(ValidationError, match="between 0 and 1"):
        set_hard(store, job.id, ids[:1], True, coefficient=1.5)
    with pytest.raises(ValidationError, match="select at least one"):
        set_hard(store, job.id, [], True)

    set_cluster(store, job.id, {ids[0]: "c1", ids[1]: "c1", ids[9]: "c2"})
    assert clusters(store, job.id) == ["c1", "c2"]
    assert ids_of(store, job.id, cluster="c1") == ids[:2]
    assert ids_of(store, job.id, cluster="c1", hard=True, labels=("cat",), name="photo_0",
                  labeled_by="alice", status="labeled", from_inference=False) == [ids[0]]
    assert ids_of(store, job.id, cluster="c2", status="labeled") == []


def test_filters_do_not_leak_across_jobs(store, job12):
    job, ids = job12
    other = new_job(store, "other-job")
    upload_images(store, other.id, 2, prefix="Photo")
    assert ids_of(store, job.id, name="photo") == ids[:10]
    set_hard(store, other.id, ids[:3], True)  # ids of another job: nothing happens
    assert ids_of(store, job.id, hard=True) == []


# -- labeling actions (F3.1) ----------------------------------------------------------------------

def test_apply_labels_to_several_samples_adds_a_typed_label(store, job12):
    job, ids = job12
    assert apply_labels(store, job.id, [ids[9], ids[10], ids[9]], ["кошка", " bird "], actor="carol") == 2
    assert get_job(store, job.id).label_set.names() == ["cat", "dog", "bird", "кошка"]
    assert get_sample(store, job.id, ids[9]).labels == ["кошка", "bird"]
    assert ids_of(store, job.id, status="unlabeled") == [ids[11]]
    assert label_counts(store, job.id) == {"cat": 7, "dog": 3, "bird": 2, "кошка": 2}
    # adding a label a sample already has keeps it once
    apply_labels(store, job.id, [ids[0]], ["cat", "dog"])
    assert get_sample(store, job.id, ids[0]).labels == ["cat", "dog"]
    # a to-be-confirmed sample labeled by a human becomes labeled, no longer from inference
    apply_labels(store, job.id, [ids[7]], ["bird"], actor="carol")
    s = get_sample(store, job.id, ids[7])
    assert (s.status, s.labels, s.from_inference, s.confidence, s.labeled_by) == (
        "labeled", ["cat", "bird"], False, None, "carol")


def test_apply_labels_refusals_change_nothing(store, job12):
    job, ids = job12
    before = status_counts(store, job.id), get_job(store, job.id).label_set
    with pytest.raises(ValidationError, match="only letters"):
        apply_labels(store, job.id, ids[9:], ["chat noir"])
    with pytest.raises(ValidationError, match="choose a label"):
        apply_labels(store, job.id, ids[9:], ["", "  "])
    with pytest.raises(ValidationError, match="select at least one"):
        apply_labels(store, job.id, [], ["cat"])
    with pytest.raises(NotFound, match="no longer in this job"):
        apply_labels(store, job.id, [ids[9], 99_999], ["newlabel"])
    assert (status_counts(store, job.id), get_job(store, job.id).label_set) == before
    assert "newlabel" not in get_job(store, job.id).label_set.names()


def test_remove_labels(store, job12):
    job, ids = job12
    assert remove_labels(store, job.id, [ids[0], ids[6], ids[4]], ["cat"]) == 2  # ids[4] has no cat
    assert get_sample(store, job.id, ids[0]).status == "unlabeled"
    assert get_sample(store, job.id, ids[0]).labels == [] and get_sample(store, job.id, ids[0]).labeled_by is None
    assert get_sample(store, job.id, ids[6]).labels == ["dog"]
    assert get_sample(store, job.id, ids[6]).status == "labeled"
    assert status_counts(store, job.id) == {"unlabeled": 4, "labeled": 6, "to_be_confirmed": 2}
    assert label_counts(store, job.id)["cat"] == 5
    assert get_job(store, job.id).label_set.names() == ["cat", "dog", "bird"]  # the set keeps it


def test_set_labels_replaces_one_sample(store, job12):
    job, ids = job12
    set_labels(store, job.id, ids[6], ["bird"])
    assert get_sample(store, job.id, ids[6]).labels == ["bird"]
    set_labels(store, job.id, ids[6], [])
    assert get_sample(store, job.id, ids[6]).status == "unlabeled"


def test_rename_label_everywhere(store, job12):
    job, ids = job12
    assert rename_label(store, job.id, "cat", "feline") == 7  # 5 labeled + 2 to be confirmed
    assert get_job(store, job.id).label_set.names() == ["feline", "dog", "bird"]
    assert get_sample(store, job.id, ids[6]).labels == ["feline", "dog"]
    assert get_sample(store, job.id, ids[6]).annotation == {"labels": ["feline", "dog"]}
    assert get_sample(store, job.id, ids[7]).status == "to_be_confirmed"
    assert label_counts(store, job.id) == {"feline": 7, "dog": 3, "bird": 0}
    assert ids_of(store, job.id, labels=("cat",)) == []
    with pytest.raises(StoreError, match="already exists"):
        rename_label(store, job.id, "feline", "dog")
    with pytest.raises(NotFound):
        rename_label(store, job.id, "cat", "x")
    with pytest.raises(ValidationError, match="only letters"):
        rename_label(store, job.id, "dog", "big dog")
    assert rename_label(store, job.id, "dog", "dog") == 0


def test_delete_label_everywhere(store, job12):
    job, ids = job12
    assert delete_label(store, job.id, "cat") == 7
    assert get_job(store, job.id).label_set.names() == ["dog", "bird"]
    assert get_sample(store, job.id, ids[6]).labels == ["dog"]
    s0 = get_sample(store, job.id, ids[0])
    assert (s0.status, s0.labels, s0.annotation, s0.labeled_by) == ("unlabeled", [], None, None)
    assert status_counts(store, job.id) == {"unlabeled": 9, "labeled": 3, "to_be_confirmed": 0}
    assert label_usage(store, job.id) == {"dog": 3, "bird": 0}
    with pytest.raises(NotFound):
        delete_label(store, job.id, "cat")


def test_delete_label_and_samples_with_only_this_label(store, job12):
    job, ids = job12
    assert delete_label(store, job.id, "cat", delete_samples_with_only_this=True) == 7
    assert ids_of(store, job.id) == [ids[4], ids[5], ids[6], *ids[9:]]
    assert table_count(store, "samples") == 12  # the dataset keeps the files


def test_add_label(store, job12):
    job, _ = job12
    assert add_label(store, job.id, "fish").label_set.names() == ["cat", "dog", "bird", "fish"]
    with pytest.raises(StoreError, match="already exists"):
        add_label(store, job.id, "fish")


# -- delete samples (F2.3) ------------------------------------------------------------------------

def test_delete_samples_keeps_files_unless_asked(store, settings):
    job = new_job(store, "del")
    other = new_job(store, "other")
    ids = upload_images(store, job.id, 4)
    other_ids = upload_images(store, other.id, 1, prefix="keep")
    folder = settings.objects_root / "datasets" / str(job.dataset_id)
    assert sorted(p.name for p in folder.iterdir()) == [f"img_{i}.png" for i in range(4)]

    with pytest.raises(ValidationError, match="select at least one"):
        delete_samples(store, job.id, [])
    res = delete_samples(store, job.id, [ids[0], ids[0]])
    assert (res.removed, res.files_deleted, res.errors) == (1, 0, [])
    assert ids_of(store, job.id) == ids[1:]
    assert (folder / "img_0.png").is_file() and table_count(store, "samples") == 5

    sample_thumbnail(store, ids[1])
    res = delete_samples(store, job.id, [ids[1], ids[2]], delete_source=True)
    assert (res.removed, res.files_deleted, res.errors) == (2, 2, [])
    assert sorted(p.name for p in folder.iterdir()) == ["img_0.png", "img_3.png"]
    assert ids_of(store, job.id) == [ids[3]] and table_count(store, "samples") == 3
    assert not list((store.cache_dir / "thumbs").rglob(f"{ids[1]}.webp"))


def test_delete_source_only_touches_samples_of_this_job(store, settings):
    """Sample ids of another job's dataset must not be deleted (nor their files) through this job."""
    job = new_job(store, "mine")
    other = new_job(store, "theirs")
    upload_images(store, job.id, 1)
    theirs = upload_images(store, other.id, 2, prefix="theirs")
    res = delete_samples(store, job.id, theirs, delete_source=True)
    assert (res.removed, res.files_deleted) == (0, 0)
    assert ids_of(store, other.id) == theirs
    assert len(list((settings.objects_root / "datasets" / str(other.dataset_id)).iterdir())) == 2


def test_delete_source_removes_the_sample_from_every_job_on_the_dataset(store):
    from store.jobs import create_job

    job = new_job(store, "a")
    ids = upload_images(store, job.id, 2)
    twin = create_job(store, "b", "image_classification", dataset_id=job.dataset_id)
    delete_samples(store, job.id, ids[:1], delete_source=True)
    assert ids_of(store, twin.id) == ids[1:]


# -- thumbnails -----------------------------------------------------------------------------------

def test_thumbnail_is_webp_and_cached(store):
    job = new_job(store, "thumbs")
    ids = upload_images(store, job.id, 1)
    data = sample_thumbnail(store, ids[0])
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    img = Image.open(io.BytesIO(data))
    assert img.format == "WEBP" and max(img.size) >= 64  # tiny images are scaled up to stay visible
    assert sample_thumbnail(store, ids[0]) == data
    assert list((store.cache_dir / "thumbs").rglob("*.webp"))
    assert sample_image(store, ids[0]).size == (16, 12)
    with pytest.raises(NotFound):
        sample_thumbnail(store, 12345)


def test_thumbnail_of_a_large_image_is_small(store):
    from store.imports import upload_files
    from tests.factories import image_bytes

    job = new_job(store, "big")
    upload_files(store, job.id, [("big.jpg", image_bytes("JPEG", size=(1600, 900)))])
    sid = ids_of(store, job.id)[0]
    img = Image.open(io.BytesIO(sample_thumbnail(store, sid)))
    assert max(img.size) == 256 and img.size[0] > img.size[1]


def test_sample_ids_are_never_reused(store, tmp_path):
    """Thumbnails are cached (on disk and by browsers) by sample id: a new file must never get the
    id of a deleted one."""
    from store.imports import import_location
    from store.jobs import create_job, synchronize
    from tests.factories import make_image_folder, write_image

    job = new_job(store, "ids")
    ids = upload_images(store, job.id, 3)
    delete_samples(store, job.id, ids[1:], delete_source=True)
    (new,) = upload_images(store, job.id, 1, prefix="new")
    assert new > max(ids)
    # registering only files already there keeps the mark
    make_image_folder(tmp_path / "imgs", {}, top=2)
    folder_job = create_job(store, "folder", "image_classification", source=str(tmp_path / "imgs"))
    last = ids_of(store, folder_job.id)[-1]
    delete_samples(store, folder_job.id, [last], delete_source=True)
    assert import_location(store, folder_job.id, str(tmp_path / "imgs")).imported == 1
    write_image(tmp_path / "imgs" / "later.png", seed=9)
    synchronize(store, folder_job.id)
    assert ids_of(store, folder_job.id)[-1] > last


def test_the_next_pages_thumbnails_are_made_in_the_background(store):
    """A grid page's view asks for the next page's thumbnails (store.samples.prefetch_next_thumbnails):
    they are on disk by the time a labeler pages forward; the last page asks for nothing, and a
    closed store runs nothing more."""
    import time

    from store.samples import _thumb_path, prefetch_next_thumbnails

    job = new_job(store, "pf")
    ids = upload_images(store, job.id, 5)
    q = SampleQuery(page=1, page_size=2)
    prefetch_next_thumbnails(store, job.id, q)
    deadline = time.monotonic() + 60
    while not all(_thumb_path(store, i).exists() for i in ids[2:4]):
        assert time.monotonic() < deadline, "the next page's thumbnails were not made"
        time.sleep(0.02)
    assert not _thumb_path(store, ids[4]).exists() and not _thumb_path(store, ids[0]).exists()
    prefetch_next_thumbnails(store, job.id, SampleQuery(page=3, page_size=2))  # the last page: no page 4
    while store.caches.prefetch._running:
        time.sleep(0.02)
    assert not any(_thumb_path(store, i).exists() for i in (ids[0], ids[1], ids[4]))
    assert not list(_thumb_path(store, ids[2]).parent.glob("*.part"))  # written whole, then renamed
    store.caches.prefetch.close()
    prefetch_next_thumbnails(store, job.id, SampleQuery(page=2, page_size=2))
    assert not store.caches.prefetch._running
