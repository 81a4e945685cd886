"""Training as the notes do: their optimizer settings, seeded runs, and the model cache.
Introduced in chapter 4.

Optimizer defaults changed across Keras versions: Keras 2's ``Adadelta()`` had learning rate
1.0, tf.keras 2 and Keras 3 have 0.001, a thousand times smaller. So every setting is spelled
out in `OPTIMIZERS`, as Keras 2 had it when the notes were written, and never left to defaults.

`train` looks in the model cache (`cnnbook.book.cache`) first, under a key of everything that
determines the result: the `Setup`, the model and optimizer as Keras configures them, the data
(by content), and the Keras and backend versions. `train_model` does the same for a model
that a function builds and compiles, such as chapter 7's functional networks.

`build` compiles with ``steps_per_execution``: Keras then runs that many training steps per
call into the compiled graph instead of one, which saves the per-step overhead of the Python
loop. The steps, and so the mathematics, are the same.
"""

import dataclasses
import datetime
import time

import keras
import numpy as np

from cnnbook import augmentation, specs, validate
from cnnbook.book import cache, provenance

# The notes' optimizers with Keras 2's default settings (epsilon was Keras 2's K.epsilon()).
OPTIMIZERS = {
    "adadelta": {"learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-7},
    "rmsprop": {"learning_rate": 1e-3, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7},
}
LOSS = "categorical_crossentropy"
STEPS_PER_EXECUTION = 50  # training steps per call into the compiled graph; see above


@dataclasses.dataclass(frozen=True)
class Setup:
    """How a model is trained: layers, input, activation, optimizer, epochs, batch size, seed."""

    notation: str  # the notes' layer notation, e.g. "conv5-20, maxpool2, FC-100, softmax-10"
    input_shape: tuple[int, int, int]  # of one example, e.g. (28, 28, 1)
    num_classes: int  # the units of the final softmax layer
    activation: str = "relu"  # of the convolutions and FC layers
    optimizer: str = "adadelta"  # a key of OPTIMIZERS
    learning_rate: float | None = None  # None: the value in OPTIMIZERS
    epochs: int = 12
    batch_size: int = 100
    augmentation: tuple[float, float] | None = None  # (largest shift in pixels, in degrees)
    seed: int = 0

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer {self.optimizer!r} is not one of {', '.join(OPTIMIZERS)}; add its "
                "settings to cnnbook.training.OPTIMIZERS first"
            )
        for name in ("epochs", "batch_size", "num_classes"):
            validate.whole_number(getattr(self, name), name)
        if self.augmentation is not None and len(self.augmentation) != 2:
            raise ValueError(
                f"augmentation {self.augmentation!r} should be None or (largest shift in "
                "pixels, largest rotation in degrees), e.g. (2, 10)"
            )
        spec = specs.parse(self.notation, input_shape=self.input_shape)  # ValueError if wrong
        last = spec.layers[-1]
        if last.kind != "softmax" or last.units != self.num_classes:
            raise ValueError(
                f"{self.notation!r} should end in softmax-{self.num_classes}, one unit per "
                f"class, for num_classes={self.num_classes}"
            )

    def settings(self):
        """The optimizer's settings: OPTIMIZERS[optimizer], with learning_rate if given."""
        settings = dict(OPTIMIZERS[self.optimizer])
        if self.learning_rate is not None:
            settings["learning_rate"] = self.learning_rate
        return settings


@dataclasses.dataclass
class Trained:
    """A trained model with its per-epoch history, epoch times and cache key."""

    model: keras.Model
    history: dict  # "accuracy", "loss" (and "val_accuracy", "val_loss"): one value per epoch
    epoch_seconds: list  # wall time of each epoch, validation included
    seconds: float  # wall time of the whole training, compilation included
    key: str
    from_cache: bool
    finished: str | None = None  # when the training ended (UTC, ISO 8601)
    machine: dict | None = None  # where it ran (provenance.describe(), at the start)

    def table(self):
        """The history as aligned text: one row per epoch, accuracies in percent."""
        names = [n for n in ("loss", "accuracy", "val_loss", "val_accuracy") if n in self.history]
        rows = [["epoch", *names, "seconds"]]
        for epoch, seconds in enumerate(self.epoch_seconds):
            values = [self.history[name][epoch] for name in names]
            cells = [
                f"{100 * value:.2f}%" if "accuracy" in name else f"{value:.4f}"
                for name, value in zip(names, values, strict=True)
            ]
            rows.append([str(epoch + 1), *cells, f"{seconds:.1f}"])
        widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
        return "\n".join(
            "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True))
            for row in rows
        )


def optimizer(setup):
    """A new Keras optimizer with every setting of setup.settings() given explicitly."""
    classes = {"adadelta": keras.optimizers.Adadelta, "rmsprop": keras.optimizers.RMSprop}
    return classes[setup.optimizer](**setup.settings())


def build(setup):
    """The model of setup, seeded with setup.seed and compiled with its optimizer and loss."""
    keras.utils.set_random_seed(setup.seed)
    model = specs.parse(setup.notation, input_shape=setup.input_shape).to_keras(setup.activation)
    if setup.augmentation is not None:
        augmenting = augmentation.shifts_and_rotations(setup.input_shape, *setup.augmentation)
        model = keras.Sequential(
            [keras.Input(shape=setup.input_shape), *augmenting, *model.layers]
        )
    model.compile(
        optimizer=optimizer(setup),
        loss=LOSS,
        metrics=["accuracy"],
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    return model


def fit(model, x, y, epochs, batch_size, validation_data=None):
    """Train model for epochs in batches of batch_size, quietly; (history dict, epoch seconds)."""
    timer = _EpochTimer()
    history = model.fit(
        x,
        y,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=validation_data,
        verbose=0,
        callbacks=[timer],
    )
    values = {name: [float(v) for v in series] for name, series in history.history.items()}
    return values, timer.seconds


def train(setup, x, y, validation_data=None):
    """Train setup's model on (x, y), or load it from the model cache; returns a Trained."""
    model = build(setup)
    description = describe(setup, model, x, y, validation_data)
    about = {"setup": dataclasses.asdict(setup)}
    return _fit_cached(
        model, x, y, setup.epochs, setup.batch_size, validation_data, description, about
    )


def train_model(build_model, x, y, epochs, batch_size, validation_data=None, seed=0):
    """Train the compiled model build_model() returns, seeded, or load it from the model cache.

    For a model that is not a `Setup`'s, e.g. a functional one: the key is made of the model
    and optimizer as Keras configures them, the loss, the data, epochs, batch_size and seed.
    Returns a Trained.
    """
    keras.utils.set_random_seed(seed)
    model = build_model()
    about = {"training": {"epochs": epochs, "batch_size": batch_size, "seed": seed}}
    description = {**about, **describe_model(model, x, y, validation_data)}
    return _fit_cached(model, x, y, epochs, batch_size, validation_data, description, about)


def _fit_cached(model, x, y, epochs, batch_size, validation_data, description, about):
    """fit() through the model cache under description; about goes into the record. A Trained."""

    def compute():
        where = provenance.describe()
        start = time.perf_counter()
        history, epoch_seconds = fit(model, x, y, epochs, batch_size, validation_data)
        record = {
            **about,
            "history": history,
            "epoch_seconds": epoch_seconds,
            "seconds": time.perf_counter() - start,
            "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "machine": where,
            "versions": provenance.versions(),
        }
        return model, record

    entry = cache.cached(description, compute)
    if entry.from_cache:
        _take_names(entry.value, model)
    record = entry.record
    return Trained(
        model=entry.value,
        history=record["history"],
        epoch_seconds=record["epoch_seconds"],
        seconds=record["seconds"],
        key=entry.key,
        from_cache=entry.from_cache,
        finished=record.get("finished"),
        machine=record.get("machine"),
    )


def _take_names(loaded, built):
    """Give a model loaded from the cache the model and layer names of built, the same network:
    names are not in the key, so an entry may have been saved under others (``conv2d_5``)."""
    loaded.name = built.name
    for loaded_layer, built_layer in zip(loaded.layers, built.layers, strict=True):
        loaded_layer.name = built_layer.name


def accuracy(model, x, y):
    """The share of images in x whose most probable class is the one-hot label in y."""
    predicted = model.predict(x, batch_size=1000, verbose=0).argmax(axis=-1)
    return float(np.mean(predicted == np.asarray(y).argmax(axis=-1)))


def describe(setup, model, x, y, validation_data=None):
    """Everything that determines a trained model, as the JSON the cache key is made from."""
    # The input shape and the classes are in the model's config: left out of the setup's part,
    # so that keys made before Setup carried them still find their models.
    setup_part = dataclasses.asdict(setup)
    del setup_part["input_shape"], setup_part["num_classes"]
    return {"setup": setup_part, **describe_model(model, x, y, validation_data)}


def describe_model(model, x, y, validation_data=None):
    """A compiled model, its optimizer, loss and data, and the versions, as JSON for a key."""
    config = model.get_config()
    config.pop("name", None)  # layer names count up within a session; they change nothing
    for layer in config["layers"]:
        layer["config"].pop("name", None)
    # A functional model also names each layer where its inputs are wired: number them instead.
    positions = {
        layer["name"]: f"#{i}" for i, layer in enumerate(config["layers"]) if "name" in layer
    }
    config = _renamed(config, positions)
    optimizer_config = model.optimizer.get_config()
    optimizer_config.pop("name", None)  # counts up too: adadelta, adadelta_1, ...
    data = {"x": cache.fingerprint(x), "y": cache.fingerprint(y), "validation": None}
    if validation_data is not None:
        data["validation"] = [cache.fingerprint(array) for array in validation_data]
    return {
        "model": config,
        "optimizer": optimizer_config,
        "loss": model.loss,
        "data": data,
        "versions": provenance.versions(),
    }


def _renamed(value, names):
    """value (JSON) with every string that is a key of names replaced by its value."""
    if isinstance(value, dict):
        return {key: _renamed(item, names) for key, item in value.items()}
    if isinstance(value, (list, tuple)):  # Keras keeps some lists as tuples
        return [_renamed(item, names) for item in value]
    return names.get(value, value) if isinstance(value, str) else value


class _EpochTimer(keras.callbacks.Callback):
    """Records the wall time of each epoch."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
