"""The data layer: look-up order, accepted MNIST containers, checksums, and errors for people."""

import gzip
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest

from cnnbook.datasets import mnist, registry

UNUSED_URL = "http://127.0.0.1:9/never-served"  # port 9 (discard): the connection is refused


@pytest.fixture(scope="module")
def published():
    """MNIST as the environment provides it (CNNBOOK_DATA_DIR in CI)."""
    return mnist.load_data()


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """Empty data and cache folders, and a registry whose downloads can only fail."""
    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    monkeypatch.setenv("CNNBOOK_DATA_DIR", str(data))
    monkeypatch.setenv("CNNBOOK_CACHE_DIR", str(cache))
    entries = registry.registry()
    for entry in entries.values():
        if entry["url"]:
            entry["url"] = UNUSED_URL
    monkeypatch.setattr(registry, "registry", lambda: entries)
    return data, cache, entries


def save_npz(path, arrays):
    np.savez_compressed(path, **arrays)


def as_dict(published):
    (x_train, y_train), (x_test, y_test) = published
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def write_idx(path, array):
    """Write an unsigned-byte IDX file (the original MNIST format), gzipped if path ends .gz."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    body = header + array.astype(np.uint8).tobytes()
    if path.name.endswith(".gz"):
        body = gzip.compress(body, compresslevel=1)
    path.write_bytes(body)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_mnist_equal(loaded, reference):
    assert len(loaded) == 2 and all(len(pair) == 2 for pair in loaded)
    for got, want in zip(
        [a for pair in loaded for a in pair], [a for pair in reference for a in pair], strict=True
    ):
        assert isinstance(got, np.ndarray) and got.dtype == np.uint8
        np.testing.assert_array_equal(got, want)


def test_mnist_matches_the_published_facts(published):
    (x_train, y_train), (x_test, y_test) = published
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert round(float((x_train / 255).mean()), 5) == 0.13066


def test_resaved_npz_is_accepted(folders, published):
    data, _, _ = folders
    save_npz(data / "mnist.npz", as_dict(published))
    assert_mnist_equal(mnist.load_data(), published)


@pytest.mark.parametrize("spelling", ["{stem}", "{stem}.gz", "{dotted}", "{dotted}.gz"])
def test_original_idx_files_are_accepted(folders, published, spelling):
    data, _, _ = folders
    for key, stem in mnist.IDX_STEMS.items():
        name = spelling.format(stem=stem, dotted=stem.replace("-idx", ".idx"))
        write_idx(data / name, as_dict(published)[key])
    assert_mnist_equal(mnist.load_data(), published)


def test_user_cache_is_searched_after_the_data_dir(folders, published):
    _, cache, _ = folders
    cache.mkdir()
    save_npz(cache / "mnist.npz", as_dict(published))
    assert_mnist_equal(mnist.load_data(), published)


def test_several_data_folders_are_searched_in_order(folders, published, tmp_path, monkeypatch):
    data, _, _ = folders
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    monkeypatch.setenv("CNNBOOK_DATA_DIR", os.pathsep.join([str(first), str(second), str(data)]))
    with pytest.raises(registry.DataNotFoundError) as error:
        mnist.load_data()
    assert all(str(folder) in str(error.value) for folder in (first, second, data))
    save_npz(second / "mnist.npz", as_dict(published))
    assert_mnist_equal(mnist.load_data(), published)
    (first / "mnist.npz").write_bytes(b"not an npz")  # found first, and wrong: reported
    with pytest.raises(registry.DataFileError, match=str(first)):
        mnist.load_data()


def test_missing_mnist_names_every_place_and_the_fix(folders):
    data, cache, _ = folders
    with pytest.raises(registry.DataNotFoundError) as error:
        mnist.load_data()
    message = str(error.value)
    for expected in ["'mnist'", str(data), str(cache), UNUSED_URL, "CNNBOOK_DATA_DIR", "IDX"]:
        assert expected in message


def test_truncated_npz_is_reported_and_left_in_place(folders, published):
    data, _, _ = folders
    file = data / "mnist.npz"
    save_npz(file, as_dict(published))
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
    before = digest(file)
    with pytest.raises(registry.DataFileError, match="truncated") as error:
        mnist.load_data()
    assert str(file) in str(error.value) and "left in place" in str(error.value)
    assert digest(file) == before


def test_truncated_idx_file_is_reported(folders, published):
    data, _, _ = folders
    for key, stem in mnist.IDX_STEMS.items():
        write_idx(data / (f"{stem}.gz" if key == "x_train" else stem), as_dict(published)[key])
    broken = data / "train-images-idx3-ubyte.gz"
    broken.write_bytes(broken.read_bytes()[:1000])
    with pytest.raises(registry.DataFileError, match="train-images-idx3-ubyte.gz"):
        mnist.load_data()
    assert broken.stat().st_size == 1000


def test_wrong_arrays_are_rejected(folders, published):
    data, _, _ = folders
    arrays = as_dict(published)
    arrays["x_train"] = arrays["x_train"][:100]
    save_npz(data / "mnist.npz", arrays)
    with pytest.raises(registry.DataFileError, match=r"x_train .* shape \(100, 28, 28\)"):
        mnist.load_data()


def test_wrong_labels_are_rejected(folders, published):
    data, _, _ = folders
    arrays = as_dict(published)
    arrays["y_test"] = arrays["y_test"].copy()
    arrays["y_test"][[0, 1]] = arrays["y_test"][[1, 0]]  # two labels swapped
    save_npz(data / "mnist.npz", arrays)
    with pytest.raises(registry.DataFileError, match="y_test .* not MNIST's labels"):
        mnist.load_data()
    assert (data / "mnist.npz").exists()


def test_npz_without_mnist_keys_is_rejected(folders, published):
    data, _, _ = folders
    (x_train, y_train), _ = published
    save_npz(data / "mnist.npz", {"x_train": x_train, "y_train": y_train})
    with pytest.raises(registry.DataFileError, match=r"lacks the arrays \['x_test', 'y_test'\]"):
        mnist.load_data()


def test_incomplete_idx_set_is_rejected(folders, published):
    data, _, _ = folders
    write_idx(data / "train-images-idx3-ubyte", as_dict(published)["x_train"])
    with pytest.raises(registry.DataFileError, match="t10k-labels-idx1-ubyte"):
        mnist.load_data()


def test_unreadable_data_dir_says_so(tmp_path):
    """A folder without read permission: run the loader without root's override of it."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    command = [sys.executable, "-c", "from cnnbook.datasets import mnist; mnist.load_data()"]
    if os.geteuid() == 0:  # root reads anything; drop that privilege for the child
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv (util-linux) to drop the privilege")
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
    env = dict(os.environ, CNNBOOK_DATA_DIR=str(locked), CNNBOOK_CACHE_DIR=str(tmp_path / "c"))
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    finally:
        locked.chmod(0o755)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith(
        "cnnbook.datasets.registry.DataFileError: cannot read the CNNBOOK_DATA_DIR"
    )
    assert str(locked) in last_line and "chmod" in last_line


@pytest.fixture
def server(tmp_path):
    """A local HTTP server (loopback only) serving tmp_path/served."""
    served = tmp_path / "served"
    served.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def class_index_bytes():
    return json.dumps({str(i): [f"n{i:08d}", f"class_{i}"] for i in range(3)}).encode()


@pytest.fixture
def published_index(folders, server):
    """A class index served on the loopback at the registry's address, with its sha256."""
    _, cache, entries = folders
    served, url = server
    content = class_index_bytes()
    (served / "index.json").write_bytes(content)
    entries["imagenet_class_index"].update(
        url=f"{url}/index.json", sha256=hashlib.sha256(content).hexdigest()
    )
    return served, cache, content


def test_download_lands_in_cache_checked_by_sha256(published_index):
    served, cache, content = published_index
    got = registry.path("imagenet_class_index")
    assert got == cache / "imagenet_class_index.json" and got.read_bytes() == content
    (served / "index.json").unlink()  # a second look-up is served from the cache
    assert registry.path("imagenet_class_index") == got


def test_download_with_wrong_checksum_keeps_nothing(folders, server):
    _, cache, entries = folders
    served, url = server
    (served / "index.json").write_bytes(class_index_bytes())
    entries["imagenet_class_index"]["url"] = f"{url}/index.json"  # registry sha256 won't match
    with pytest.raises(registry.DataNotFoundError, match="download from .* failed"):
        registry.path("imagenet_class_index")
    assert not (cache / "imagenet_class_index.json").exists()


def test_wrong_local_file_is_never_replaced_by_a_download(published_index):
    _, cache, _ = published_index
    cache.mkdir()
    mine = cache / "imagenet_class_index.json"
    mine.write_text("my own edited file")
    with pytest.raises(registry.DataFileError, match="left in place"):
        registry.path("imagenet_class_index")
    assert mine.read_text() == "my own edited file"


def test_data_set_without_public_copy_says_so(folders):
    with pytest.raises(registry.DataNotFoundError, match="download: none"):
        registry.path("flowers")


def test_every_registry_file_in_the_data_dir_verifies():
    """Each single-file data set the environment provides matches the registry's checksum."""
    folders = [folder for _, folder in registry.search_dirs() if folder.is_dir()]
    provided = {name for folder in folders for name in os.listdir(folder)}
    checked = 0
    for name, entry in registry.registry().items():
        if "arrays" not in entry and entry["files"][0] in provided:
            assert registry.find(name).name == entry["files"][0]
            checked += 1
    assert checked or not os.environ.get("CI"), "CI provides the shared data folder"


def test_an_optional_file_that_is_missing_is_never_downloaded(published_index):
    """registry.find looks on this machine only: VGG16's 528 MB are never fetched by a chapter."""
    _, cache, _ = published_index
    assert registry.find("imagenet_class_index") is None
    assert not (cache / "imagenet_class_index.json").exists()


def test_a_file_published_with_an_md5_is_checked_by_it(folders, server):
    """Keras publishes MD5s for its weight files (VGG16's): the registry accepts that algorithm."""
    data, _, entries = folders
    content = class_index_bytes()
    entry = entries["imagenet_class_index"]
    del entry["sha256"]
    entry["md5"] = hashlib.md5(content).hexdigest()
    (data / "imagenet_class_index.json").write_bytes(content)
    assert registry.path("imagenet_class_index") == data / "imagenet_class_index.json"
    entry["md5"] = hashlib.md5(b"another file").hexdigest()
    with pytest.raises(registry.DataFileError, match=r"\(md5 [0-9a-f]{12}\.\.\., expected"):
        registry.path("imagenet_class_index")
    assert (data / "imagenet_class_index.json").read_bytes() == content  # left in place


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("mnist", r"cnnbook.datasets.mnist.load_data\(\)"),
        ("cifar10", "unknown data set 'cifar10'; known ones are"),
    ],
)
def test_path_rejects_names_it_cannot_serve(name, message):
    with pytest.raises(ValueError, match=message):
        registry.path(name)
