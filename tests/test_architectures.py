"""The classic networks of chapter 7 against counts by hand and Keras' own VGG16."""

import keras
import numpy as np
import pytest

from cnnbook import architectures


def conv(kernel_size, channels_in, filters):
    """Parameters of a convolution with biases: (k·k·c_in + 1)·c_out."""
    return (kernel_size * kernel_size * channels_in + 1) * filters


def dense(inputs, units):
    """Parameters of a fully connected layer with biases: (n_in + 1)·n_out."""
    return (inputs + 1) * units


def weight_counts(model):
    """Each layer with parameters: name -> count, in order."""
    return {layer.name: layer.count_params() for layer in model.layers if layer.count_params()}


def test_lenet5_counts_and_shapes():
    model = architectures.lenet5()
    expected = {
        "C1": conv(5, 1, 6),
        "C3": conv(5, 6, 16),
        "C5": dense(5 * 5 * 16, 120),
        "F6": dense(120, 84),
        "output": dense(84, 10),
    }
    assert weight_counts(model) == expected
    assert model.count_params() == 61_706 == sum(expected.values())
    shapes = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}
    assert shapes["pad"] == (32, 32, 1) and shapes["S2"] == (14, 14, 6)
    assert shapes["S4"] == (5, 5, 16) and model.output_shape == (None, 10)
    assert architectures.depth(model) == 5


def test_alexnet_counts_and_shapes():
    model = architectures.alexnet()
    expected = {
        "conv1": conv(11, 3, 96),
        "conv2": conv(5, 96, 256),
        "conv3": conv(3, 256, 384),
        "conv4": conv(3, 384, 384),
        "conv5": conv(3, 384, 256),
        "fc6": dense(6 * 6 * 256, 4096),
        "fc7": dense(4096, 4096),
        "predictions": dense(4096, 1000),
    }
    assert weight_counts(model) == expected
    assert model.count_params() == 62_378_344
    shapes = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}
    assert shapes["conv1"] == (55, 55, 96) and shapes["pool1"] == (27, 27, 96)
    assert shapes["pool2"] == (13, 13, 256) and shapes["pool5"] == (6, 6, 256)
    assert model.output_shape == (None, 1000) and architectures.depth(model) == 8


def vgg_by_hand(blocks):
    """The parameters of a VGG on 224×224×3 with (filters, convolutions) blocks, by hand."""
    total, channels = 0, 3
    for filters, convolutions in blocks:
        for _ in range(convolutions):
            total += conv(3, channels, filters)
            channels = filters
    return total + dense(7 * 7 * 512, 4096) + dense(4096, 4096) + dense(4096, 1000)


def test_vgg11_counts_and_shapes():
    model = architectures.vgg("vgg11")
    blocks = ((64, 1), (128, 1), (256, 2), (512, 2), (512, 2))
    assert model.count_params() == vgg_by_hand(blocks) == 132_863_336
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convolutions) == 8 and architectures.depth(model) == 11
    assert tuple(model.get_layer("block5_pool").output.shape[1:]) == (7, 7, 512)


def test_vgg16_agrees_with_keras_layer_by_layer():
    model = architectures.vgg("vgg16")
    blocks = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
    assert model.get_layer("block1_conv1").count_params() == (3 * 3 * 3 + 1) * 64 == 1_792
    assert model.count_params() == vgg_by_hand(blocks) == 138_357_544
    reference = keras.applications.VGG16(weights=None)
    # The input layers' names count up within a session (input_layer, input_layer_1, ...).
    ours, theirs = (
        [(layer.name, layer.output.shape, layer.count_params()) for layer in network.layers[1:]]
        for network in (model, reference)
    )
    assert model.layers[0].output.shape == reference.layers[0].output.shape
    assert list(ours) == list(theirs)
    assert architectures.depth(model) == 16
    keras.backend.clear_session()


def test_an_unknown_vgg_configuration_is_refused():
    with pytest.raises(ValueError, match="'vgg19' is not one of vgg11, vgg16"):
        architectures.vgg("vgg19")


def test_inception_block_3a():
    inputs = keras.Input(shape=(28, 28, 192))
    outputs = architectures.inception_block(inputs, 64, (96, 128), (16, 32), 32, name="i")
    block = keras.Model(inputs, outputs)
    by_hand = (
        conv(1, 192, 64)
        + conv(1, 192, 96)
        + conv(3, 96, 128)
        + conv(1, 192, 16)
        + conv(5, 16, 32)
        + conv(1, 192, 32)
    )
    assert block.count_params() == by_hand == 163_696
    assert block.output_shape == (None, 28, 28, 64 + 128 + 32 + 32)
    # The paths run side by side: two weight layers on the longest path.
    assert architectures.depth(block) == 2


def test_inception_block_refuses_a_single_number_for_a_path():
    inputs = keras.Input(shape=(28, 28, 192))
    with pytest.raises(ValueError, match=r"filters_3x3 should be a pair \(reduce, filters\)"):
        architectures.inception_block(inputs, 64, 128, (16, 32), 32, name="i")


def test_batch_normalization_trains_two_of_its_four_vectors():
    layer = keras.layers.BatchNormalization()
    layer.build((None, 8, 8, 16))
    trainable = {weight.name for weight in layer.trainable_weights}
    frozen = {weight.name for weight in layer.non_trainable_weights}
    assert (trainable, frozen) == ({"gamma", "beta"}, {"moving_mean", "moving_variance"})
    assert layer.count_params() == 4 * 16
    batch = np.random.default_rng(0).normal(2.0, 3.0, size=(64, 8, 8, 16)).astype("float32")
    mean, variance = batch.mean(axis=(0, 1, 2)), batch.var(axis=(0, 1, 2))
    by_hand = (batch - mean) / np.sqrt(variance + layer.epsilon)
    np.testing.assert_allclose(layer(batch, training=True), by_hand, atol=1e-4)
    np.testing.assert_allclose(layer.moving_mean, (1 - layer.momentum) * mean, rtol=1e-5)


@pytest.mark.parametrize(
    ("shape", "filters", "strides", "projection", "output"),
    [
        ((56, 56, 64), 64, 1, False, (56, 56, 64)),
        ((56, 56, 64), 128, 2, True, (28, 28, 128)),
        ((14, 14, 32), 64, 1, True, (14, 14, 64)),
    ],
)
def test_residual_block_shapes_and_shortcuts(shape, filters, strides, projection, output):
    inputs = keras.Input(shape=shape)
    block = keras.Model(inputs, architectures.residual_block(inputs, filters, "b", strides))
    assert block.output_shape == (None, *output)
    names = [layer.name for layer in block.layers]
    assert ("b_projection" in names) == projection and "b_add" in names
    channels = shape[2]
    main = 3 * 3 * channels * filters + 3 * 3 * filters * filters + 2 * 4 * filters
    shortcut = channels * filters + 4 * filters if projection else 0
    assert block.count_params() == main + shortcut  # no biases before batch normalization
    plain = keras.Model(
        inputs, architectures.residual_block(inputs, filters, "p", strides, shortcut=False)
    )
    assert plain.output_shape == block.output_shape
    assert not any(isinstance(layer, keras.layers.Add) for layer in plain.layers)


def test_a_residual_network_adds_its_input_and_the_plain_one_does_not():
    plain = architectures.residual_network((14, 14, 1), 10, 3, 8, False, normalization=False)
    residual = architectures.residual_network((14, 14, 1), 10, 3, 8, True, normalization=False)
    assert plain.count_params() == residual.count_params()
    assert architectures.depth(plain) == architectures.depth(residual) == 2 * 3 + 2
    # Zero every weight and set the stem's bias to 1: the stem outputs ones, every block's
    # convolutions output zeros, so the plain stack ends in zeros and the residual one, whose
    # shortcuts add the ones back (ReLU(0 + 1) = 1), in ones.
    for model in (plain, residual):
        model.set_weights([np.zeros_like(w) for w in model.get_weights()])
        model.get_layer("stem").bias.assign(np.ones(8, dtype="float32"))
    pooled = {
        name: keras.Model(model.input, model.get_layer("pool").output)(np.ones((1, 14, 14, 1)))
        for name, model in (("plain", plain), ("residual", residual))
    }
    np.testing.assert_array_equal(pooled["plain"], np.zeros((1, 8)))
    np.testing.assert_array_equal(pooled["residual"], np.ones((1, 8)))
