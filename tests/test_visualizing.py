"""Activations, filter patterns and Grad-CAM against hand computations and chapter 6's NumPy
forward pass."""

import keras
import numpy as np
import pytest

from cnnbook import forward, specs, visualizing


@pytest.fixture(scope="module")
def small_cnn():
    keras.utils.set_random_seed(0)
    notation = "conv3-4, maxpool2, conv3-6, maxpool2, FC-10, softmax-10"
    return specs.parse(notation, input_shape=(14, 14, 1)).to_keras()


def test_activation_model_returns_each_requested_layer_as_numpy_computes_it(small_cnn):
    names = [layer.name for layer in small_cnn.layers[:4]]
    images = np.random.default_rng(0).random((3, 14, 14, 1)).astype("float32")
    outputs = visualizing.activations(small_cnn, names[::-1], images)
    assert list(outputs) == names[::-1]
    reference = forward.layer_outputs(small_cnn, images)
    shapes = [(3, 12, 12, 4), (3, 6, 6, 4), (3, 4, 4, 6), (3, 2, 2, 6)]
    for name, wanted, shape in zip(names, reference, shapes, strict=False):
        assert outputs[name].shape == shape
        np.testing.assert_allclose(outputs[name], wanted, rtol=1e-4, atol=1e-5)


def test_activation_model_names_the_layers_it_knows(small_cnn):
    with pytest.raises(ValueError, match="the model has no layer 'block1_conv1'; its layers"):
        visualizing.activation_model(small_cnn, ["block1_conv1"])


def two_channel_model(softmax=True):
    """8×8×2 input; an identity 1×1 convolution 'conv'; class c reads channel c everywhere."""
    inputs = keras.Input((8, 8, 2))
    conv = keras.layers.Conv2D(2, 1, use_bias=False, name="conv")(inputs)
    dense = keras.layers.Dense(2, activation="softmax" if softmax else None, name="scores")
    model = keras.Model(inputs, dense(keras.layers.Flatten()(conv)))
    model.get_layer("conv").set_weights([np.eye(2).reshape(1, 1, 2, 2)])
    return model


def test_gradcam_peaks_in_the_quadrant_that_holds_the_class_evidence():
    model = two_channel_model()
    kernel = np.zeros((8, 8, 2, 2))
    kernel[:, :, 0, 0] = kernel[:, :, 1, 1] = 0.2
    model.get_layer("scores").set_weights([kernel.reshape(128, 2), np.zeros(2)])
    image = np.random.default_rng(1).uniform(0, 0.1, (1, 8, 8, 2)).astype("float32")
    image[0, :4, :4, 0] += 1.0  # class 0's evidence: top left
    image[0, 4:, 4:, 1] += 0.5  # class 1's, weaker: bottom right
    top = visualizing.gradcam_heatmap(image, model, "conv")
    second = visualizing.gradcam_heatmap(image, model, "conv", pred_index=1)
    assert top.shape == second.shape == (8, 8)
    for heatmap in (top, second):
        assert heatmap.min() >= 0 and heatmap.max() == pytest.approx(1.0)
    assert np.unravel_index(top.argmax(), top.shape) < (4, 4)  # pred_index None: class 0
    assert top[:4, :4].mean() > 5 * top[4:, 4:].mean()
    row, column = np.unravel_index(second.argmax(), second.shape)
    assert row >= 4 and column >= 4
    assert second[4:, 4:].mean() > 5 * second[:4, :4].mean()


def test_gradcam_of_a_linear_score_is_the_hand_computed_map():
    model = two_channel_model(softmax=False)
    rng = np.random.default_rng(2)
    kernel = rng.normal(size=(128, 2))
    model.get_layer("scores").set_weights([kernel, np.zeros(2)])
    image = rng.random((1, 8, 8, 2)).astype("float32")
    # the score is linear in the convolution's output A, so its gradient is the kernel itself
    channel_weights = kernel[:, 1].reshape(8, 8, 2).mean(axis=(0, 1))
    expected = np.maximum(image[0] @ channel_weights, 0)
    expected /= expected.max()
    heatmap = visualizing.gradcam_heatmap(image, model, "conv", pred_index=1)
    np.testing.assert_allclose(heatmap, expected, atol=1e-5)


def test_gradcam_returns_zeros_when_no_channel_supports_the_class():
    model = two_channel_model()
    model.get_layer("conv").set_weights([np.zeros((1, 1, 2, 2))])
    image = np.ones((1, 8, 8, 2), dtype="float32")
    heatmap = visualizing.gradcam_heatmap(image, model, "conv")
    assert heatmap.shape == (8, 8) and not np.isnan(heatmap).any() and (heatmap == 0).all()


def test_gradcam_wants_one_image():
    with pytest.raises(ValueError, match=r"one image \(1, H, W, C\), got \(8, 8, 2\)"):
        visualizing.gradcam_heatmap(np.ones((8, 8, 2)), two_channel_model(), "conv")


def test_filter_patterns_show_the_colour_each_filter_weighs():
    inputs = keras.Input((16, 16, 3))
    conv = keras.layers.Conv2D(2, 1, use_bias=False, name="colours")
    model = keras.Model(inputs, conv(inputs))
    red_and_blue = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])  # RGB in, 2 filters out
    conv.set_weights([red_and_blue.reshape(1, 1, 3, 2)])
    patterns = visualizing.filter_patterns(model, "colours", [0, 1], lambda x: x / 255, steps=5)
    assert patterns.shape == (2, 16, 16, 3)
    assert 0 <= patterns.min() and patterns.max() <= 1
    means = patterns.mean(axis=(1, 2))  # (filter, colour)
    assert means[0, 0] > means[0, 2] + 0.1  # the red filter's pattern is red
    assert means[1, 2] > means[1, 0] + 0.1  # the blue one's blue
    with pytest.raises(ValueError, match="filters \\[2\\] should lie in 0-1"):
        visualizing.filter_patterns(model, "colours", [2], lambda x: x)


def test_deprocess_centres_at_grey_with_fixed_contrast():
    image = np.random.default_rng(3).normal(10, 0.5, (1, 5, 5, 3))
    images = np.concatenate([image, 40 * image])
    shown = visualizing.deprocess(images)
    np.testing.assert_allclose(shown.mean(axis=(1, 2, 3)), 0.5, atol=0.02)
    np.testing.assert_allclose(shown[0], shown[1], atol=1e-6)  # the scale does not matter


def test_overlay_stretches_the_heatmap_over_the_image():
    image = np.full((20, 30, 3), 255, dtype="uint8")
    heatmap = np.zeros((4, 4))
    heatmap[:2, 2:] = 1.0  # the top right
    shown = visualizing.overlay(image, heatmap, alpha=1.0)
    assert shown.shape == (20, 30, 3)
    np.testing.assert_allclose(shown[0, -1], [0.5, 0, 0], atol=0.01)  # jet's 1: dark red
    np.testing.assert_allclose(shown[-1, 0], [0, 0, 0.5], atol=0.01)  # jet's 0: dark blue
