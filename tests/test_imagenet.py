"""The pretrained ImageNet networks, loaded offline: a cat photo's classes, class names as
Keras' decode_predictions gives them, and weights files with the wrong checksum refused."""

import json

import keras
import numpy as np
import pytest
from keras.src.applications import imagenet_utils
from skimage import data

from cnnbook.datasets import imagenet, registry

DOMESTIC_CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat


@pytest.fixture(scope="module")
def network():
    return imagenet.pretrained()


def test_the_pretrained_network_puts_a_cat_class_in_chelseas_top_3(network):
    photo = keras.layers.Resizing(224, 224, crop_to_aspect_ratio=True)(
        data.chelsea().astype("float32")
    )
    probabilities = network.predict(np.asarray(photo)[np.newaxis])
    top3 = np.argsort(probabilities[0])[::-1][:3]
    assert set(top3) & set(DOMESTIC_CATS), [imagenet.class_index()[i] for i in top3]


def test_the_convolutional_base_keeps_the_pretrained_weights_at_another_size(network):
    base = imagenet.convolutional_base(input_shape=(64, 64, 3))
    assert base.output_shape[1:3] == (2, 2)  # five halvings of 64
    first = next(layer for layer in base.layers if layer.weights)
    for ours, theirs in zip(
        first.get_weights(), network.model.get_layer(first.name).get_weights(), strict=True
    ):
        np.testing.assert_array_equal(ours, theirs)


def test_decode_predictions_agrees_with_keras(monkeypatch):
    """Keras' decode_predictions, given the class index it would download (by its MD5)."""
    index_file = registry.path("imagenet_class_index")
    assert registry.file_digest(index_file, "md5") == "c2c37ea517e94d9795004a39431a14cb"
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", json.loads(index_file.read_text()))
    probabilities = np.random.default_rng(0).dirichlet(np.full(1000, 0.1), size=3)
    ours = imagenet.decode_predictions(probabilities, top=5)
    theirs = keras.applications.imagenet_utils.decode_predictions(probabilities, top=5)
    assert [[row[:2] for row in image] for image in ours] == [
        [row[:2] for row in image] for image in theirs
    ]
    np.testing.assert_allclose(
        [[row[2] for row in image] for image in ours],
        [[row[2] for row in image] for image in theirs],
    )
    with pytest.raises(ValueError, match=r"should be \(n, 1000\)"):
        imagenet.decode_predictions(probabilities[:, :10])


@pytest.mark.parametrize(
    "name, algorithm", [("vgg16_weights", "md5"), ("mobilenet_v2_weights", "sha256")]
)
def test_a_weights_file_with_the_wrong_checksum_is_refused_and_left_in_place(
    name, algorithm, tmp_path, monkeypatch
):
    monkeypatch.setenv("CNNBOOK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CNNBOOK_CACHE_DIR", str(tmp_path / "cache"))
    (fname,) = registry.entry(name)["files"]
    fake = tmp_path / fname
    fake.write_bytes(b"not the weights" * 100)
    with pytest.raises(registry.DataFileError) as error:
        registry.path(name)
    message = str(error.value)
    assert str(fake) in message and f"not the expected {name} file ({algorithm}" in message
    assert "left in place" in message
    assert fake.read_bytes() == b"not the weights" * 100
    with pytest.raises(registry.DataFileError):  # and the network is not built on it
        imagenet.pretrained()
