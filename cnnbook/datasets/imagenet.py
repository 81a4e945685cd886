"""Networks pretrained on ImageNet, loaded offline through the registry, and the class names
of their predictions. Introduced in the chapter on pretrained networks.

The base is VGG16, the notes' network, when its weights (``vgg16_weights``, 528 MB) are on this
machine, and otherwise MobileNetV2 (``mobilenet_v2_weights``: converted from a quantized
model, so slightly less accurate than Keras' own file). `pretrained` says which it loaded.
"""

import dataclasses
import json

import keras
import numpy as np

from cnnbook.datasets import registry

INPUT_SIZE = 224  # both networks were trained on 224×224 RGB images
NETWORKS = {
    # name: (Keras constructor, its preprocess_input, registry entry, last convolutional layer)
    "vgg16": (
        keras.applications.VGG16,
        keras.applications.vgg16.preprocess_input,
        "vgg16_weights",
        "block5_conv3",
    ),
    "mobilenet_v2": (
        keras.applications.MobileNetV2,
        keras.applications.mobilenet_v2.preprocess_input,
        "mobilenet_v2_weights",
        "Conv_1",
    ),
}


@dataclasses.dataclass(frozen=True)
class Pretrained:
    """A pretrained ImageNet classifier with what using it needs."""

    name: str  # a key of NETWORKS
    model: keras.Model  # 224×224×3 images in, 1000 class probabilities out
    preprocess_input: object  # RGB values 0-255 -> what the model expects
    last_conv_layer_name: str  # the last convolution, for class-activation maps

    def predict(self, images, batch_size=32):
        """Class probabilities (n, 1000) of RGB images (n, 224, 224, 3) with values 0-255."""
        batch = self.preprocess_input(np.array(images, dtype="float32"))
        return self.model.predict(batch, batch_size=batch_size, verbose=0)


def available():
    """The network `pretrained` loads here: 'vgg16' if its weights are on this machine."""
    return "vgg16" if registry.find("vgg16_weights") is not None else "mobilenet_v2"


def pretrained(name=None):
    """The pretrained classifier name (default: `available()`), with its ImageNet weights."""
    name = name or available()
    if name not in NETWORKS:
        raise ValueError(f"network {name!r} is not one of {', '.join(NETWORKS)}")
    build, preprocess_input, weights, last_conv = NETWORKS[name]
    model = build(weights=None, input_shape=(INPUT_SIZE, INPUT_SIZE, 3), classes=1000)
    model.load_weights(registry.path(weights))
    return Pretrained(name, model, preprocess_input, last_conv)


def convolutional_base(name=None, input_shape=(INPUT_SIZE, INPUT_SIZE, 3)):
    """The pretrained network's convolutional layers (no classifier) for images of input_shape.

    Convolution weights do not depend on the image size, so they are copied layer by layer
    from the pretrained classifier into a base built for input_shape.
    """
    network = pretrained(name)
    build = NETWORKS[network.name][0]
    base = build(weights=None, include_top=False, input_shape=tuple(input_shape))
    for layer in base.layers:
        if layer.weights:
            layer.set_weights(network.model.get_layer(layer.name).get_weights())
    return base


def class_index():
    """ImageNet's classes: index -> (WordNet id, name), e.g. 281 -> ('n02123045', 'tabby')."""
    entries = json.loads(registry.path("imagenet_class_index").read_text())
    return {int(index): tuple(entry) for index, entry in entries.items()}


def decode_predictions(probabilities, top=5):
    """As keras.applications' decode_predictions, offline: the top (id, name, probability)
    of each row of (n, 1000) probabilities."""
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 2 or probabilities.shape[1] != 1000:
        raise ValueError(
            f"probabilities should be (n, 1000), one row per image, got {probabilities.shape}"
        )
    classes = class_index()
    return [
        [(*classes[index], float(row[index])) for index in np.argsort(row)[::-1][:top]]
        for row in probabilities
    ]
