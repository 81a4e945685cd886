"""The notes' model catalogue: sizes as the notes give them, and how each recipe is trained."""

import dataclasses

import numpy as np
import pytest

import cnnbook.mode
from cnnbook import mnist, models, training

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
    model = training.build(models.RECIPES[name].setup)
    assert model.count_params() == NOTES_PARAMETERS[name]


def test_variants_share_their_base_model():
    recipes = models.RECIPES
    for variant, base in [
        ("cnn1-sigmoid", "cnn1"),
        ("cnn2-sigmoid", "cnn2"),
        ("cnn2-augmented", "cnn2"),
    ]:
        assert recipes[variant].setup.notation == recipes[base].setup.notation
        assert recipes[variant].epochs == recipes[base].epochs
    assert recipes["cnn3-ensemble"].members == 5
    assert recipes["cnn3-ensemble"].setup == recipes["cnn3"].setup
    expanded = recipes["cnn3-augmented-ensemble"]
    assert expanded.members == 5 and expanded.setup == dataclasses.replace(
        recipes["cnn3"].setup, augmentation=recipes["cnn2-augmented"].setup.augmentation
    )


def test_the_notes_settings():
    recipes = models.RECIPES
    cnn1 = recipes["cnn1"]
    assert (cnn1.epochs, cnn1.setup.batch_size, cnn1.validation) == (12, 100, "test")
    assert cnn1.setting() == "ReLU; Adadelta(learning_rate=1, rho=0.95, epsilon=1e-07); batch 100"
    small = recipes["small-rmsprop"]
    assert small.setup.settings()["learning_rate"] == 1e-4 and small.setup.batch_size == 128
    assert (small.epochs, small.validation) == (50, "split")
    conv3 = recipes["conv3-rmsprop"]
    assert (conv3.epochs, conv3.setup.batch_size, conv3.notes_accuracy) == (5, 64, 0.9902)
    assert recipes["cnn1-sigmoid"].notes_accuracy is None


def test_augmentation_acts_in_training_only():
    setup = models.RECIPES["cnn2-augmented"].setup
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
    quick = cnnbook.mode.MODES["quick"]
    models.train(models.RECIPES[name], digits, quick, seed=4)
    ((setup, x, y, validation_data),) = calls
    recipe = models.RECIPES[name]
    assert setup == dataclasses.replace(recipe.setup, epochs=quick.epochs(recipe.epochs), seed=4)
    if validated_on == "test":
        assert len(x) == 600 and validation_data[0] is digits.x_test
    elif validated_on == "split":
        assert len(x) == 500 and validation_data[0].tolist() == list(range(500, 600))
    else:
        assert len(x) == 600 and validation_data is None


def test_a_wrong_recipe_or_setup_is_refused():
    with pytest.raises(ValueError, match="validation 'train'"):
        models.Recipe("x", "X", training.Setup(models.CNN1), "train", "")
    with pytest.raises(ValueError, match="optimizer 'sgd'"):
        training.Setup(models.CNN1, optimizer="sgd")
    with pytest.raises(ValueError, match="epochs 0"):
        training.Setup(models.CNN1, epochs=0)
    with pytest.raises(ValueError, match="unknown layer"):
        training.Setup("conv5x20, softmax-10")
