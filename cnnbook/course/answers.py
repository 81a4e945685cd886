"""A notebook's answers as plain data: what the grading sandbox exports and the host checks.

A graded notebook never runs its chapter's checks. At each ``grader.check("label")`` cell it
exports instead the answers that label's checks take (their parameters): values, the results of
a student's function on the inputs the checks call it with (recorded from the reference answers
by ``cnnbook assign``), and Keras models as their configuration and weights. The export is JSON
(``LABEL.json``) and NumPy arrays (``LABEL.npz``), never pickle. The host reads it back with
`load`, which refuses anything but the expected names, the types below and bounded sizes, and
rebuilds a Keras model in Keras' safe mode from Keras' own classes only.

Encoded values: ``None``, ``bool``, ``int``, ``str`` and finite floats as themselves; else a
dict ``{"t": kind, ...}`` for ``float`` (not finite), ``ellipsis``, ``list``, ``tuple``,
``set``, ``dict`` (a list of pairs), ``array`` and ``scalar`` (NumPy, by key into the arrays),
``keras`` (a model), ``function`` (recorded calls), ``raised`` (a call that raised) and
``unsupported`` (anything else, which no check accepts).
"""

import ast
import builtins
import io
import json
import math
import os
from pathlib import Path

import numpy as np

MAX_JSON_BYTES = 4 * 2**20  # one question's answers, as JSON
MAX_ARRAY_BYTES = 256 * 2**20  # one question's arrays and weights, in all
MAX_STRING = 100_000  # characters of one string
MAX_ITEMS = 200_000  # values in one question's answers, nested ones included
MAX_DEPTH = 32
ARRAY_KINDS = "biufc"  # bool, signed, unsigned, float, complex: no objects, no strings
BUILTIN_ERRORS = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}


class Invalid(ValueError):
    """An export that breaks the rules above: the submission, not the grader, is at fault."""


class Missing:
    """A name the notebook never defined (its cell did not run)."""


def error_name(error: BaseException) -> str:
    """The name of an exception's class if Python defines it (or NotAttempted), else
    'Exception': never a name the submission made up."""
    kind = type(error)
    if kind.__name__ == "NotAttempted" and issubclass(kind, AssertionError):
        return "NotAttempted"
    return kind.__name__ if getattr(builtins, kind.__name__, None) is kind else "Exception"


# --- inside the notebook's kernel ---------------------------------------------------------


class Encoder:
    """Encodes values; arrays go to self.arrays (or inline, for the recorded call inputs)."""

    def __init__(self, inline=False, calls=None):
        self.arrays, self.inline, self.calls = {}, inline, calls or {}

    def __call__(self, value, name=None, depth=0):
        if depth > MAX_DEPTH:
            return {"t": "unsupported", "type": "nested too deep"}
        kind = type(value)
        if value is None or kind in (bool, str):
            return value
        if kind is int:
            return value
        if kind is float:
            return value if math.isfinite(value) else {"t": "float", "v": repr(value)}
        if value is Ellipsis:
            return {"t": "ellipsis"}
        if kind in (list, tuple, set, frozenset):
            items = sorted(value, key=repr) if kind in (set, frozenset) else value
            return {
                "t": "set" if kind in (set, frozenset) else kind.__name__,
                "v": [self(item, depth=depth + 1) for item in items],
            }
        if kind is dict:
            return {
                "t": "dict",
                "v": [
                    [self(k, depth=depth + 1), self(v, depth=depth + 1)] for k, v in value.items()
                ],
            }
        if isinstance(value, (np.ndarray, np.generic)):
            return self._array(np.asarray(value), "array" if kind is np.ndarray else "scalar")
        model = _keras_model(value)
        if model is not None:
            return self._keras(model)
        if callable(value) and not isinstance(value, type):
            return self._function(value, name)
        if hasattr(value, "__array__") and hasattr(value, "shape"):  # a tensor
            return self._array(np.asarray(value), "array")
        return {"t": "unsupported", "type": kind.__name__[:100]}

    def _array(self, array, kind):
        if array.dtype.kind not in ARRAY_KINDS:
            return {"t": "unsupported", "type": f"array of {array.dtype}"[:100]}
        if self.inline:
            return {"t": kind, "dtype": array.dtype.str, "v": array.tolist()}
        key = f"a{len(self.arrays)}"
        self.arrays[key] = array
        return {"t": kind, "key": key}

    def _keras(self, model):
        import keras

        config = json.dumps(keras.saving.serialize_keras_object(model))
        weights = [self._array(np.asarray(w), "array")["key"] for w in model.get_weights()]
        return {"t": "keras", "config": config, "weights": weights}

    def _function(self, function, name):
        calls = []
        for args in self.calls.get(name, []):
            try:
                positional, keywords = decode(args, {})
                result = self(function(*positional, **keywords))
            except BaseException as error:  # noqa: BLE001 - a KeyboardInterrupt is an answer too
                result = {"t": "raised", "name": error_name(error)}
            calls.append({"args": args, "result": result})
        return {"t": "function", "calls": calls}


def _keras_model(value):
    """value if it is a Keras model (Keras is imported only if the notebook imported it)."""
    keras = __import__("sys").modules.get("keras")
    return value if keras is not None and isinstance(value, keras.Model) else None


def export(label, namespace, plan_path, folder) -> None:
    """In the graded kernel: write the answers of label's checks to folder/label.{json,npz}."""
    plan = json.loads(Path(plan_path).read_text())[label]
    encoder = Encoder(calls=plan["calls"])
    answers = {
        name: encoder(namespace[name], name) if name in namespace else {"t": "missing"}
        for name in plan["names"]
    }
    folder = Path(folder)
    folder.mkdir(exist_ok=True)
    np.savez(folder / f"{label}.npz", **encoder.arrays)
    (folder / f"{label}.json").write_text(json.dumps(answers))


def record(label, checks_path, namespace, folder) -> None:
    """In the reference kernel (`cnnbook assign`): run label's checks (checks_path: JSON, the
    checks of each label) on the reference answers, recording the inputs each function answer
    is called with; then export the answers.

    Writes folder/label-record.json: {"failures": [...], "calls": {name: [args, ...]}}.
    """
    checks = json.loads(Path(checks_path).read_text())[label]
    calls, failures = {}, []

    def recorder(name, function):
        def recording(*args, **kwargs):
            encoded = Encoder(inline=True)([list(args), kwargs])
            if encoded not in calls.setdefault(name, []):
                calls[name].append(encoded)
            return function(*args, **kwargs)

        return recording

    for check in checks:
        function = define(check)
        arguments = {}
        for name in check["parameters"]:
            value = namespace[name]
            plain = _keras_model(value) is None and not isinstance(value, type)
            arguments[name] = recorder(name, value) if callable(value) and plain else value
        try:
            function(**arguments)
        except Exception as error:  # noqa: BLE001 - reported to the chapter's author
            failures.append(f"{check['function']}: {type(error).__name__}: {error}")
    folder = Path(folder)
    folder.mkdir(exist_ok=True)
    (folder / f"{label}-record.json").write_text(
        json.dumps({"failures": failures, "calls": calls})
    )
    plan = {label: {"names": names(checks), "calls": calls}}
    (folder / f"{label}-plan.json").write_text(json.dumps(plan))
    export(label, namespace, folder / f"{label}-plan.json", folder)


def define(check: dict):
    """The function of a check (its source without the call that follows it)."""
    tree = ast.parse(check["source"])
    tree.body = tree.body[:1]
    namespace = {}
    exec(compile(tree, f"<check {check['function']}>", "exec"), namespace)
    return namespace[check["function"]]


def names(checks) -> list[str]:
    """Every parameter of a question's checks, in order, once."""
    return list(dict.fromkeys(name for check in checks for name in check["parameters"]))


# --- on the host --------------------------------------------------------------------------


def read_capped(path: Path, limit: int) -> bytes:
    """The bytes of a regular file, opened without following a symlink, at most limit bytes."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        info = os.fstat(descriptor)
        if not (info.st_mode & 0o170000 == 0o100000):
            raise Invalid(f"{path.name} is not a regular file")
        if info.st_size > limit:
            raise Invalid(f"{path.name} has {info.st_size:,} bytes, more than {limit:,}")
        with os.fdopen(descriptor, "rb", closefd=False) as stream:
            data = stream.read(limit + 1)
    finally:
        os.close(descriptor)
    if len(data) > limit:
        raise Invalid(f"{path.name} is larger than {limit:,} bytes")
    return data


def load(folder, label, names) -> dict:
    """The answers exported for label, decoded: {name: value}, Missing for an undefined name.

    Raises Invalid when the export is absent, malformed, too large, or has other names.
    """
    folder = Path(folder)
    try:
        answers = json.loads(read_capped(folder / f"{label}.json", MAX_JSON_BYTES))
        data = read_capped(folder / f"{label}.npz", MAX_ARRAY_BYTES)
    except FileNotFoundError:
        raise Invalid(f"no answers were exported for {label}") from None
    except ValueError as error:  # bad JSON
        raise Invalid(f"the answers of {label} are not valid JSON ({error})") from None
    if not isinstance(answers, dict) or sorted(answers) != sorted(names):
        raise Invalid(f"the answers of {label} do not name exactly its checks' parameters")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
    except Exception as error:  # noqa: BLE001 - any unreadable archive is the export's fault
        raise Invalid(f"the arrays of {label} are unreadable ({type(error).__name__})") from None
    budget = [MAX_ITEMS]
    return {name: decode(answers[name], arrays, budget) for name in names}


def decode(value, arrays, budget=None, depth=0):
    """A value from its encoding (see the module docstring); Invalid if it breaks the rules."""
    budget = budget if budget is not None else [MAX_ITEMS]
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH + 1:
        raise Invalid("the answers hold too many values, or nest too deep")
    if value is None or type(value) in (bool, int, float):
        return value
    if type(value) is str:
        if len(value) > MAX_STRING:
            raise Invalid(f"a string of {len(value):,} characters, more than {MAX_STRING:,}")
        return value
    if type(value) is list:  # the arguments of a recorded call: [args, kwargs]
        return [decode(item, arrays, budget, depth + 1) for item in value]
    if type(value) is not dict or type(value.get("t")) is not str:
        raise Invalid(f"an encoded value of type {type(value).__name__}")
    kind = value["t"]
    items = value.get("v")
    if kind == "ellipsis":
        return Ellipsis
    if kind == "missing":
        return Missing
    if kind == "float" and items in ("nan", "inf", "-inf"):
        return float(items)
    if kind in ("list", "tuple", "set") and type(items) is list:
        decoded = [decode(item, arrays, budget, depth + 1) for item in items]
        try:
            return {"list": list, "tuple": tuple, "set": set}[kind](decoded)
        except TypeError:
            raise Invalid("a set of unhashable values") from None
    if kind == "dict" and type(items) is list:
        pairs = [decode(pair, arrays, budget, depth + 1) for pair in items]
        if not all(len(pair) == 2 for pair in pairs):
            raise Invalid("a dict entry that is not a pair")
        try:
            return dict(pairs)
        except TypeError:
            raise Invalid("a dict with an unhashable key") from None
    if kind in ("array", "scalar"):
        return _decode_array(value, kind, arrays)
    if kind == "keras" and type(value.get("weights")) is list:
        return _decode_keras(value, arrays)
    if kind == "function" and type(value.get("calls")) is list:
        return Recorded(value["calls"], arrays)
    if kind == "raised":
        return Raised(str(value.get("name")))
    if kind == "unsupported":
        return Unsupported(str(value.get("type"))[:100])
    raise Invalid(f"an encoded value of kind {kind[:40]!r}")


def _decode_array(value, kind, arrays):
    if "key" in value:
        if value["key"] not in arrays:
            raise Invalid("an array that is not in the archive")
        array = arrays[value["key"]]
    else:  # inline
        try:
            array = np.asarray(value["v"], dtype=np.dtype(value["dtype"]))
        except (KeyError, TypeError, ValueError):
            raise Invalid("a malformed array") from None
    if array.dtype.kind not in ARRAY_KINDS:
        raise Invalid(f"an array of {array.dtype}")
    return array[()] if kind == "scalar" else array


KERAS_CONFIG_KEYS = ("module", "registered_name")


def _decode_keras(value, arrays):
    """A Keras model rebuilt from its configuration (safe mode, Keras' own classes only)."""
    import keras

    config = value.get("config")
    if type(config) is not str or len(config) > MAX_JSON_BYTES:
        raise Invalid("a Keras model without a configuration, or with one too large")
    config = json.loads(config)
    _check_keras_config(config)
    try:
        model = keras.saving.deserialize_keras_object(config, safe_mode=True)
        model.set_weights(
            [_decode_array({"key": key}, "array", arrays) for key in value["weights"]]
        )
    except Exception as error:  # noqa: BLE001 - a configuration Keras refuses is invalid
        raise Invalid(
            f"a Keras model that Keras cannot rebuild ({type(error).__name__})"
        ) from None
    return model


def _check_keras_config(config, depth=0):
    """Refuse a configuration naming anything outside Keras, or a Lambda layer's code."""
    if depth > 64:
        raise Invalid("a Keras configuration nested too deep")
    if isinstance(config, dict):
        for key in KERAS_CONFIG_KEYS:
            module = config.get(key)
            if (
                key == "module"
                and module is not None
                and not (module == "keras" or str(module).startswith("keras."))
            ):
                raise Invalid("a Keras model that names code outside Keras")
        if config.get("class_name") in ("Lambda", "__lambda__", "function"):
            raise Invalid("a Keras model with a Lambda layer or a function of its own")
        for item in config.values():
            _check_keras_config(item, depth + 1)
    elif isinstance(config, list):
        for item in config:
            _check_keras_config(item, depth + 1)


class Raised:
    """A recorded call that raised: calling the stand-in raises a plain exception again."""

    def __init__(self, name):
        self.name = name if name in BUILTIN_ERRORS or name == "NotAttempted" else "Exception"


class Unsupported:
    """An answer of a type the export does not carry; no check accepts it."""

    def __init__(self, kind):
        self.kind = kind

    def __repr__(self):
        return f"<an answer of type {self.kind}>"


class Recorded:
    """A student's function, as its results on the inputs recorded from the checks."""

    def __init__(self, calls, arrays):
        self.results = {}
        for call in calls:
            if type(call) is not dict or "args" not in call or "result" not in call:
                raise Invalid("a malformed recorded call")
            self.results[json.dumps(call["args"], sort_keys=True)] = call["result"]
        self.arrays = arrays

    def __call__(self, *args, **kwargs):
        key = json.dumps(Encoder(inline=True)([list(args), kwargs]), sort_keys=True)
        if key not in self.results:
            raise AssertionError("the function was not run on these inputs when graded")
        result = decode(self.results[key], self.arrays)
        if isinstance(result, Raised):
            if result.name == "NotAttempted":
                from cnnbook import exercises

                raise exercises.NotAttempted("the function has no answer yet")
            raise RuntimeError(f"the function raised {result.name}")
        return result

    def __repr__(self):
        return "<a function>"


def parameters(source: str) -> tuple[str, list[str]]:
    """The name and parameter names of a check's function (its source: a def, then a call)."""
    definition = ast.parse(source).body[0]
    return definition.name, [argument.arg for argument in definition.args.args]
