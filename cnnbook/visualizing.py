"""Seeing what a CNN learned: the activations of its layers for one input, the input pattern
each filter responds to most, and class-activation heatmaps (Grad-CAM). Introduced in
chapter 10.

The patterns are found by gradient ascent on the input image, and Grad-CAM (Selvaraju et al.,
2017) weighs the last convolution's channels by the gradient of a class score; both use
TensorFlow's ``GradientTape``, Keras' TensorFlow backend.
"""

import keras
import matplotlib
import numpy as np
import tensorflow as tf
from skimage import transform

# The layers of each pretrained network the chapter looks at, early to late (imagenet.NETWORKS)
LAYERS = {
    "vgg16": ("block1_conv2", "block3_conv3", "block5_conv3"),
    "mobilenet_v2": ("block_1_expand", "block_6_expand", "block_13_expand"),
}


def activation_model(model, layer_names):
    """A Keras model from model's input to the outputs of the named layers, in that order."""
    known = [layer.name for layer in model.layers]
    unknown = [name for name in layer_names if name not in known]
    if unknown:
        raise ValueError(f"the model has no layer {unknown[0]!r}; its layers are {known}")
    return keras.Model(model.inputs[0], [model.get_layer(name).output for name in layer_names])


def activations(model, layer_names, images):
    """The outputs of the named layers for a batch of images: name -> (n, H', W', channels)."""
    outputs = activation_model(model, layer_names).predict(images, verbose=0)
    if len(layer_names) == 1:  # Keras returns a model's only output as an array, not a list
        outputs = [outputs]
    return dict(zip(layer_names, outputs, strict=True))


def filter_patterns(
    model, layer_name, filters, preprocess_input, steps=30, step_size=3.0, border=2, seed=0
):
    """The RGB images (n, H, W, 3), values 0-1, that excite each of the named layer's filters
    most, found by gradient ascent from noise in the model's input size.

    Each step adds step_size (in grey levels 0-255) times the gradient, scaled to unit root
    mean square, of the filter's mean activation away from a border of border cells; the
    images pass through preprocess_input inside the tape. `deprocess` makes them visible.
    """
    extractor = activation_model(model, [layer_name])
    channels = extractor.output_shape[-1]
    if not all(0 <= f < channels for f in filters):
        raise ValueError(f"filters {filters} should lie in 0-{channels - 1}, {layer_name}'s")
    height, width = model.input_shape[1:3]
    noise = np.random.default_rng(seed).uniform(-20, 20, (len(filters), height, width, 3))
    images = tf.Variable(128 + noise.astype("float32"))
    pick = tf.one_hot(filters, channels)  # (n, channels): each image's own filter

    @tf.function
    def ascend():
        with tf.GradientTape() as tape:
            output = extractor(preprocess_input(tf.identity(images)), training=False)
            inner = output[:, border:-border, border:-border, :]
            score = tf.reduce_sum(tf.reduce_mean(inner, axis=(1, 2)) * pick)
        gradient = tape.gradient(score, images)
        size = tf.sqrt(tf.reduce_mean(tf.square(gradient), axis=(1, 2, 3), keepdims=True))
        images.assign_add(step_size * gradient / (size + 1e-8))

    for _ in range(steps):
        ascend()
    return deprocess(images.numpy())


def deprocess(images):
    """Centre each image (n, H, W, 3) at grey 0.5 with a standard deviation of 0.15, clipped to
    [0, 1]: a pattern's contrast made visible, whatever its scale."""
    images = np.asarray(images, dtype="float64")
    centred = images - images.mean(axis=(1, 2, 3), keepdims=True)
    scaled = centred / (centred.std(axis=(1, 2, 3), keepdims=True) + 1e-8)
    return np.clip(0.5 + 0.15 * scaled, 0, 1)


def gradcam_heatmap(img_array, model, last_conv_layer_name, pred_index=None):
    """Grad-CAM of one preprocessed image (1, H, W, C): an (h, w) map in [0, 1] over the last
    convolution's grid of where the evidence for class pred_index (default: the top class) is.
    """
    img_array = np.asarray(img_array, dtype="float32")
    if img_array.ndim != 4 or len(img_array) != 1:
        raise ValueError(f"img_array should be one image (1, H, W, C), got {img_array.shape}")
    grad_model = activation_model(model, [last_conv_layer_name, model.layers[-1].name])
    with tf.GradientTape() as tape:
        conv_output, predictions = grad_model(img_array, training=False)
        if pred_index is None:
            pred_index = int(tf.argmax(predictions[0]))
        class_score = predictions[:, pred_index]
    gradients = tape.gradient(class_score, conv_output)  # (1, h, w, channels)
    channel_weights = tf.reduce_mean(gradients, axis=(0, 1, 2))  # one weight per channel
    heatmap = tf.nn.relu(tf.reduce_sum(conv_output[0] * channel_weights, axis=-1)).numpy()
    peak = heatmap.max()
    return heatmap / peak if peak > 0 else heatmap  # all zero: no evidence anywhere


def overlay(image, heatmap, alpha=0.4):
    """An RGB image (H, W, 3), values 0-255, with a heatmap (h, w) in [0, 1] stretched over it
    in the jet colours (blue low, red high), as floats 0-1."""
    image = np.asarray(image, dtype="float64") / 255
    stretched = upsample(heatmap, image.shape[:2])
    colours = matplotlib.colormaps["jet"](stretched)[..., :3]
    return np.clip((1 - alpha) * image + alpha * colours, 0, 1)


def upsample(heatmap, shape):
    """A heatmap (h, w) stretched to shape (H, W) by bilinear interpolation."""
    return transform.resize(np.asarray(heatmap, dtype="float64"), shape, order=1)
