"""The lecture notes' layer notation: shapes, parameter counts and Keras models from one string.
Introduced in chapter 3.

Grammar (case-insensitive; spaces around commas and before a repeat are ignored)::

    spec   := layer ("," layer)*
    layer  := token [" x" N]            N copies: "conv3-64 x2" (a space before x; × also works)
    token  := "conv" K "-" F            K×K convolution with F filters (relu)
            | "maxpool" P               P×P max pooling with stride P
            | "avgpool" P               P×P average pooling with stride P
            | "flatten"                 optional: added before the first FC when missing
            | "FC-" N                   dense layer with N units (relu)
            | "dropout" R               dropout with rate R, 0 < R < 1 (no parameters)
            | "softmax-" N              final dense softmax layer with N units

``parse("conv5-20, maxpool2, FC-100, softmax-10", input_shape=(28, 28, 1))`` gives a `Spec`
whose `shapes()`, `count_params()` and `to_keras()` agree layer by layer. ``padding`` applies to
the convolutions; pooling always uses Keras's default, "valid" (sizes are rounded down).
"""

import collections
import dataclasses
import re
import typing

import keras

from cnnbook import arithmetic, validate

EXAMPLES = "conv5-20, maxpool2, FC-100, dropout0.5, softmax-10"  # quoted in error messages

_TOKEN = re.compile(
    r"conv(?P<kernel_size>\d+)-(?P<filters>\d+)"
    r"|(?P<pool>max|avg)pool(?P<pool_size>\d+)"
    r"|flatten"
    r"|fc-(?P<units>\d+)"
    r"|dropout(?P<rate>\d*\.?\d+)"
    r"|softmax-(?P<classes>\d+)"
)
_REPEAT = re.compile(r"(?P<token>\S+)(?:\s+[x×]\s*(?P<repeat>\d+))?")
_NEEDS_FEATURE_MAP = ("conv", "maxpool", "avgpool", "flatten")


@dataclasses.dataclass(frozen=True)
class Layer:
    """One layer of the notation, e.g. conv5-20, with its sizes in Keras vocabulary."""

    kind: str  # "conv", "maxpool", "avgpool", "flatten", "fc", "dropout" or "softmax"
    kernel_size: int | None = None
    filters: int | None = None
    pool_size: int | None = None
    units: int | None = None
    rate: float | None = None
    position: int | None = dataclasses.field(default=None, compare=False, repr=False)

    def __str__(self):
        if self.kind == "conv":
            return f"conv{self.kernel_size}-{self.filters}"
        if self.kind in ("maxpool", "avgpool"):
            return f"{self.kind}{self.pool_size}"
        if self.kind == "fc":
            return f"FC-{self.units}"
        if self.kind == "dropout":
            return f"dropout{self.rate:g}"
        if self.kind == "softmax":
            return f"softmax-{self.units}"
        return self.kind  # flatten


@dataclasses.dataclass(frozen=True)
class Spec:
    """A network in the notation: layers (repeats expanded, flatten explicit) on an input_shape."""

    layers: tuple[Layer, ...]
    input_shape: tuple[int, int, int]
    padding: str = "valid"

    def __post_init__(self):
        self.shapes()  # raises ValueError for a layer that does not fit

    def __str__(self):
        return ", ".join(str(layer) for layer in self.layers)

    def shapes(self) -> list[tuple[int, ...]]:
        """The input_shape, then each layer's output shape: one more entry than `layers`."""
        shapes = [tuple(self.input_shape)]
        for index, layer in enumerate(self.layers):
            shapes.append(_output_shape(layer, shapes[-1], self.padding, index))
        return shapes

    def chain(self) -> str:
        """The shapes as the notes draw them, '28×28×1 → 24×24×20 → …'; dropout is left out."""
        kept = [self.input_shape] + [
            shape
            for layer, shape in zip(self.layers, self.shapes()[1:], strict=True)
            if layer.kind != "dropout"
        ]
        return " → ".join(_format_shape(shape) for shape in kept)

    def parameters(self) -> list[int]:
        """The number of weights and biases in each layer, in the order of `layers`."""
        return [
            _parameters(layer, shape)
            for layer, shape in zip(self.layers, self.shapes()[:-1], strict=True)
        ]

    def count_params(self) -> int:
        """The total number of parameters; the same as `to_keras().count_params()`."""
        return sum(self.parameters())

    def table(self) -> str:
        """Each layer's output shape, parameter count and its arithmetic, as aligned text."""
        shapes = self.shapes()
        rows = [("layer", "output shape", "parameters", "arithmetic")]
        rows.append(("input", _format_shape(shapes[0]), "", ""))
        for layer, before, after in zip(self.layers, shapes[:-1], shapes[1:], strict=True):
            count = _parameters(layer, before)
            rows.append(
                (str(layer), _format_shape(after), f"{count:,}", _arithmetic(layer, before))
            )
        rows.append(("total", "", f"{self.count_params():,}", ""))
        widths = [max(len(row[column]) for row in rows) for column in range(4)]
        return "\n".join(
            f"{name:<{widths[0]}}  {shape:<{widths[1]}}  {count:>{widths[2]}}  {sums}".rstrip()
            for name, shape, count, sums in rows
        )

    def to_keras(self, activation: str = "relu", name: str | None = None) -> keras.Sequential:
        """The Keras model: one Keras layer per entry of `layers`; activation for conv and FC.

        Each Keras layer is named as the notation writes it (``conv5-20``, ``FC-100``; a repeat
        gets ``_2``, ``_3``), so that ``model.summary()`` reads like the notation.
        """
        model = keras.Sequential([keras.Input(shape=self.input_shape)], name=name)
        seen = collections.Counter()
        for layer in self.layers:
            seen[str(layer)] += 1
            suffix = f"_{seen[str(layer)]}" if seen[str(layer)] > 1 else ""
            model.add(_keras_layer(layer, self.padding, activation, f"{layer}{suffix}"))
        return model


class Cost(typing.NamedTuple):
    """Parameters (weights and biases) and multiply-adds of one layer on one image."""

    parameters: int
    multiply_adds: int


def parse(notation: str, input_shape: tuple[int, int, int], padding: str = "valid") -> Spec:
    """Read the notes' notation, e.g. "conv5-20, maxpool2, FC-100, softmax-10", into a Spec."""
    input_shape = validate.input_shape(input_shape)
    padding = validate.padding(padding, numbers=False)
    if not notation.strip():
        raise ValueError(f"the notation is empty; expected e.g. {EXAMPLES}")
    layers = []
    for position, text in enumerate(notation.split(","), start=1):
        for layer in _read_layer(text.strip(), position):
            if layer.kind in ("fc", "softmax") and not any(
                earlier.kind in ("fc", "softmax", "flatten") for earlier in layers
            ):
                layers.append(Layer("flatten", position=position))
            layers.append(layer)
    for layer in layers[:-1]:
        if layer.kind == "softmax":
            raise ValueError(
                f"{layer} at position {layer.position} is not the last layer; softmax gives the "
                "class probabilities, so it ends the network (use FC-N for a hidden layer)"
            )
    return Spec(tuple(layers), input_shape, padding)


def conv_cost(
    input_shape: tuple[int, int, int], filters: int, kernel_size: int, padding: str = "valid"
) -> Cost:
    """A kernel_size×kernel_size Conv2D on an (H, W, C_in) input, stride 1; returns its Cost."""
    positions, channels = _cost_plan(input_shape, filters, kernel_size, padding, "conv_cost")
    parameters = (kernel_size * kernel_size * channels + 1) * filters
    multiply_adds = positions * kernel_size * kernel_size * channels * filters
    return Cost(parameters, multiply_adds)


def separable_cost(
    input_shape: tuple[int, int, int], filters: int, kernel_size: int, padding: str = "valid"
) -> Cost:
    """A SeparableConv2D (depthwise k×k per channel, then 1×1 pointwise) on (H, W, C_in); Cost."""
    positions, channels = _cost_plan(input_shape, filters, kernel_size, padding, "separable_cost")
    depthwise = kernel_size * kernel_size * channels
    pointwise = channels * filters
    parameters = depthwise + pointwise + filters
    multiply_adds = positions * (depthwise + pointwise)
    return Cost(parameters, multiply_adds)


def _cost_plan(input_shape, filters, kernel_size, padding, where) -> tuple[int, int]:
    """Check a cost function's arguments; return (output positions H'·W', input channels)."""
    input_shape = validate.input_shape(input_shape)
    validate.whole_number(filters, "filters")
    validate.whole_number(kernel_size, "kernel_size")
    out_height, out_width = _conv_output(
        input_shape, kernel_size, validate.padding(padding, numbers=False), where=where
    )
    return out_height * out_width, input_shape[2]


def _read_layer(text: str, position: int) -> list[Layer]:
    """The layers one comma-separated piece stands for (more than one when it has a repeat)."""
    repeat = _REPEAT.fullmatch(text)
    token = _TOKEN.fullmatch(repeat.group("token").lower()) if repeat else None
    if token is None:
        what = f"unknown layer {text!r}" if text else "an empty layer"
        glued = re.fullmatch(r"(\S+?)[x×]\d+", text.lower())
        hint = "; write a repeat after a space, e.g. conv3-64 x2"
        hint = hint if glued and _TOKEN.fullmatch(glued.group(1)) else ""
        raise ValueError(f"{what} at position {position}; expected e.g. {EXAMPLES}{hint}")
    sizes = {name: value for name, value in token.groupdict().items() if value is not None}
    for name, value in sizes.items():
        if name not in ("pool", "rate") and int(value) == 0:
            raise ValueError(f"{text!r} at position {position} has a zero size; sizes are >= 1")
    count = int(repeat.group("repeat") or 1)
    if count == 0:
        raise ValueError(f"{text!r} at position {position} repeats zero times; use x1 or more")
    if "kernel_size" in sizes:
        layer = Layer("conv", kernel_size=int(sizes["kernel_size"]), filters=int(sizes["filters"]))
    elif "pool" in sizes:
        layer = Layer(sizes["pool"] + "pool", pool_size=int(sizes["pool_size"]))
    elif "units" in sizes:
        layer = Layer("fc", units=int(sizes["units"]))
    elif "rate" in sizes:
        rate = float(sizes["rate"])
        if not 0 < rate < 1:
            raise ValueError(
                f"{text!r} at position {position} has rate {rate:g}; a dropout rate lies "
                "strictly between 0 and 1, e.g. dropout0.5"
            )
        layer = Layer("dropout", rate=rate)
    elif "classes" in sizes:
        layer = Layer("softmax", units=int(sizes["classes"]))
    else:
        layer = Layer("flatten")
    return [dataclasses.replace(layer, position=position)] * count


def _output_shape(
    layer: Layer, shape: tuple[int, ...], padding: str, index: int
) -> tuple[int, ...]:
    """The shape `layer` gives for an input of `shape`; ValueError if it does not fit."""
    where = f"{layer} at position {layer.position or index + 1}"
    if layer.kind in _NEEDS_FEATURE_MAP and len(shape) != 3:
        raise ValueError(
            f"{where} needs an H×W×C feature map but meets the flat vector "
            f"{_format_shape(shape)}; put convolution and pooling before the first FC layer"
        )
    if layer.kind in ("fc", "softmax") and len(shape) != 1:
        raise ValueError(f"{where} meets a {_format_shape(shape)} feature map; flatten it first")
    if layer.kind == "conv":
        return (*_conv_output(shape, layer.kernel_size, padding, where), layer.filters)
    if layer.kind in ("maxpool", "avgpool"):
        if layer.pool_size > min(shape[:2]):
            raise ValueError(
                f"{where} does not fit: pool_size {layer.pool_size} is larger than the "
                f"{_format_shape(shape)} feature map it meets; pool less or use a smaller "
                "pool_size"
            )
        size = layer.pool_size
        return (*(arithmetic.output_size(d, size, strides=size) for d in shape[:2]), shape[2])
    if layer.kind == "flatten":
        return (shape[0] * shape[1] * shape[2],)
    if layer.kind in ("fc", "softmax"):
        return (layer.units,)
    return shape  # dropout


def _conv_output(
    shape: tuple[int, ...], kernel_size: int, padding: str, where: str
) -> tuple[int, int]:
    """(H', W') of a stride-1 convolution: H - kernel_size + 1 for 'valid', H for 'same'."""
    if padding == "valid" and kernel_size > min(shape[:2]):
        raise ValueError(
            f"{where} does not fit: kernel_size {kernel_size} is larger than the "
            f"{_format_shape(shape)} feature map it meets; use padding='same' or a smaller kernel"
        )
    return tuple(arithmetic.output_size(d, kernel_size, padding=padding) for d in shape[:2])


def _parameters(layer: Layer, shape: tuple[int, ...]) -> int:
    """Weights and biases of `layer` on an input of `shape`."""
    if layer.kind == "conv":
        return (layer.kernel_size * layer.kernel_size * shape[2] + 1) * layer.filters
    if layer.kind in ("fc", "softmax"):
        return (shape[0] + 1) * layer.units
    return 0


def _arithmetic(layer: Layer, shape: tuple[int, ...]) -> str:
    """The parameter count written out as the notes do, e.g. '(5×5×1 + 1)×20 = 26×20'."""
    if layer.kind == "conv":
        k, channels = layer.kernel_size, shape[2]
        per_filter = k * k * channels + 1
        return f"({k}×{k}×{channels} + 1)×{layer.filters} = {per_filter}×{layer.filters}"
    if layer.kind in ("fc", "softmax"):
        return f"({shape[0]} + 1)×{layer.units} = {shape[0] + 1}×{layer.units}"
    return ""


def _keras_layer(layer: Layer, padding: str, activation: str, name: str) -> keras.Layer:
    """The Keras layer for one layer of the notation, called name."""
    if layer.kind == "conv":
        return keras.layers.Conv2D(
            filters=layer.filters,
            kernel_size=layer.kernel_size,
            padding=padding,
            activation=activation,
            name=name,
        )
    if layer.kind == "maxpool":
        return keras.layers.MaxPooling2D(pool_size=layer.pool_size, name=name)
    if layer.kind == "avgpool":
        return keras.layers.AveragePooling2D(pool_size=layer.pool_size, name=name)
    if layer.kind == "flatten":
        return keras.layers.Flatten(name=name)
    if layer.kind == "fc":
        return keras.layers.Dense(units=layer.units, activation=activation, name=name)
    if layer.kind == "dropout":
        return keras.layers.Dropout(rate=layer.rate, name=name)
    return keras.layers.Dense(units=layer.units, activation="softmax", name=name)


def _format_shape(shape: tuple[int, ...]) -> str:
    """A shape as the notes write it: (24, 24, 20) -> '24×24×20', (2880,) -> '2880'."""
    return "×".join(str(size) for size in shape)
