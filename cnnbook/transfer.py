"""Transfer learning: a convolutional base pretrained on ImageNet reused for new classes, either
by computing its features once (way 1) or inside a model trained end to end (way 2).
Introduced in the chapter on pretrained networks.
"""

import time

import keras
import numpy as np

from cnnbook.book import cache, provenance

# The first layer of each network's last block: fine-tuning trains it and what follows.
TOP_BLOCKS = {"vgg16": "block5_conv1", "mobilenet_v2": "block_16_expand"}


def features(base, preprocess_input, datasets, description):
    """The base's outputs for each dataset of (images 0-255, labels) batches, computed once.

    datasets maps a name (e.g. "train") to a dataset; description says what makes them (the
    network, the image size, the split), for the result cache's key. Returns the cache's Entry:
    its value maps "<name>_features" and "<name>_labels" to arrays, its record["seconds"] is
    how long computing them took.
    """

    def compute():
        start = time.perf_counter()
        arrays = {}
        for name, dataset in datasets.items():
            images, labels = (np.concatenate(parts) for parts in zip(*dataset, strict=True))
            arrays[f"{name}_features"] = base.predict(preprocess_input(images), verbose=0)
            arrays[f"{name}_labels"] = labels
        return arrays, {"seconds": time.perf_counter() - start}

    full = {"what": "features", **description, "versions": provenance.versions()}
    return cache.cached(full, compute)


def unfreeze_top_block(base, network_name):
    """Make the base's last block trainable (TOP_BLOCKS), except its BatchNormalization layers,
    and everything before it frozen; returns the names of the layers now trainable."""
    if network_name not in TOP_BLOCKS:
        raise ValueError(f"network {network_name!r} is not one of {', '.join(TOP_BLOCKS)}")
    names = [layer.name for layer in base.layers]
    first = names.index(TOP_BLOCKS[network_name])
    base.trainable = True
    for index, layer in enumerate(base.layers):
        batch_norm = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = index >= first and not batch_norm
    return [layer.name for layer in base.layers if layer.trainable and layer.weights]
