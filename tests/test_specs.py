"""The layer notation against the lecture notes' own numbers and against Keras."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from cnnbook import specs  # noqa: E402

MNIST = (28, 28, 1)
VGG16 = (
    "conv3-64 x2, maxpool2, conv3-128 x2, maxpool2, conv3-256 x3, maxpool2, "
    "conv3-512 x3, maxpool2, conv3-512 x3, maxpool2, FC-4096 x2, softmax-1000"
)

# (notation, the notes' parameter count), all on 28×28×1 inputs with padding="valid".
NOTES = [
    ("conv5-20, maxpool2, FC-100, softmax-10", 289_630),
    ("conv5-20, maxpool2, conv5-40, maxpool2, FC-100, softmax-10", 85_670),
    (
        "conv5-20, maxpool2, conv5-40, maxpool2, FC-1000, dropout0.5, FC-1000, dropout0.5, "
        "softmax-10",
        1_672_570,
    ),
    ("conv5-10, maxpool2, conv5-20, maxpool2, FC-100, softmax-10", 38_390),
    ("conv3-32, maxpool2, conv3-64, maxpool2, conv3-64, FC-64, softmax-10", 93_322),
]


def keras_shapes(model: keras.Model) -> list[tuple[int, ...]]:
    """Each layer's output shape without the batch axis, the input first."""
    return [tuple(model.inputs[0].shape[1:])] + [
        tuple(layer.output.shape[1:])
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
    ]


@pytest.mark.parametrize(("notation", "notes"), NOTES)
def test_count_matches_notes_and_keras(notation, notes):
    spec = specs.parse(notation, input_shape=MNIST)
    model = spec.to_keras()
    assert spec.count_params() == notes
    assert model.count_params() == notes
    assert spec.parameters() == [layer.count_params() for layer in model.layers]
    assert spec.shapes() == keras_shapes(model)


def test_keras_layers_are_named_as_the_notation_writes_them():
    notation = "conv5-20, maxpool2, FC-1000, dropout0.5, FC-1000, dropout0.5, softmax-10"
    model = specs.parse(notation, input_shape=MNIST).to_keras(name="CNNmodel3")
    assert model.name == "CNNmodel3"
    assert [layer.name for layer in model.layers] == [
        "conv5-20",
        "maxpool2",
        "flatten",
        "FC-1000",
        "dropout0.5",
        "FC-1000_2",
        "dropout0.5_2",
        "softmax-10",
    ]


def test_chain_as_the_notes_draw_it():
    spec = specs.parse("conv5-20, maxpool2, FC-100, softmax-10", input_shape=MNIST)
    assert spec.chain() == "28×28×1 → 24×24×20 → 12×12×20 → 2880 → 100 → 10"
    assert spec.shapes() == [(28, 28, 1), (24, 24, 20), (12, 12, 20), (2880,), (100,), (10,)]


def test_chain_leaves_out_dropout():
    spec = specs.parse("conv5-20, maxpool2, FC-100, dropout0.5, softmax-10", input_shape=MNIST)
    assert spec.chain() == "28×28×1 → 24×24×20 → 12×12×20 → 2880 → 100 → 10"
    assert len(spec.shapes()) == len(spec.layers) + 1 == 7


def test_per_layer_arithmetic_from_the_notes():
    spec = specs.parse(NOTES[1][0], input_shape=MNIST)
    counts = dict(zip((str(layer) for layer in spec.layers), spec.parameters(), strict=True))
    assert counts["conv5-20"] == (5 * 5 * 1 + 1) * 20 == 26 * 20 == 520
    assert counts["conv5-40"] == (5 * 5 * 20 + 1) * 40 == 501 * 40 == 20_040
    assert counts["maxpool2"] == counts["flatten"] == 0
    table = spec.table()
    assert "(5×5×1 + 1)×20 = 26×20" in table
    assert "(5×5×20 + 1)×40 = 501×40" in table
    assert "20,040" in table
    assert table.splitlines()[-1].split() == ["total", "85,670"]

    first = specs.parse(NOTES[0][0], input_shape=MNIST)
    assert first.parameters()[3] == 2881 * 100 == 288_100
    assert "(2880 + 1)×100 = 2881×100" in first.table()


def test_notation_is_case_and_whitespace_tolerant():
    loose = specs.parse("  CONV5-20 ,MaxPool2,fc-100,  Softmax-10 ", input_shape=MNIST)
    strict = specs.parse("conv5-20, maxpool2, FC-100, softmax-10", input_shape=MNIST)
    assert loose == strict
    assert str(loose) == "conv5-20, maxpool2, flatten, FC-100, softmax-10"


def test_repeat_expands():
    repeated = specs.parse("conv3-8 x2, avgpool2, FC-16 ×2", input_shape=MNIST)
    spelled = specs.parse("conv3-8, conv3-8, avgpool2, flatten, FC-16, FC-16", input_shape=MNIST)
    assert repeated == spelled
    assert repeated.count_params() == repeated.to_keras().count_params()


def test_activation_can_be_overridden():
    model = specs.parse("conv3-4, FC-8, softmax-10", input_shape=MNIST).to_keras("sigmoid")
    activations = [layer.activation.__name__ for layer in model.layers if hasattr(layer, "units")]
    assert activations == ["sigmoid", "softmax"]
    assert model.layers[0].activation.__name__ == "sigmoid"


@pytest.fixture(scope="module")
def keras_vgg16():
    """Keras's own VGG16, built once: 138 million parameters, about 0.6 GB."""
    model = keras.applications.VGG16(weights=None)
    yield model
    keras.backend.clear_session()


def test_vgg16_matches_keras_applications(keras_vgg16):
    spec = specs.parse(VGG16, input_shape=(224, 224, 3), padding="same")
    assert spec.count_params() == keras_vgg16.count_params() == 138_357_544
    assert spec.shapes() == keras_shapes(keras_vgg16)
    keras_counts = [layer.count_params() for layer in keras_vgg16.layers[1:]]
    assert spec.parameters() == keras_counts


@pytest.mark.parametrize(
    ("notation", "message"),
    [
        (
            "conv5x20, maxpool2",
            r"unknown layer 'conv5x20' at position 1; expected e\.g\. conv5-20",
        ),
        ("conv5-20, pool2", r"unknown layer 'pool2' at position 2"),
        ("conv5-20, maxpool2x2", r"'maxpool2x2' at position 2.*after a space, e\.g\. conv3-64 x2"),
        ("", r"notation is empty"),
        ("  ", r"notation is empty"),
        ("conv5-20,, FC-10", r"empty layer at position 2"),
        ("conv30-20", r"conv30-20 at position 1 does not fit: kernel_size 30 .* 28×28×1"),
        ("conv5-20, maxpool2, FC-100, conv5-40", r"conv5-40 at position 4 .* flat vector 100"),
        ("conv5-20, maxpool2, conv5-40, maxpool2, conv5-8", r"conv5-8 at position 5 .* 4×4×40"),
        ("maxpool2 x5", r"maxpool2 at position 1 does not fit: pool_size 2 .* 1×1×1"),
        ("conv5-20, FC-100, conv3-10", r"conv3-10 at position 3 .* flat vector 100"),
        ("FC-100, maxpool2", r"maxpool2 at position 2 .* flat vector 100"),
        ("conv5-20, softmax-10, FC-100", r"softmax-10 at position 2 is not the last layer"),
        ("FC-10, softmax-10 x2", r"softmax-10 at position 2 is not the last layer"),
        ("FC-100, dropout1.5", r"'dropout1.5' at position 2 has rate 1.5"),
        ("FC-100, dropout0", r"'dropout0' at position 2 has rate 0"),
        ("conv0-20", r"'conv0-20' at position 1 has a zero size"),
        ("FC-10 x0", r"'FC-10 x0' at position 1 repeats zero times"),
    ],
)
def test_errors_name_the_offending_layer(notation, message):
    with pytest.raises(ValueError, match=message):
        specs.parse(notation, input_shape=MNIST)


@pytest.mark.parametrize(
    ("input_shape", "padding", "message"),
    [
        ((28, 28), "valid", r"input_shape \(28, 28\) should be \(height, width, channels\)"),
        ((28, 0, 1), "valid", r"input_shape"),
        (MNIST, "full", r"padding must be 'valid', 'same', got 'full'"),
        # one decision for the whole package: the lower-case words, as chapter 1 refuses "SAME"
        (MNIST, "SAME", r"padding must be 'valid', 'same', got 'SAME'; use padding='same'"),
        (MNIST, 1, r"padding must be 'valid', 'same', got 1"),
    ],
)
def test_errors_for_bad_arguments(input_shape, padding, message):
    with pytest.raises(ValueError, match=message):
        specs.parse("conv5-20", input_shape=input_shape, padding=padding)


def test_same_padding_keeps_the_size():
    spec = specs.parse("conv7-4, conv7-4", input_shape=(5, 5, 1), padding="same")
    assert spec.shapes() == [(5, 5, 1), (5, 5, 4), (5, 5, 4)] == keras_shapes(spec.to_keras())


@st.composite
def small_specs(draw):
    """A random valid notation string on a small input, with random case and spacing."""
    input_shape = (draw(st.integers(4, 12)), draw(st.integers(4, 12)), draw(st.integers(1, 3)))
    height, width = input_shape[:2]
    padding = draw(st.sampled_from(["valid", "same"]))
    tokens = []
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):
            largest = 5 if padding == "same" else min(5, height, width)
            kernel_size = draw(st.integers(1, largest))
            tokens.append(f"conv{kernel_size}-{draw(st.integers(1, 6))}")
            if padding == "valid":
                height, width = height - kernel_size + 1, width - kernel_size + 1
        elif min(height, width) >= 2:
            pool_size = draw(st.integers(2, min(3, height, width)))
            tokens.append(f"{draw(st.sampled_from(['max', 'avg']))}pool{pool_size}")
            height, width = height // pool_size, width // pool_size
    for _ in range(draw(st.integers(0, 2))):
        tokens.append(f"FC-{draw(st.integers(1, 12))}")
        if draw(st.booleans()):
            tokens.append(f"dropout{draw(st.sampled_from(['0.1', '.25', '0.5']))}")
    if not tokens or draw(st.booleans()):
        tokens.append(f"softmax-{draw(st.integers(2, 10))}")
    tokens = [draw(st.sampled_from([token, token.upper(), f" {token} "])) for token in tokens]
    return ",".join(tokens), input_shape, padding


@settings(max_examples=25, deadline=None)
@given(small_specs())
def test_random_specs_agree_with_keras(case):
    notation, input_shape, padding = case
    spec = specs.parse(notation, input_shape=input_shape, padding=padding)
    model = spec.to_keras()
    assert spec.count_params() == model.count_params()
    assert spec.shapes() == keras_shapes(model)


@pytest.mark.parametrize(
    ("input_shape", "filters", "kernel_size", "padding"),
    [((56, 56, 128), 128, 3, "same"), ((28, 28, 32), 64, 5, "valid"), ((7, 9, 3), 10, 3, "valid")],
)
def test_costs_match_keras_parameters(input_shape, filters, kernel_size, padding):
    standard = keras.layers.Conv2D(filters=filters, kernel_size=kernel_size, padding=padding)
    separable = keras.layers.SeparableConv2D(
        filters=filters, kernel_size=kernel_size, padding=padding
    )
    for layer in (standard, separable):
        layer.build((None, *input_shape))
    conv = specs.conv_cost(input_shape, filters=filters, kernel_size=kernel_size, padding=padding)
    sep = specs.separable_cost(input_shape, filters, kernel_size, padding=padding)
    assert conv.parameters == standard.count_params()
    assert sep.parameters == separable.count_params()


def test_multiply_adds_by_hand():
    # 56×56 outputs ('same'); each of 128 filters looks at 3×3×128 inputs per position.
    assert specs.conv_cost((56, 56, 128), 128, 3, "same").multiply_adds == 462_422_016
    # depthwise 3×3 on each of 128 channels, then 128×128 pointwise, at 56×56 positions.
    assert specs.separable_cost((56, 56, 128), 128, 3, "same").multiply_adds == 54_992_896
    # 'valid' leaves 24×24 positions of a 5×5 kernel on 28×28.
    assert specs.conv_cost((28, 28, 1), 20, 5).multiply_adds == 24 * 24 * 25 * 20
    assert specs.separable_cost((28, 28, 1), 20, 5).multiply_adds == 24 * 24 * (25 + 20)


def test_cost_errors():
    with pytest.raises(ValueError, match=r"conv_cost does not fit: kernel_size 9 .* 4×4×3"):
        specs.conv_cost((4, 4, 3), filters=8, kernel_size=9)
    with pytest.raises(ValueError, match=r"filters must be at least 1, got 0"):
        specs.separable_cost((4, 4, 3), filters=0, kernel_size=3)


def test_spec_built_by_hand_is_checked_too():
    with pytest.raises(ValueError, match=r"FC-10 at position 1 meets a 28×28×1 feature map"):
        specs.Spec((specs.Layer("fc", units=10),), input_shape=MNIST)
