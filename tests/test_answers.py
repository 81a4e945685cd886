"""The plain-data export of a notebook's answers and the host's checks on it: values come back
as they were, a function as its recorded results, a Keras model from config and weights; and
anything else (pickles, links, huge files, foreign code in a model, extra names) is refused.
"""

import json
import os

import keras
import numpy as np
import pytest

from cnnbook.course import answers, checking, feedback


def export(tmp_path, namespace, calls=None, label="q"):
    """Export namespace's names as label, then load them back."""
    plan = {label: {"names": sorted(namespace), "calls": calls or {}}}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    answers.export(label, namespace, tmp_path / "plan.json", tmp_path)
    return answers.load(tmp_path, label, sorted(namespace))


def encoded_call(*args):
    """A recorded call's inputs, as `cnnbook assign` stores them."""
    return answers.Encoder(inline=True)([list(args), {}])


def test_values_come_back_as_they_were(tmp_path):
    values = {
        "shape": (15, 15, 16),
        "counts": {4: 1.5, 0.001: np.float64(0.25)},
        "array": np.arange(6).reshape(2, 3),
        "blank": ...,
        "nothing": None,
        "words": ["B", float("nan")],
        "kinds": {1, 2},
    }
    back = export(tmp_path, values)
    assert back["shape"] == (15, 15, 16) and type(back["shape"]) is tuple
    assert back["counts"] == {4: 1.5, 0.001: 0.25} and type(back["counts"][0.001]) is np.float64
    assert np.array_equal(back["array"], values["array"])
    assert back["blank"] is Ellipsis and back["nothing"] is None and back["kinds"] == {1, 2}
    assert back["words"][0] == "B" and np.isnan(back["words"][1])


def test_a_function_is_its_results_on_the_recorded_inputs(tmp_path):
    def side(d, k):
        if k == 0:
            raise KeyboardInterrupt  # a BaseException is just a failed call
        return d - k + 1

    back = export(tmp_path, {"side": side}, {"side": [encoded_call(28, 5), encoded_call(3, 0)]})[
        "side"
    ]
    assert back(28, 5) == 24
    with pytest.raises(RuntimeError, match="raised KeyboardInterrupt"):
        back(3, 0)
    with pytest.raises(AssertionError, match="not run on these inputs"):
        back(7, 7)


def test_a_keras_model_comes_back_compiled_with_its_weights(tmp_path):
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, activation="relu")])
    model.compile(optimizer=keras.optimizers.Adadelta(learning_rate=1.0), loss="mse")
    back = export(tmp_path, {"model": model})["model"]
    assert back.count_params() == 15 and back.loss == "mse"
    assert float(back.optimizer.learning_rate) == 1.0
    for mine, theirs in zip(back.get_weights(), model.get_weights(), strict=True):
        assert np.array_equal(mine, theirs)


def test_a_keras_config_naming_other_code_is_refused():
    config = {"module": "os", "class_name": "system", "config": {}}
    with pytest.raises(answers.Invalid, match="outside Keras"):
        answers._check_keras_config({"layers": [config]})
    with pytest.raises(answers.Invalid, match="Lambda"):
        answers._check_keras_config({"module": "keras.layers", "class_name": "Lambda"})


def test_a_pickled_array_is_refused(tmp_path):
    export(tmp_path, {"x": 1})
    np.savez(tmp_path / "q.npz", a0=np.array([object()], dtype=object), allow_pickle=True)
    (tmp_path / "q.json").write_text(json.dumps({"x": {"t": "array", "key": "a0"}}))
    with pytest.raises(answers.Invalid, match="unreadable"):
        answers.load(tmp_path, "q", ["x"])


def test_extra_names_links_and_huge_files_are_refused(tmp_path, monkeypatch):
    export(tmp_path, {"x": 1})
    with pytest.raises(answers.Invalid, match="exactly"):
        answers.load(tmp_path, "q", ["x", "y"])
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"x": 2}))
    os.remove(tmp_path / "q.json")
    os.symlink(secret, tmp_path / "q.json")
    with pytest.raises(OSError):
        answers.load(tmp_path, "q", ["x"])
    os.remove(tmp_path / "q.json")
    (tmp_path / "q.json").write_text(json.dumps({"x": "y" * 1000}))
    monkeypatch.setattr(answers, "MAX_JSON_BYTES", 100)
    with pytest.raises(answers.Invalid, match="more than 100"):
        answers.load(tmp_path, "q", ["x"])


CHECKS = {
    "name": "q",
    "names": ["x"],
    "calls": {},
    "checks": [
        {
            "function": "check_public",
            "parameters": ["x"],
            "hidden": False,
            "source": "def check_public(x):\n    assert x == 2, 'x should be 2'\n",
        },
        {
            "function": "check_hidden",
            "parameters": ["x"],
            "hidden": True,
            "source": "def check_hidden(x):\n    assert x == 2, 'the secret is 2'\n",
        },
        {
            "function": "check_exit",
            "parameters": ["x"],
            "hidden": True,
            "source": "def check_exit(x):\n    raise SystemExit(x)\n",
        },
    ],
}


def test_the_checks_keep_public_hints_only_and_a_base_exception_fails_one_check(tmp_path):
    export(tmp_path, {"x": 3})
    outcomes = checking.check_question(CHECKS, tmp_path)
    assert [(o["passed"], o["error"], o["message"]) for o in outcomes] == [
        (False, "AssertionError", "x should be 2"),
        (False, "AssertionError", ""),
        (False, "SystemExit", ""),
    ]
    export(tmp_path, {"x": 2})
    assert [o["passed"] for o in checking.check_question(CHECKS, tmp_path)] == [
        True,
        True,
        False,
    ]


def test_a_score_is_never_above_its_points():
    record = {
        "student": "s",
        "chapter": "c",
        "status": "graded",
        "detail": "",
        "errors": [],
        "questions": {"q": {"checks": [{"hidden": False, "passed": True, "error": ""}] * 5}},
    }
    bundles = {"c": {"questions": [{"name": "q", "title": "Q", "points": 2}]}}
    (row,) = feedback.score_rows(record, bundles)
    assert (row["score"], row["max_score"], row["status"]) == (2, 2, "correct")
