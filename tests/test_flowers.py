"""The flower photos and image folders: unpacking into the user cache, the checks that name bad
files before training, and the train/validation/test split."""

import tarfile

import numpy as np
import pytest
import tensorflow as tf

from cnnbook import folders
from cnnbook.datasets import flowers, registry


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty user cache (the data folder stays CNNBOOK_DATA_DIR, where the tar is)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("CNNBOOK_CACHE_DIR", str(folder))
    return folder


def write_jpeg(path, seed=0, size=16):
    """Write a small random RGB JPEG."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_jpeg(pixels).numpy())


def good_folder(root, classes=("daisy", "sunflower"), per_class=3):
    for index, name in enumerate(classes):
        for number in range(per_class):
            write_jpeg(root / name / f"{number}.jpg", seed=10 * index + number)
    return root


def test_load_data_unpacks_the_tar_into_the_user_cache_once(cache, monkeypatch):
    folder = flowers.load_data()
    assert folder.is_relative_to(cache)
    with tarfile.open(registry.path("flowers")) as archive:
        expected = sorted(m.name for m in archive.getmembers() if m.isfile())
    found = sorted(p.relative_to(folder.parent).as_posix() for p in folder.rglob("*.jpg"))
    assert found == expected and len(found) == 1497
    assert sorted(p.name for p in folder.iterdir()) == list(flowers.CLASS_NAMES)
    assert [p.name for p in folder.parent.parent.iterdir()] == [folder.parent.name]  # no drafts

    def refuse(*args, **kwargs):
        raise AssertionError("the unpacked copy should be reused, not unpacked again")

    monkeypatch.setattr(tarfile, "open", refuse)
    assert flowers.load_data() == folder


def test_check_counts_the_images_of_each_class(tmp_path):
    root = good_folder(tmp_path / "photos")
    write_jpeg(root / "daisy" / "more" / "deep.JPEG", seed=99)
    assert folders.check(root) == {"daisy": 4, "sunflower": 3}


def test_check_names_a_corrupt_jpeg(tmp_path):
    root = good_folder(tmp_path / "photos")
    bad = root / "sunflower" / "1.jpg"
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"sunflower/1\.jpg: cannot be decoded \(jpeg") as error:
        folders.check(root)
    assert str(error.value).count("\n  - ") == 1


def test_check_names_a_file_that_is_not_an_image(tmp_path):
    root = good_folder(tmp_path / "photos")
    (root / "daisy" / "notes.txt").write_text("not a photo")
    (root / "daisy" / "fake.jpg").write_text("not a photo either")
    with pytest.raises(ValueError) as error:
        folders.check(root)
    message = str(error.value)
    assert "daisy/notes.txt: not an image file (.txt)" in message
    assert "would skip it silently" in message
    assert "daisy/fake.jpg: cannot be decoded (Unknown image file format" in message


def test_check_names_an_empty_class_folder(tmp_path):
    root = good_folder(tmp_path / "photos")
    (root / "tulip").mkdir()
    with pytest.raises(ValueError, match=r"photos/tulip: empty class folder"):
        folders.check(root)


def test_check_refuses_a_folder_without_class_folders(tmp_path):
    write_jpeg(tmp_path / "loose.jpg")
    with pytest.raises(ValueError, match="has no subfolders"):
        folders.check(tmp_path)
    with pytest.raises(ValueError, match="is not a folder"):
        folders.check(tmp_path / "missing")


def test_split_copies_disjoint_balanced_selections(tmp_path, cache):
    root = good_folder(tmp_path / "photos", per_class=6)
    parts = folders.split(root, train=6, validation=2, test=2, seed=1)
    assert parts["train"].is_relative_to(cache)
    chosen = {}
    for name, want in (("train", 3), ("validation", 1), ("test", 1)):
        for label in ("daisy", "sunflower"):
            files = sorted(p.name for p in (parts[name] / label).iterdir())
            assert len(files) == want
            for file in files:
                assert (parts[name] / label / file).read_bytes() == (
                    root / label / file
                ).read_bytes()
            chosen.setdefault(label, []).extend(files)
    assert all(len(set(files)) == 5 for files in chosen.values())  # no photo in two splits
    assert folders.split(root, train=6, validation=2, test=2, seed=1) == parts
    assert folders.split(root, train=6, validation=2, test=2, seed=2) != parts


def test_split_refuses_what_it_cannot_do(tmp_path, cache):
    root = good_folder(tmp_path / "photos", per_class=3)
    with pytest.raises(ValueError, match="cannot be shared equally among 2 classes"):
        folders.split(root, train=3, validation=2, test=2)
    with pytest.raises(ValueError, match="has 3 images, fewer than the 4 per class"):
        folders.split(root, train=4, validation=2, test=2)
