"""Convolution arithmetic against the lecture notes' worked examples, SciPy and Keras."""

import math

import keras
import numpy as np
import pytest
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnbook import arithmetic

# The notes' 5x5 binary image and 3x3 "X" kernel.
IMAGE = np.array(
    [
        [1, 1, 1, 0, 0],
        [0, 1, 1, 1, 0],
        [0, 0, 1, 1, 1],
        [0, 0, 1, 1, 0],
        [0, 1, 1, 0, 0],
    ]
)
X_KERNEL = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]])


def scipy_reference(image, kernel, strides, padding):
    """Cross-correlation by SciPy, with padding by np.pad and strides by slicing."""
    padded = np.pad(image, ((padding[0],) * 2, (padding[1],) * 2))
    full = scipy.signal.correlate2d(padded, kernel, mode="valid")
    return full[:: strides[0], :: strides[1]]


# Worked examples from the notes, exactly.


def test_notes_5x5_image_with_x_kernel():
    result = arithmetic.correlate2d(IMAGE, X_KERNEL)
    assert result.dtype.kind == "i"
    np.testing.assert_array_equal(result, [[4, 3, 4], [2, 4, 3], [2, 3, 4]])


def test_4x4_crops_give_the_matching_block_of_the_5x5_result():
    # The notes give [[4, 3], [3, 4]] for their 4x4 example: that is the lower-right 4x4 block.
    # The upper-left block gives the upper-left corner of the 5x5 result instead.
    np.testing.assert_array_equal(
        arithmetic.correlate2d(IMAGE[1:, 1:], X_KERNEL), [[4, 3], [3, 4]]
    )
    np.testing.assert_array_equal(
        arithmetic.correlate2d(IMAGE[:4, :4], X_KERNEL), [[4, 3], [2, 4]]
    )


def test_notes_3x3_image_with_2x2_kernel():
    result = arithmetic.correlate2d([[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[0, 1], [2, 3]])
    assert result[0, 0] == 19
    np.testing.assert_array_equal(result, [[19, 25], [37, 43]])


def test_kernel_is_not_flipped():
    # A one-hot kernel picks the pixel at its offset: cross-correlation, not convolution.
    kernel = np.zeros((3, 3), dtype=int)
    kernel[0, 2] = 1
    image = np.arange(25).reshape(5, 5)
    np.testing.assert_array_equal(arithmetic.correlate2d(image, kernel), image[:3, 2:])


@pytest.mark.parametrize(
    ("d", "kernel_size", "strides", "padding", "expected"),
    [
        (28, 5, 1, 0, 24),  # the notes: 5x5 on 28x28 gives 24x24
        (28, 5, 1, 2, 28),  # the notes: padding 2 keeps 28x28
        (28, 4, 2, 0, 13),  # the notes: 4x4 with stride 2 gives 13x13
        (28, 3, 1, "valid", 26),
        (28, 5, 1, "same", 28),
        (28, 4, 2, "same", 14),
        (7, 3, 3, "same", 3),
        (5, 5, 1, 0, 1),
    ],
)
def test_output_size(d, kernel_size, strides, padding, expected):
    result = arithmetic.output_size(d, kernel_size, strides, padding)
    assert result == expected
    assert type(result) is int


def test_at_most_13_unpadded_3x3_layers_on_28x28():
    sizes = [28]
    while sizes[-1] >= 3:
        sizes.append(arithmetic.output_size(sizes[-1], 3))
    assert len(sizes) - 1 == 13
    assert sizes[-1] == 2
    with pytest.raises(ValueError, match="larger than the padded input 2"):
        arithmetic.output_size(2, 3)


@pytest.mark.parametrize(
    ("d", "kernel_size", "strides", "expected"),
    [
        (28, 5, 1, (2, 2)),
        (28, 4, 2, (1, 1)),
        (5, 2, 1, (0, 1)),  # odd total: the extra zero goes after (bottom/right), as in Keras
        (6, 4, 1, (1, 2)),
        (10, 1, 3, (0, 0)),
        (3, 5, 2, (2, 2)),
    ],
)
def test_same_padding_amounts(d, kernel_size, strides, expected):
    assert arithmetic.padding_amounts(d, kernel_size, strides, "same") == expected


@settings(max_examples=50, deadline=None)
@given(d=st.integers(1, 40), kernel_size=st.integers(1, 7), strides=st.integers(1, 4))
def test_same_padding_gives_ceil_d_over_strides(d, kernel_size, strides):
    assert arithmetic.output_size(d, kernel_size, strides, "same") == -(-d // strides)
    before, after = arithmetic.padding_amounts(d, kernel_size, strides, "same")
    assert after - before in (0, 1)


@settings(max_examples=50, deadline=None)
@given(
    d=st.integers(1, 40),
    kernel_size=st.integers(1, 7),
    strides=st.integers(1, 4),
    padding=st.integers(0, 3),
)
def test_output_size_formula(d, kernel_size, strides, padding):
    if kernel_size > d + 2 * padding:
        with pytest.raises(ValueError, match="is larger than the padded input"):
            arithmetic.output_size(d, kernel_size, strides, padding)
    else:
        expected = math.floor((d + 2 * padding - kernel_size) / strides) + 1
        assert arithmetic.output_size(d, kernel_size, strides, padding) == expected
        if padding == 0:
            assert arithmetic.output_size(d, kernel_size, strides, "valid") == expected


@settings(max_examples=50, deadline=None)
@given(
    data=st.data(),
    kernel_hw=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    strides=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    seed=st.integers(0, 2**16),
)
def test_correlate2d_agrees_with_scipy(data, kernel_hw, strides, padding, seed):
    h = data.draw(st.integers(max(1, kernel_hw[0] - 2 * padding[0]), 20), label="H")
    w = data.draw(st.integers(max(1, kernel_hw[1] - 2 * padding[1]), 20), label="W")
    rng = np.random.default_rng(seed)
    image, kernel = rng.normal(size=(h, w)), rng.normal(size=kernel_hw)
    result = arithmetic.correlate2d(image, kernel, strides, padding)
    expected_shape = tuple(
        arithmetic.output_size(d, k, s, p)
        for d, k, s, p in zip((h, w), kernel_hw, strides, padding, strict=True)
    )
    assert result.shape == expected_shape
    np.testing.assert_allclose(
        result, scipy_reference(image, kernel, strides, padding), atol=1e-12
    )


@settings(max_examples=50, deadline=None)
@given(
    size=st.integers(3, 30),
    kernel_size=st.integers(1, 3),
    strides=st.integers(1, 3),
    padding=st.integers(0, 2),
)
def test_integer_input_gives_exact_integer_output(size, kernel_size, strides, padding):
    rng = np.random.default_rng(size)
    image = rng.integers(0, 256, size=(size, size), dtype=np.uint8)
    kernel = rng.integers(-2, 3, size=(kernel_size, kernel_size))
    result = arithmetic.correlate2d(image, kernel, strides, padding)
    assert result.dtype == np.int64  # no uint8 wrap-around
    expected = scipy_reference(image.astype(np.int64), kernel, (strides,) * 2, (padding,) * 2)
    np.testing.assert_array_equal(result, expected)


def test_conv2d_sums_channels_and_adds_bias():
    rng = np.random.default_rng(0)
    image, kernel, bias = (
        rng.normal(size=(9, 8, 3)),
        rng.normal(size=(3, 2, 3, 4)),
        rng.normal(size=4),
    )
    result = arithmetic.conv2d(image, kernel, bias, strides=(2, 1), padding=(1, 0))
    expected = np.stack(
        [
            sum(
                scipy_reference(image[:, :, c], kernel[:, :, c, f], (2, 1), (1, 0))
                for c in range(3)
            )
            + bias[f]
            for f in range(4)
        ],
        axis=-1,
    )
    assert result.shape == (5, 7, 4)
    np.testing.assert_allclose(result, expected, atol=1e-12)


def test_conv2d_on_a_batch_equals_conv2d_on_each_image():
    rng = np.random.default_rng(1)
    images, kernel = rng.normal(size=(3, 7, 7, 2)), rng.normal(size=(3, 3, 2, 5))
    batch = arithmetic.conv2d(images, kernel, strides=2, padding="same")
    assert batch.shape == (3, 4, 4, 5)
    for image, result in zip(images, batch, strict=True):
        np.testing.assert_allclose(
            result, arithmetic.conv2d(image, kernel, strides=2, padding="same")
        )


def keras_conv(images, kernel, bias, strides, padding):
    """Run keras.layers.Conv2D with the given weights on a float32 batch."""
    layer = keras.layers.Conv2D(
        filters=kernel.shape[-1],
        kernel_size=kernel.shape[:2],
        strides=strides,
        padding=padding,
        use_bias=bias is not None,
    )
    layer.build(images.shape)
    layer.set_weights([kernel] if bias is None else [kernel, bias])
    return keras.ops.convert_to_numpy(layer(images.astype("float32")))


@pytest.mark.parametrize(
    ("input_shape", "kernel_shape", "strides", "padding", "use_bias"),
    [
        ((1, 9, 9, 1), (3, 3, 1, 1), 1, "valid", False),
        ((2, 10, 7, 3), (3, 3, 3, 4), 2, "same", True),
        ((1, 11, 12, 2), (5, 4, 2, 3), 3, "same", True),
        ((2, 8, 9, 3), (2, 3, 3, 2), (2, 3), "valid", True),
        ((1, 7, 6, 2), (4, 4, 2, 2), 1, "same", False),  # even kernel: 1 zero before, 2 after
    ],
)
def test_conv2d_agrees_with_keras(input_shape, kernel_shape, strides, padding, use_bias):
    rng = np.random.default_rng(sum(input_shape) + sum(kernel_shape))
    images = rng.normal(size=input_shape).astype("float32")
    kernel = rng.normal(size=kernel_shape).astype("float32")
    bias = rng.normal(size=kernel_shape[-1]).astype("float32") if use_bias else None
    result = arithmetic.conv2d(images, kernel, bias, strides, padding)
    expected = keras_conv(images, kernel, bias, strides, padding)
    assert result.shape == expected.shape
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-5)


def test_explicit_padding_agrees_with_keras_zero_padding():
    rng = np.random.default_rng(2)
    images = rng.normal(size=(1, 7, 8, 2)).astype("float32")
    kernel = rng.normal(size=(3, 3, 2, 3)).astype("float32")
    padded = keras.ops.convert_to_numpy(keras.layers.ZeroPadding2D((2, 1))(images))
    expected = keras_conv(padded, kernel, None, 2, "valid")
    result = arithmetic.conv2d(images, kernel, strides=2, padding=(2, 1))
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-5)


def test_classic_filters():
    assert set(arithmetic.FILTERS) == {
        "identity",
        "edge_detection",
        "sharpen",
        "box_blur",
        "gaussian_blur",
    }
    image = np.random.default_rng(3).integers(0, 256, size=(12, 10))
    identity = arithmetic.correlate2d(image, arithmetic.FILTERS["identity"], padding="same")
    np.testing.assert_array_equal(identity, image)
    flat = np.full((5, 5), 7.0)
    for name, total in [("edge_detection", 0), ("sharpen", 7), ("box_blur", 7)]:
        response = arithmetic.correlate2d(flat, arithmetic.FILTERS[name])
        np.testing.assert_allclose(response, np.full((3, 3), total), err_msg=name)
    np.testing.assert_allclose(arithmetic.FILTERS["gaussian_blur"].sum(), 1)
    assert arithmetic.FILTERS["gaussian_blur"][1, 1] == 0.25
    with pytest.raises(ValueError, match="read-only"):
        arithmetic.FILTERS["identity"][1, 1] = 2


# Errors for people: the offending value and the fix.


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: arithmetic.correlate2d(np.ones((4, 4)), np.ones((5, 5))),
            r"kernel_size \(5, 5\) is larger than the padded input \(4, 4\); use padding='same'",
        ),
        (
            lambda: arithmetic.correlate2d(np.ones((4, 4)), np.ones((7, 3)), padding=1),
            r"kernel_size \(7, 3\) is larger than the padded input \(6, 6\)",
        ),
        (
            lambda: arithmetic.output_size(4, 5),
            r"kernel_size 5 is larger than the padded input 4; use padding='same'",
        ),
        (
            lambda: arithmetic.correlate2d(np.ones((4, 4)), np.ones((2, 2)), strides=0),
            r"strides must be at least 1, got 0; use e.g. strides=1",
        ),
        (
            lambda: arithmetic.correlate2d(np.ones((4, 4)), np.ones((2, 2)), strides=(1, -2)),
            r"strides must be at least 1, got -2",
        ),
        (
            lambda: arithmetic.output_size(28, 3, strides=-1),
            r"strides must be at least 1, got -1",
        ),
        (
            lambda: arithmetic.correlate2d(np.ones((4, 4)), np.ones((2, 2)), padding=-1),
            r"padding must be at least 0, got -1; use e.g. padding=1",
        ),
        (
            lambda: arithmetic.output_size(28, 3, padding=-2),
            r"padding must be at least 0, got -2",
        ),
        (
            lambda: arithmetic.correlate2d(np.ones((4, 4)), np.ones((2, 2)), padding="full"),
            r"padding must be 'valid', 'same', an int or a pair of ints, got 'full'",
        ),
        (
            lambda: arithmetic.output_size(28, 3, padding="SAME"),
            r"got 'SAME'; use padding='same'",
        ),
        (
            lambda: arithmetic.correlate2d(np.ones((4, 4)), np.ones((2, 2)), strides=1.5),
            r"strides must be a whole number, got 1.5; use an int",
        ),
        (
            lambda: arithmetic.correlate2d(np.ones((4, 4)), np.ones((2, 2)), padding=(0.5, 1)),
            r"padding must be a whole number, got 0.5",
        ),
        (
            lambda: arithmetic.correlate2d(np.ones((4, 4)), np.ones((2, 2)), strides=(1, 2, 3)),
            r"strides must be an int or a pair \(rows, columns\), got \(1, 2, 3\)",
        ),
        (lambda: arithmetic.output_size(28.0, 5), r"d must be a whole number, got 28.0"),
        (lambda: arithmetic.output_size(28, 2.5), r"kernel_size must be a whole number, got 2.5"),
        (
            lambda: arithmetic.output_size(28, True),
            r"kernel_size must be a whole number, got True",
        ),
        (lambda: arithmetic.output_size(0, 3), r"d must be at least 1, got 0"),
        (lambda: arithmetic.output_size(28, 0), r"kernel_size must be at least 1, got 0"),
        (
            lambda: arithmetic.correlate2d(np.ones((4, 4, 1)), np.ones((2, 2))),
            r"image must be 2-D \(H, W\), got shape \(4, 4, 1\); use conv2d",
        ),
        (
            lambda: arithmetic.correlate2d(np.ones((4, 4)), np.ones(3)),
            r"kernel must be 2-D \(kH, kW\), got shape \(3,\)",
        ),
        (
            lambda: arithmetic.conv2d(np.ones((4, 4)), np.ones((2, 2, 1, 1))),
            r"image must be \(H, W, C_in\) or \(N, H, W, C_in\), got shape \(4, 4\); add a",
        ),
        (
            lambda: arithmetic.conv2d(np.ones((4, 4, 1)), np.ones((2, 2))),
            r"kernel must be \(kH, kW, C_in, C_out\) .*got shape \(2, 2\); .*kernel\[:, :, None",
        ),
        (
            lambda: arithmetic.conv2d(np.ones((4, 4, 3)), np.ones((2, 2, 1, 5))),
            r"expects C_in=1 input channels but the image has 3 .*give the kernel shape "
            r"\(2, 2, 3, 5\)",
        ),
        (
            lambda: arithmetic.conv2d(np.ones((4, 4, 1)), np.ones((2, 2, 1, 5)), np.ones(4)),
            r"bias must have shape \(C_out,\) = \(5,\), got \(4,\)",
        ),
        (
            lambda: arithmetic.conv2d(np.ones((4, 4, 1)), np.ones((0, 2, 1, 5))),
            r"kernel_size must be at least 1, got 0",
        ),
    ],
)
def test_bad_arguments_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
