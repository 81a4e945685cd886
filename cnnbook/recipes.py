"""The notes' MNIST models: how each is trained, and the accuracy the notes report for it.
Introduced in chapter 4.

``RECIPES["cnn1"]`` is CNNmodel1 as the notes train it; `train` trains a recipe on prepared
digits for the epochs a mode allows (``sizes.epochs(...)``), through the model cache.
"""

import dataclasses

from cnnbook import training
from cnnbook.datasets import mnist

CNN1 = "conv5-20, maxpool2, FC-100, softmax-10"
CNN2 = "conv5-20, maxpool2, conv5-40, maxpool2, FC-100, softmax-10"
CNN3 = (
    "conv5-20, maxpool2, conv5-40, maxpool2, FC-1000, dropout0.5, FC-1000, dropout0.5, softmax-10"
)
SMALL = "conv5-10, maxpool2, conv5-20, maxpool2, FC-100, softmax-10"
CONV3 = "conv3-32, maxpool2, conv3-64, maxpool2, conv3-64, FC-64, softmax-10"
VALIDATIONS = ("test", "split", "none")


def digits_setup(notation, **settings):
    """A training.Setup for MNIST's 28×28×1 digits and 10 classes."""
    return training.Setup(notation, mnist.INPUT_SHAPE, mnist.NUM_CLASSES, **settings)


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One of the notes' models: its training Setup and the notes' reported test accuracy."""

    name: str  # short name for the command line, e.g. "cnn1"
    title: str  # as the notes call it, e.g. "CNNmodel1"
    setup: training.Setup  # as the notes train it, for the notes' number of epochs
    validation: str  # "test": on the test set; "split": on the last sixth; "none"
    notes_figure: str  # the notes' words, e.g. "98.93%"; "" when they report none
    notes_accuracy: float | None = None  # the figure (the lower end of a range) as a fraction
    members: int = 1  # more than one: an ensemble of that many, seeded 0, 1, 2, ...

    def __post_init__(self):
        if self.validation not in VALIDATIONS:
            raise ValueError(
                f"validation {self.validation!r} should be one of {', '.join(VALIDATIONS)}"
            )

    @property
    def epochs(self):
        """The number of epochs the notes train for."""
        return self.setup.epochs

    def setting(self):
        """The training setting in words, e.g. 'ReLU; Adadelta (learning_rate=1.0, ...)'."""
        setup = self.setup
        settings = ", ".join(f"{name}={value:g}" for name, value in setup.settings().items())
        words = [
            {"relu": "ReLU", "sigmoid": "sigmoid"}.get(setup.activation, setup.activation),
            f"{ {'adadelta': 'Adadelta', 'rmsprop': 'RMSprop'}[setup.optimizer] }({settings})",
            f"batch {setup.batch_size}",
        ]
        if setup.augmentation is not None:
            words.append(
                f"shifts up to {setup.augmentation[0]:g} px, rotations up to "
                f"{setup.augmentation[1]:g}°"
            )
        if self.validation == "split":
            words.append("50,000/10,000 split")
        if self.members > 1:
            words.append(f"majority vote of {self.members} (seeds 0–{self.members - 1})")
        return "; ".join(words)


RECIPES = {
    recipe.name: recipe
    for recipe in (
        Recipe("cnn1", "CNNmodel1", digits_setup(CNN1), "test", "98.93%", 0.9893),
        Recipe(
            "cnn1-sigmoid",
            "CNNmodel1, sigmoid",
            digits_setup(CNN1, activation="sigmoid"),
            "test",
            "",
        ),
        Recipe("cnn2", "CNNmodel2", digits_setup(CNN2, epochs=40), "test", "99.2–99.3%", 0.992),
        Recipe(
            "cnn2-sigmoid",
            "CNNmodel2, sigmoid",
            digits_setup(CNN2, activation="sigmoid", epochs=40),
            "test",
            "",
        ),
        Recipe("cnn3", "CNNmodel3", digits_setup(CNN3, epochs=40), "test", "99.4%", 0.994),
        Recipe(
            "cnn3-ensemble",
            "5 × CNNmodel3",
            digits_setup(CNN3, epochs=40),
            "test",
            "99.67%",
            0.9967,
            members=5,
        ),
        Recipe(
            "small-rmsprop",
            "conv5-10/conv5-20 network",
            digits_setup(
                SMALL, optimizer="rmsprop", learning_rate=1e-4, batch_size=128, epochs=50
            ),
            "split",
            "98.8%",
            0.988,
        ),
        Recipe(
            "conv3-rmsprop",
            "conv3-32/64/64 network",
            digits_setup(CONV3, optimizer="rmsprop", batch_size=64, epochs=5),
            "none",
            "99.02%",
            0.9902,
        ),
        Recipe(
            "cnn2-augmented",
            "CNNmodel2, expanded data",
            digits_setup(CNN2, epochs=40, augmentation=(2, 10)),
            "test",
            "99.37%",
            0.9937,
        ),
        # The notes' 99.67% is the figure of Nielsen's book, whose five voters trained on
        # expanded data: this recipe is that setting, cnn3-ensemble the plain one.
        Recipe(
            "cnn3-augmented-ensemble",
            "5 × CNNmodel3, expanded data",
            digits_setup(CNN3, epochs=40, augmentation=(2, 10)),
            "test",
            "99.67%",
            0.9967,
            members=5,
        ),
    )
}


def train(recipe, digits, sizes, seed=0):
    """Train recipe on digits (a mnist.Digits) for sizes.epochs(recipe.epochs) epochs."""
    setup = dataclasses.replace(recipe.setup, epochs=sizes.epochs(recipe.epochs), seed=seed)
    x, y = digits.x_train, digits.y_train
    validation_data = None
    if recipe.validation == "test":
        validation_data = (digits.x_test, digits.y_test)
    elif recipe.validation == "split":
        (x, y), validation_data = mnist.split(x, y)
    return training.train(setup, x, y, validation_data)


def train_ensemble(recipe, digits, sizes):
    """Train recipe.members models, seeded 0, 1, ...; returns their Trained results."""
    return [train(recipe, digits, sizes, seed=seed) for seed in range(recipe.members)]
