"""The forward pass by hand, in NumPy, against Keras's predict on the same weights."""

import keras
import numpy as np
import pytest

from cnnbook import forward, recipes, specs

NETWORKS = {
    "CNNmodel1": (recipes.CNN1, "valid", "relu"),
    "CNNmodel1, sigmoid": (recipes.CNN1, "valid", "sigmoid"),
    "CNNmodel3, dropout": (recipes.CNN3, "valid", "relu"),
    "conv3 network": (recipes.CONV3, "valid", "relu"),
    "same padding, average pooling": (
        "conv3-6, avgpool2, conv3-8, FC-12, softmax-10",
        "same",
        "relu",
    ),
}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_the_hand_forward_pass_equals_predict(name):
    notation, padding, activation = NETWORKS[name]
    keras.utils.set_random_seed(3)
    model = specs.parse(notation, input_shape=(28, 28, 1), padding=padding).to_keras(activation)
    for layer in model.layers:  # random biases too, so that they are tested
        weights = layer.get_weights()
        if weights:
            layer.set_weights([weights[0], np.random.default_rng(1).normal(size=weights[1].shape)])
    images = np.random.default_rng(2).random((6, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(
        forward.predict(model, images), model.predict(images, verbose=0), atol=1e-5
    )


def test_every_layer_output_has_the_keras_shape():
    model = specs.parse(recipes.CNN1, input_shape=(28, 28, 1)).to_keras()
    outputs = forward.layer_outputs(model, np.zeros((2, 28, 28, 1)))
    assert [o.shape[1:] for o in outputs] == [
        tuple(layer.output.shape[1:]) for layer in model.layers
    ]
    np.testing.assert_allclose(outputs[-1].sum(axis=1), 1)


def test_strided_convolutions_follow_keras():
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(3, strides=2, padding="same"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    images = np.random.default_rng(0).random((3, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(
        forward.predict(model, images), model.predict(images, verbose=0), atol=1e-5
    )


def test_unsupported_layers_and_shapes_are_refused():
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.BatchNormalization()])
    with pytest.raises(ValueError, match="BatchNormalization.*is not supported"):
        forward.predict(model, np.zeros((1, 28, 28, 1)))
    with pytest.raises(ValueError, match=r"images\[None\]"):
        forward.predict(model, np.zeros((28, 28, 1)))
