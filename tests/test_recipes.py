"""The notes' model catalogue: sizes as the notes give them, and how each recipe is trained."""

import dataclasses

import numpy as np
import pytest

from cnnbook import mode, recipes, training
from cnnbook.datasets import mnist

# Parameter counts as the notes give them.
NOTES_PARAMETERS = {
    "cnn1": 289_630,
    "cnn2": 85_670,
    "cnn3": 1_672_570,
    "small-rmsprop": 38_390,
    "conv3-rmsprop": 93_322,
}


@pytest.mark.parametrize("name", sorted(NOTES_PARAMETERS))
def test_each_model_has_the_notes_parameter_count(name):
    model = training.build(recipes.RECIPES[name].setup)
    assert model.count_params() == NOTES_PARAMETERS[name]


def test_variants_share_their_base_model():
    known = recipes.RECIPES
    for variant, base in [
        ("cnn1-sigmoid", "cnn1"),
        ("cnn2-sigmoid", "cnn2"),
        ("cnn2-augmented", "cnn2"),
    ]:
        assert known[variant].setup.notation == known[base].setup.notation
        assert known[variant].epochs == known[base].epochs
    assert known["cnn3-ensemble"].members == 5
    assert known["cnn3-ensemble"].setup == known["cnn3"].setup
    expanded = known["cnn3-augmented-ensemble"]
    assert expanded.members == 5 and expanded.setup == dataclasses.replace(
        known["cnn3"].setup, augmentation=known["cnn2-augmented"].setup.augmentation
    )


def test_the_notes_settings():
    known = recipes.RECIPES
    cnn1 = known["cnn1"]
    assert (cnn1.epochs, cnn1.setup.batch_size, cnn1.validation) == (12, 100, "test")
    assert cnn1.setting() == "ReLU; Adadelta(learning_rate=1, rho=0.95, epsilon=1e-07); batch 100"
    small = known["small-rmsprop"]
    assert small.setup.settings()["learning_rate"] == 1e-4 and small.setup.batch_size == 128
    assert (small.epochs, small.validation) == (50, "split")
    conv3 = known["conv3-rmsprop"]
    assert (conv3.epochs, conv3.setup.batch_size, conv3.notes_accuracy) == (5, 64, 0.9902)
    assert known["cnn1-sigmoid"].notes_accuracy is None


def test_augmentation_acts_in_training_only():
    setup = recipes.RECIPES["cnn2-augmented"].setup
    augmented = training.build(setup)
    plain = training.build(dataclasses.replace(setup, augmentation=None))
    assert [type(layer).__name__ for layer in augmented.layers[:2]] == [
        "RandomTranslation",
        "RandomRotation",
    ]
    plain.set_weights(augmented.get_weights())
    images = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(
        augmented.predict(images, verbose=0), plain.predict(images, verbose=0), atol=1e-6
    )
    shifted = augmented.layers[0](images, training=True)
    assert not np.allclose(np.asarray(shifted), images)


@pytest.mark.parametrize(
    "name, validated_on", [("cnn1", "test"), ("small-rmsprop", "split"), ("conv3-rmsprop", None)]
)
def test_train_uses_the_mode_epochs_and_the_recipe_validation(name, validated_on, monkeypatch):
    calls = []
    monkeypatch.setattr(training, "train", lambda *args: calls.append(args))
    digits = mnist.Digits(*(np.arange(n) for n in (600, 600, 60, 60)))
    quick = mode.SIZES["quick"]
    recipes.train(recipes.RECIPES[name], digits, quick, seed=4)
    ((setup, x, y, validation_data),) = calls
    recipe = recipes.RECIPES[name]
    assert setup == dataclasses.replace(recipe.setup, epochs=quick.epochs(recipe.epochs), seed=4)
    if validated_on == "test":
        assert len(x) == 600 and validation_data[0] is digits.x_test
    elif validated_on == "split":
        assert len(x) == 500 and validation_data[0].tolist() == list(range(500, 600))
    else:
        assert len(x) == 600 and validation_data is None


def test_a_wrong_recipe_or_setup_is_refused():
    with pytest.raises(ValueError, match="validation 'train'"):
        recipes.Recipe("x", "X", recipes.digits_setup(recipes.CNN1), "train", "")
    with pytest.raises(ValueError, match="optimizer 'sgd'"):
        recipes.digits_setup(recipes.CNN1, optimizer="sgd")
    with pytest.raises(ValueError, match="epochs must be at least 1, got 0"):
        recipes.digits_setup(recipes.CNN1, epochs=0)
    with pytest.raises(ValueError, match="should end in softmax-3, one unit per class"):
        training.Setup(recipes.CNN1, (28, 28, 1), 3)
    with pytest.raises(ValueError, match=r"input_shape \(28, 28\) should be"):
        training.Setup(recipes.CNN1, (28, 28), 10)
    with pytest.raises(ValueError, match="unknown layer"):
        recipes.digits_setup("conv5x20, softmax-10")
