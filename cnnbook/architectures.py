"""The classic CNN architectures, built with Keras' functional API: LeNet-5, AlexNet, VGG, the
GoogLeNet inception block and the residual block. Introduced in chapter 7.

Each block is a function that takes a tensor and returns one, so a network reads like its
diagram and every layer has a name (``block1_conv1``, ``inception_3a_3x3``, ...) by which
``summary()`` lists it and ``model.get_layer(name)`` reaches it. Whole networks take an
``input_shape`` of one example and a ``num_classes`` and return an uncompiled ``keras.Model``.
"""

import keras
import numpy as np

from cnnbook import validate
from cnnbook.book import cache, provenance

# The convolution blocks of VGG's configurations A (VGG-11) and D (VGG16), Simonyan and
# Zisserman (2014), Table 1: (filters, convolutions) per block, each block ending in a max-pool.
VGG_BLOCKS = {
    "vgg11": ((64, 1), (128, 1), (256, 2), (512, 2), (512, 2)),
    "vgg16": ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)),
}

# ImageNet top-1 accuracy of Keras Applications' pretrained models, as the table of the Keras
# documentation gives it (keras.io/api/applications): single centre crop, validation set.
KERAS_TOP1 = {
    "VGG16": 0.713,
    "ResNet50": 0.749,
    "InceptionV3": 0.779,
    "Xception": 0.790,
    "DenseNet121": 0.750,
    "MobileNetV2": 0.713,
}

_WEIGHT_LAYERS = (
    keras.layers.Conv2D,
    keras.layers.SeparableConv2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.Dense,
)


def lenet5(input_shape=(28, 28, 1), num_classes=10):
    """LeNet-5 (LeCun et al. 1998) on (H, W, C) digits padded by 2 pixels; (None, num_classes).

    C1 and C3 are 5×5 convolutions with 6 and 16 filters, S2 and S4 2×2 average pooling, C5
    and F6 fully connected layers of 120 and 84 units, all tanh; the output is a softmax.
    """
    inputs = keras.Input(shape=validate.input_shape(input_shape), name="digits")
    x = keras.layers.ZeroPadding2D(padding=2, name="pad")(inputs)
    x = keras.layers.Conv2D(6, 5, activation="tanh", name="C1")(x)
    x = keras.layers.AveragePooling2D(pool_size=2, name="S2")(x)
    x = keras.layers.Conv2D(16, 5, activation="tanh", name="C3")(x)
    x = keras.layers.AveragePooling2D(pool_size=2, name="S4")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(120, activation="tanh", name="C5")(x)
    x = keras.layers.Dense(84, activation="tanh", name="F6")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="lenet5")


def alexnet(input_shape=(224, 224, 3), num_classes=1000):
    """AlexNet (Krizhevsky et al. 2012) on one device, no response normalisation; (None, classes).

    Five convolutions (11×11 stride 4, 5×5, then three 3×3), overlapping 3×3 max-pools of
    stride 2 after the first, second and fifth, and two fully connected layers of 4096 units with
    dropout 0.5, all ReLU. The 224×224 input is padded by 2 pixels so that the first convolution
    gives the paper's 55×55.
    """
    inputs = keras.Input(shape=validate.input_shape(input_shape), name="image")
    x = keras.layers.ZeroPadding2D(padding=2, name="pad")(inputs)
    x = keras.layers.Conv2D(96, 11, strides=4, activation="relu", name="conv1")(x)
    x = keras.layers.MaxPooling2D(pool_size=3, strides=2, name="pool1")(x)
    x = keras.layers.Conv2D(256, 5, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(pool_size=3, strides=2, name="pool2")(x)
    x = keras.layers.Conv2D(384, 3, padding="same", activation="relu", name="conv3")(x)
    x = keras.layers.Conv2D(384, 3, padding="same", activation="relu", name="conv4")(x)
    x = keras.layers.Conv2D(256, 3, padding="same", activation="relu", name="conv5")(x)
    x = keras.layers.MaxPooling2D(pool_size=3, strides=2, name="pool5")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(4096, activation="relu", name="fc6")(x)
    x = keras.layers.Dropout(0.5, name="dropout6")(x)
    x = keras.layers.Dense(4096, activation="relu", name="fc7")(x)
    x = keras.layers.Dropout(0.5, name="dropout7")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="alexnet")


def vgg_block(x, filters, convolutions, name):
    """VGG's block on (None, H, W, C): `convolutions` 3×3 ReLU convolutions
    with `filters` filters that keep H×W, then a 2×2 max-pool; (None, H/2, W/2, filters)."""
    validate.whole_number(convolutions, "convolutions")
    for number in range(1, convolutions + 1):
        x = keras.layers.Conv2D(
            filters, 3, padding="same", activation="relu", name=f"{name}_conv{number}"
        )(x)
    return keras.layers.MaxPooling2D(pool_size=2, strides=2, name=f"{name}_pool")(x)


def vgg(configuration="vgg16", input_shape=(224, 224, 3), num_classes=1000):
    """VGG-11 ("vgg11") or VGG16 ("vgg16"): five VGG blocks, FC-4096 twice, softmax; a Model.

    The layers and their names are those of ``keras.applications.VGG16``, which, like it, has no
    dropout after the fully connected layers (the paper trained with dropout 0.5 there).
    """
    if configuration not in VGG_BLOCKS:
        raise ValueError(
            f"configuration {configuration!r} is not one of {', '.join(VGG_BLOCKS)}; VGG_BLOCKS "
            "lists the blocks of each"
        )
    inputs = keras.Input(shape=validate.input_shape(input_shape), name="input_layer")
    x = inputs
    for number, (filters, convolutions) in enumerate(VGG_BLOCKS[configuration], start=1):
        x = vgg_block(x, filters, convolutions, name=f"block{number}")
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(4096, activation="relu", name="fc1")(x)
    x = keras.layers.Dense(4096, activation="relu", name="fc2")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=configuration)


def inception_block(x, filters_1x1, filters_3x3, filters_5x5, filters_pool, name):
    """GoogLeNet's inception block on (None, H, W, C): (None, H, W, sum of the paths' filters).

    Four paths side by side, all ReLU and padded to keep H×W: a 1×1 convolution with
    filters_1x1; a 1×1 reduction then a 3×3 convolution, filters_3x3 = (reduce, filters); the
    same with 5×5, filters_5x5 = (reduce, filters); a 3×3 max-pool of stride 1 then a 1×1
    convolution with filters_pool. Their outputs are concatenated on the channels.
    """
    for pair, label in ((filters_3x3, "filters_3x3"), (filters_5x5, "filters_5x5")):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(
                f"{label} should be a pair (reduce, filters): the 1×1 reduction's filters, then "
                f"the convolution's, e.g. (96, 128); got {pair!r}"
            )
        for value in pair:
            validate.whole_number(value, label)

    def conv(tensor, filters, kernel_size, suffix):
        return keras.layers.Conv2D(
            filters, kernel_size, padding="same", activation="relu", name=f"{name}_{suffix}"
        )(tensor)

    path_1x1 = conv(x, filters_1x1, 1, "1x1")
    path_3x3 = conv(conv(x, filters_3x3[0], 1, "3x3_reduce"), filters_3x3[1], 3, "3x3")
    path_5x5 = conv(conv(x, filters_5x5[0], 1, "5x5_reduce"), filters_5x5[1], 5, "5x5")
    pooled = keras.layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    path_pool = conv(pooled, filters_pool, 1, "pool_proj")
    return keras.layers.Concatenate(name=f"{name}_concat")(
        [path_1x1, path_3x3, path_5x5, path_pool]
    )


def residual_block(x, filters, name, strides=1, shortcut=True, normalization=True):
    """He et al.'s basic block on (None, H, W, C): (None, H/strides, W/strides, filters).

    Two 3×3 convolutions, each followed by batch normalization, with a ReLU between them and
    after the sum. The shortcut adds the block's input to its output: as it is when the shapes
    agree (identity), through a 1×1 convolution with the block's strides and filters when they
    do not (projection). shortcut=False gives the same layers without the shortcut (a plain
    block); normalization=False leaves out the batch normalization (the convolutions then
    have biases).
    """

    def conv(tensor, kernel_size, strides, suffix):
        tensor = keras.layers.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            padding="same",
            use_bias=not normalization,
            name=f"{name}_{suffix}",
        )(tensor)
        if normalization:
            tensor = keras.layers.BatchNormalization(name=f"{name}_{suffix}_bn")(tensor)
        return tensor

    y = conv(x, 3, strides, "conv1")
    y = keras.layers.Activation("relu", name=f"{name}_relu1")(y)
    y = conv(y, 3, 1, "conv2")
    if shortcut:
        if strides != 1 or x.shape[-1] != filters:
            x = conv(x, 1, strides, "projection")
        y = keras.layers.Add(name=f"{name}_add")([x, y])
    return keras.layers.Activation("relu", name=f"{name}_relu2")(y)


def residual_network(input_shape, num_classes, blocks, filters, shortcut=True, normalization=True):
    """A 3×3 ReLU stem convolution, `blocks` residual blocks of `filters` filters, global
    average pooling and a softmax: 2·blocks + 2 weight layers deep; a Model. shortcut and
    normalization are passed to each `residual_block` (shortcut=False: the plain network)."""
    validate.whole_number(blocks, "blocks")
    inputs = keras.Input(shape=validate.input_shape(input_shape), name="image")
    x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name="stem")(inputs)
    for number in range(1, blocks + 1):
        x = residual_block(
            x, filters, f"block{number}", shortcut=shortcut, normalization=normalization
        )
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="residual" if shortcut else "plain")


def depth(model):
    """The weight layers (convolutions and dense) on the longest path through a Keras model."""
    memo = {}

    def longest(layer):
        if id(layer) not in memo:
            # Keras keeps each layer's inputs as nodes; the first node is the model's own call.
            nodes = layer._inbound_nodes[0].parent_nodes if layer._inbound_nodes else []
            before = max((longest(node.operation) for node in nodes), default=0)
            memo[id(layer)] = before + isinstance(layer, _WEIGHT_LAYERS)
        return memo[id(layer)]

    return max(longest(output._keras_history.operation) for output in model.outputs)


def keras_applications(names):
    """Parameters and `depth` of keras.applications models (built without weights), through
    the result cache; a dict name -> (parameters, depth)."""
    names = sorted(names)

    def compute():
        counts = []
        for name in names:
            model = getattr(keras.applications, name)(weights=None)
            counts.append((model.count_params(), depth(model)))
            keras.backend.clear_session()
        return {"counts": np.array(counts, dtype=np.int64)}, {"names": names}

    description = {"keras_applications": names, "versions": provenance.versions()}
    counts = cache.cached(description, compute).value["counts"]
    return {
        name: (int(parameters), int(layers))
        for name, (parameters, layers) in zip(names, counts, strict=True)
    }
