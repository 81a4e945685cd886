"""Training as the notes do, and the model cache: hits, misses, damage, concurrent writers."""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from cnnbook import forward, mode, recipes, training
from cnnbook.book import cache
from cnnbook.datasets import mnist

QUICK = mode.SIZES["quick"]
TINY = recipes.digits_setup("conv5-4, maxpool2, FC-10, softmax-10", epochs=1, batch_size=50)


@pytest.fixture(scope="module")
def cache_folder(tmp_path_factory):
    """A model cache of this module's own (CNNBOOK_CACHE_DIR), empty at the start."""
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("cache")
        patch.setenv("CNNBOOK_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture(scope="module")
def digits():
    return mnist.load(*QUICK.samples("mnist"))


@pytest.fixture(scope="module")
def quick_cnn1(cache_folder, digits):
    return recipes.train(recipes.RECIPES["cnn1"], digits, QUICK)


@pytest.fixture(scope="module")
def small(digits):
    """500 training digits, for fast runs."""
    return digits.x_train[:500], digits.y_train[:500]


def test_quick_mode_cnn1_beats_90_percent(quick_cnn1, digits):
    assert not quick_cnn1.from_cache
    assert len(quick_cnn1.history["val_accuracy"]) == QUICK.epochs(12)
    assert len(quick_cnn1.epoch_seconds) == QUICK.epochs(12)
    accuracy = training.accuracy(quick_cnn1.model, digits.x_test, digits.y_test)
    assert accuracy > 0.90
    # validated on the test set, as the notes do: the last epoch's score is the test accuracy
    assert quick_cnn1.history["val_accuracy"][-1] == pytest.approx(accuracy, abs=1e-6)


def test_the_hand_forward_pass_of_the_trained_model_equals_predict(quick_cnn1, digits):
    images = digits.x_test[:50]
    by_hand = forward.predict(quick_cnn1.model, images)
    by_keras = quick_cnn1.model.predict(images, verbose=0)
    np.testing.assert_allclose(by_hand, by_keras, atol=1e-5)
    assert (by_hand.argmax(axis=1) == by_keras.argmax(axis=1)).all()


def test_the_same_setup_is_served_from_the_cache(quick_cnn1, digits):
    again = recipes.train(recipes.RECIPES["cnn1"], digits, QUICK)
    assert again.from_cache and again.key == quick_cnn1.key
    assert again.history == quick_cnn1.history
    assert again.epoch_seconds == quick_cnn1.epoch_seconds
    images = digits.x_test[:100]
    np.testing.assert_array_equal(
        again.model.predict(images, verbose=0), quick_cnn1.model.predict(images, verbose=0)
    )


def test_a_changed_setup_is_trained_anew(cache_folder, small):
    first = training.train(TINY, *small)
    other = training.train(dataclasses.replace(TINY, seed=1), *small)
    assert not first.from_cache and not other.from_cache
    assert other.key != first.key
    assert training.train(TINY, *small).from_cache


def test_the_notes_adadelta_is_not_the_keras_3_default():
    built = training.optimizer(recipes.digits_setup(recipes.CNN1))
    assert float(built.learning_rate) == 1.0 and built.rho == 0.95 and built.epsilon == 1e-7
    assert float(keras.optimizers.Adadelta().learning_rate) == pytest.approx(0.001)
    rmsprop = training.optimizer(recipes.digits_setup(recipes.SMALL, optimizer="rmsprop"))
    assert float(rmsprop.learning_rate) == pytest.approx(1e-3) and rmsprop.rho == 0.9


# A different value for every field of Setup: each must change the key (the input shape and
# the classes through the model, whose config holds them; a new class count needs a new notation).
CHANGES = {
    "notation": "conv5-6, maxpool2, FC-10, softmax-10",
    "activation": "sigmoid",
    "optimizer": "rmsprop",
    "learning_rate": 0.5,
    "epochs": 2,
    "batch_size": 25,
    "augmentation": (1, 5),
    "seed": 7,
    "input_shape": {"input_shape": (32, 32, 1)},
    "num_classes": {"num_classes": 5, "notation": "conv5-4, maxpool2, FC-10, softmax-5"},
}


def test_the_changes_cover_every_field_of_setup():
    assert set(CHANGES) == {field.name for field in dataclasses.fields(training.Setup)}


@pytest.mark.parametrize("field", sorted(CHANGES))
def test_the_key_covers_every_field_of_setup(field, small):
    change = CHANGES[field] if isinstance(CHANGES[field], dict) else {field: CHANGES[field]}
    changed = dataclasses.replace(TINY, **change)
    assert _key(changed, *small) != _key(TINY, *small)


def test_the_key_covers_the_data_the_validation_data_and_the_versions(small, monkeypatch):
    x, y = small
    base = _key(TINY, x, y)
    assert _key(TINY, x, y) == base  # stable: layer and optimizer names count up, keys do not
    brighter = x.copy()
    brighter[0, 14, 14, 0] += 0.5
    assert _key(TINY, brighter, y) != base
    assert _key(TINY, x[:400], y[:400]) != base
    assert _key(TINY, x, y, (x[:10], y[:10])) != base
    assert _key(TINY, x, y, (x[:10], y[:10])) != _key(TINY, x, y, (x[:11], y[:11]))
    monkeypatch.setattr(keras, "__version__", "9.9.9")
    assert _key(TINY, x, y) != base


def test_the_cache_lives_under_the_user_cache(cache_folder, small):
    trained = training.train(TINY, *small)
    folder = cache_folder / "models" / trained.key
    assert cache.directory() == cache_folder / "models"
    assert (folder / "model.keras").is_file()
    record = json.loads((folder / "record.json").read_text())
    assert record["key"] == trained.key and record["setup"]["notation"] == TINY.notation
    assert record["machine"]["cores"] >= 1 and record["versions"]["keras"] == keras.__version__


@pytest.mark.parametrize("damage", ["model", "truncated", "record", "missing"])
def test_a_damaged_entry_is_trained_again(cache_folder, small, damage):
    setup = dataclasses.replace(TINY, seed=100 + len(damage))
    trained = training.train(setup, *small)
    folder = cache_folder / "models" / trained.key
    if damage == "model":
        (folder / "model.keras").write_bytes(b"not a zip file")
    elif damage == "truncated":
        content = (folder / "model.keras").read_bytes()
        (folder / "model.keras").write_bytes(content[: len(content) // 2])
    elif damage == "record":
        (folder / "record.json").write_text("{")
    else:
        (folder / "model.keras").unlink()
    with pytest.warns(UserWarning, match="cannot be read"):
        again = training.train(setup, *small)
    assert not again.from_cache and again.key == trained.key
    assert training.train(setup, *small).from_cache  # the retrained entry is whole


WRITER = textwrap.dedent(
    """
    import os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import keras, numpy as np
    from cnnbook.book import cache
    writer = int(sys.argv[1])
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.layers[0].set_weights([np.zeros((4, 2)), np.full(2, writer, dtype="float32")])
    for attempt in range(15):
        cache.store("shared", model, {"writer": writer, "attempt": attempt})
    """
)


def test_concurrent_writers_leave_a_whole_entry(cache_folder):
    environment = {**os.environ, "CNNBOOK_CACHE_DIR": str(cache_folder)}
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(writer)], env=environment)
        for writer in (1, 2)
    ]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0]
    model, record = cache.load("shared")
    assert model.layers[0].get_weights()[1].tolist() == [record["writer"]] * 2
    leftovers = [p.name for p in (cache_folder / "models").iterdir() if p.name.startswith(".")]
    assert leftovers == []


TRAINER = textwrap.dedent(
    """
    import os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    from cnnbook import recipes, training
    from cnnbook.datasets import mnist
    digits = mnist.load(300, 1)
    setup = recipes.digits_setup("conv5-4, maxpool2, FC-10, softmax-10", epochs=1, seed=55)
    print(training.train(setup, digits.x_train, digits.y_train).from_cache)
    """
)


def test_two_builds_training_the_same_model_at_once_train_it_once(cache_folder):
    environment = {**os.environ, "CNNBOOK_CACHE_DIR": str(cache_folder)}
    builds = [
        subprocess.Popen(
            [sys.executable, "-c", TRAINER], env=environment, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = sorted(build.communicate(timeout=180)[0].strip() for build in builds)
    assert [build.returncode for build in builds] == [0, 0]
    assert outputs == ["False", "True"]  # one trained it, the other waited and loaded it


def test_arrays_are_cached_too(cache_folder):
    calls = []

    def compute():
        calls.append(1)
        return {"features": np.arange(6.0).reshape(2, 3)}, {"what": "features"}

    first = cache.cached({"test": "arrays"}, compute)
    again = cache.cached({"test": "arrays"}, compute)
    assert (first.from_cache, again.from_cache, len(calls)) == (False, True, 1)
    np.testing.assert_array_equal(again.value["features"], np.arange(6.0).reshape(2, 3))
    assert again.record["what"] == "features" and again.key == first.key
    assert (cache_folder / "models" / first.key / "arrays.npz").is_file()


def _key(setup, x, y, validation_data=None):
    return cache.key(training.describe(setup, training.build(setup), x, y, validation_data))


def test_train_model_trains_a_functional_model_once_per_seed(cache_folder):
    rng = np.random.default_rng(0)
    x = rng.random((40, 6), dtype=np.float32)
    y = keras.utils.to_categorical(rng.integers(0, 3, 40), 3)

    def compiled():
        inputs = keras.Input(shape=(6,))
        outputs = keras.layers.Dense(3, activation="softmax", name="scores")(inputs)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        return model

    first = training.train_model(compiled, x, y, epochs=2, batch_size=20)
    again = training.train_model(compiled, x, y, epochs=2, batch_size=20)
    other_seed = training.train_model(compiled, x, y, epochs=2, batch_size=20, seed=1)
    assert (first.from_cache, again.from_cache, other_seed.from_cache) == (False, True, False)
    assert again.key == first.key != other_seed.key
    assert again.history == first.history and len(first.history["accuracy"]) == 2
    np.testing.assert_array_equal(again.model.predict(x[:3]), first.model.predict(x[:3]))
    assert not np.array_equal(other_seed.model.predict(x[:3]), first.model.predict(x[:3]))


def test_a_model_from_the_cache_has_the_names_its_code_gives(cache_folder):
    """Names are not in the key: an entry saved under Keras' counted names (dense_7) comes back
    with the names of the code that asks for it now."""
    rng = np.random.default_rng(1)
    x = rng.random((40, 5), dtype=np.float32)
    y = keras.utils.to_categorical(rng.integers(0, 2, 40), 2)

    def compiled(names):
        model = keras.Sequential(
            [
                keras.Input(shape=(5,)),
                keras.layers.Dense(4, activation="relu", name=names[0]),
                keras.layers.Dense(2, activation="softmax", name=names[1]),
            ],
            name=names[2],
        )
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        return model

    saved = training.train_model(
        lambda: compiled(["dense_7", "dense_8", "sequential_3"]), x, y, 1, 20
    )
    named = training.train_model(lambda: compiled(["FC-4", "softmax-2", "small"]), x, y, 1, 20)
    assert (saved.from_cache, named.from_cache) == (False, True)
    assert [layer.name for layer in named.model.layers] == ["FC-4", "softmax-2"]
    assert named.model.name == "small" and named.model.get_layer("FC-4").units == 4
    np.testing.assert_array_equal(named.model.predict(x[:3]), saved.model.predict(x[:3]))
