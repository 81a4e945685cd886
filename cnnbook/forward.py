"""A trained model's forward pass by hand: its saved weights applied with NumPy. Introduced in
chapter 6.

The convolutions and pooling are chapter 1 and 2's `arithmetic.conv2d` and `pooling.pool2d`;
a dense layer is a matrix product. The layers of the notes' networks are supported: Conv2D,
MaxPooling2D, AveragePooling2D, Flatten, Dense, and Dropout (which passes its input on
unchanged at prediction time), with relu, sigmoid, softmax or linear activations.
"""

import numpy as np

from cnnbook import arithmetic, pooling


def relu(x):
    """max(0, x), element by element."""
    return np.maximum(x, 0)


def sigmoid(x):
    """1 / (1 + e^-x), element by element."""
    return 1 / (1 + np.exp(-x))


def softmax(x):
    """exp(x) normalised to sum to 1 along the last axis (shifted by the maximum for safety)."""
    exp = np.exp(x - x.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


ACTIVATIONS = {"relu": relu, "sigmoid": sigmoid, "softmax": softmax, "linear": lambda x: x}


def layer_outputs(model, images):
    """Each layer's output for (n, H, W, C) images, computed in float64 from the weights."""
    x = np.asarray(images, dtype=np.float64)
    if x.ndim != 4:
        raise ValueError(
            f"images should be a batch (n, height, width, channels), got shape {x.shape}; "
            "for one image use images[None] or x_test[:1]"
        )
    outputs = []
    for layer in model.layers:
        x = _apply(layer, x)
        outputs.append(x)
    return outputs


def predict(model, images):
    """The class probabilities (n, classes) of (n, H, W, C) images, as model.predict gives."""
    return layer_outputs(model, images)[-1]


def _apply(layer, x):
    """One layer's output for the batch x."""
    config = layer.get_config()
    kind = type(layer).__name__
    if kind == "Conv2D":
        if tuple(config["dilation_rate"]) != (1, 1) or config.get("groups", 1) != 1:
            raise ValueError(f"{layer.name}: dilated or grouped convolutions are not supported")
        kernel, bias = _weights(layer)
        z = arithmetic.conv2d(
            x, kernel, bias, strides=tuple(config["strides"]), padding=config["padding"]
        )
        return _activation(layer, config)(z)
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        mode = "max" if kind == "MaxPooling2D" else "average"
        return pooling.pool2d(
            x, tuple(config["pool_size"]), tuple(config["strides"]), config["padding"], mode
        )
    if kind == "Flatten":
        return x.reshape(len(x), -1)  # row by row, channels innermost: Keras's channels_last
    if kind == "Dense":
        kernel, bias = _weights(layer)
        return _activation(layer, config)(x @ kernel + bias)
    if kind == "Dropout":
        return x
    raise ValueError(
        f"layer {layer.name} ({kind}) is not supported; forward handles Conv2D, MaxPooling2D, "
        "AveragePooling2D, Flatten, Dense and Dropout"
    )


def _weights(layer):
    """A layer's (kernel, bias) as float64 arrays."""
    kernel, bias = layer.get_weights()
    return kernel.astype(np.float64), bias.astype(np.float64)


def _activation(layer, config):
    """The function of a layer's activation, or ValueError."""
    name = config["activation"]
    if name not in ACTIVATIONS:
        raise ValueError(
            f"{layer.name} uses activation {name!r}; supported are {', '.join(ACTIVATIONS)}"
        )
    return ACTIVATIONS[name]
