"""Transfer learning: a base's features computed once and read back from the cache (way 1), and
the top block unfrozen for fine-tuning with its BatchNormalization layers kept frozen (way 2)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from cnnbook import transfer


def test_features_are_the_bases_outputs_computed_once(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNBOOK_CACHE_DIR", str(tmp_path))
    keras.utils.set_random_seed(0)
    base = keras.Sequential([keras.Input(shape=(8, 8, 3)), keras.layers.Conv2D(4, 3)])
    images = np.random.default_rng(0).uniform(0, 255, (10, 8, 8, 3)).astype("float32")
    labels = np.arange(10, dtype="float32").reshape(10, 1)
    datasets = {"train": tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)}

    def halve(x):
        return x / 2

    first = transfer.features(base, halve, datasets, {"test": "tiny"})
    np.testing.assert_allclose(first.value["train_features"], base.predict(images / 2, verbose=0))
    np.testing.assert_array_equal(first.value["train_labels"], labels)
    assert not first.from_cache and first.record["seconds"] > 0
    again = transfer.features(base, halve, datasets, {"test": "tiny"})
    assert again.from_cache and again.record["seconds"] == first.record["seconds"]
    np.testing.assert_array_equal(again.value["train_features"], first.value["train_features"])


def test_unfreeze_top_block_trains_the_last_block_but_not_its_batch_normalization():
    base = keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=(64, 64, 3))
    base.trainable = False
    names = transfer.unfreeze_top_block(base, "mobilenet_v2")
    assert names == ["block_16_expand", "block_16_depthwise", "block_16_project", "Conv_1"]
    expected = sum(base.get_layer(name).count_params() for name in names)
    assert sum(int(np.prod(w.shape)) for w in base.trainable_weights) == expected
    assert not base.get_layer("block_16_expand_BN").trainable
    assert not base.get_layer("block_15_project").trainable
    with pytest.raises(ValueError, match="is not one of"):
        transfer.unfreeze_top_block(base, "resnet50")
