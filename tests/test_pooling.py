"""Pooling against hand examples, direct NumPy, scikit-image and Keras' pooling layers."""

import keras
import numpy as np
import pytest
import skimage.measure
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnbook import arithmetic, pooling

# A 4x4 example whose 2x2 windows have whole-number L2 norms (1+4+4+16 = 25, ...).
HAND = np.array(
    [
        [1, 2, 0, 3],
        [2, 4, 4, 0],
        [1, 1, 2, 2],
        [3, 5, 4, 5],
    ]
)


def test_hand_example_max():
    result = pooling.pool2d(HAND, 2, mode="max")
    assert result.dtype == HAND.dtype
    np.testing.assert_array_equal(result, [[4, 4], [5, 5]])


def test_hand_example_average():
    np.testing.assert_array_equal(
        pooling.pool2d(HAND, 2, mode="average"), [[2.25, 1.75], [2.5, 3.25]]
    )


def test_hand_example_l2_is_root_of_sum_of_squares():
    result = pooling.pool2d(HAND, 2, mode="l2")
    np.testing.assert_array_equal(result, [[5, 5], [6, 7]])
    windows = HAND.reshape(2, 2, 2, 2).swapaxes(1, 2)  # (row block, column block, 2, 2)
    direct = np.sqrt((windows.astype(float) ** 2).sum(axis=(2, 3)))
    np.testing.assert_array_equal(result, direct)
    root_mean_square = np.sqrt((windows.astype(float) ** 2).mean(axis=(2, 3)))
    assert not np.allclose(result, root_mean_square)  # twice as large for 2x2 windows


def test_24x24_to_12x12_with_2x2_max_pooling():
    x = np.random.default_rng(0).normal(size=(24, 24))
    assert pooling.pool2d(x, 2).shape == (12, 12)
    assert pooling.pool2d(x[:, :, None], (2, 2)).shape == (12, 12, 1)


def test_overlapping_pooling():
    x = np.arange(25).reshape(5, 5)
    result = pooling.pool2d(x, 3, strides=2)
    assert result.shape == (arithmetic.output_size(5, 3, 2),) * 2 == (2, 2)
    np.testing.assert_array_equal(result, [[12, 14], [22, 24]])  # windows share row/column 2
    assert pooling.pool2d(np.zeros((55, 55)), 3, strides=2).shape == (27, 27)


def test_strides_default_to_pool_size():
    x = np.random.default_rng(1).normal(size=(9, 12, 2))
    for mode in pooling.MODES:
        np.testing.assert_array_equal(
            pooling.pool2d(x, (3, 2), mode=mode), pooling.pool2d(x, (3, 2), (3, 2), mode=mode)
        )


def test_each_channel_and_image_is_pooled_on_its_own():
    x = np.random.default_rng(2).normal(size=(2, 7, 6, 3))
    for mode in pooling.MODES:
        batch = pooling.pool2d(x, 2, strides=1, padding="same", mode=mode)
        assert batch.shape == (2, 7, 6, 3)
        for n in range(2):
            np.testing.assert_array_equal(pooling.pool2d(x[n], 2, 1, "same", mode), batch[n])
            for c in range(3):
                single = pooling.pool2d(x[n, :, :, c], 2, 1, "same", mode)
                np.testing.assert_allclose(single, batch[n, :, :, c])


def test_same_padding_counts_only_real_inputs():
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    # 3x3 with 2x2 windows, stride 2, "same": one zero row and column after the input.
    np.testing.assert_array_equal(pooling.pool2d(-x, 2, padding="same"), [[-1, -3], [-7, -9]])
    np.testing.assert_array_equal(
        pooling.pool2d(x, 2, padding="same", mode="average"), [[3, 4.5], [7.5, 9]]
    )
    np.testing.assert_allclose(
        pooling.pool2d(x, 2, padding="same", mode="l2"),
        pooling.pool2d(np.pad(x, ((0, 1), (0, 1))), 2, mode="l2"),
    )


def block_l2(block, axis):
    """Root of the sum of squares over the given axes (a block_reduce function)."""
    return np.sqrt(np.sum(np.square(block), axis=axis))


@settings(max_examples=50, deadline=None)
@given(
    h=st.integers(1, 20),
    w=st.integers(1, 20),
    pool_h=st.integers(1, 4),
    pool_w=st.integers(1, 4),
    mode=st.sampled_from(pooling.MODES),
    seed=st.integers(0, 2**16),
)
def test_non_overlapping_pooling_agrees_with_block_reduce(h, w, pool_h, pool_w, mode, seed):
    x = np.random.default_rng(seed).normal(size=(h, w))
    if pool_h > h or pool_w > w:
        with pytest.raises(ValueError, match="is larger than the padded input"):
            pooling.pool2d(x, (pool_h, pool_w), mode=mode)
        return
    result = pooling.pool2d(x, (pool_h, pool_w), mode=mode)
    assert result.shape == (h // pool_h, w // pool_w)
    func = {"max": np.max, "average": np.mean, "l2": block_l2}[mode]
    # block_reduce pads ragged edges; "valid" pooling drops them, so crop to whole blocks.
    cropped = x[: result.shape[0] * pool_h, : result.shape[1] * pool_w]
    np.testing.assert_allclose(
        result, skimage.measure.block_reduce(cropped, (pool_h, pool_w), func)
    )


@settings(max_examples=50, deadline=None)
@given(
    d=st.integers(1, 30),
    pool_size=st.integers(1, 5),
    strides=st.integers(1, 4),
    padding=st.sampled_from(["valid", "same"]),
)
def test_output_shape_follows_output_size(d, pool_size, strides, padding):
    if padding == "valid" and pool_size > d:
        return
    expected = arithmetic.output_size(d, pool_size, strides, padding)
    assert pooling.pool2d(np.zeros((d, d + 1)), pool_size, strides, padding).shape[0] == expected


@pytest.mark.parametrize(
    ("input_shape", "pool_size", "strides", "padding"),
    [
        ((2, 24, 24, 1), 2, None, "valid"),
        ((1, 9, 11, 3), 3, 2, "valid"),  # overlapping
        ((2, 9, 11, 2), (2, 3), (1, 2), "same"),
        ((1, 7, 7, 4), 3, 2, "same"),
    ],
)
def test_agrees_with_keras(input_shape, pool_size, strides, padding):
    x = np.random.default_rng(sum(input_shape)).normal(size=input_shape).astype("float32")
    for mode, layer_class in [
        ("max", keras.layers.MaxPooling2D),
        ("average", keras.layers.AveragePooling2D),
    ]:
        layer = layer_class(pool_size=pool_size, strides=strides, padding=padding)
        expected = keras.ops.convert_to_numpy(layer(x))
        result = pooling.pool2d(x, pool_size, strides, padding, mode)
        assert result.shape == expected.shape
        np.testing.assert_allclose(result, expected, rtol=1e-6, atol=1e-6, err_msg=mode)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: pooling.pool2d(HAND, 2, mode="mean"),
            r"mode must be one of 'max', 'average', 'l2', got 'mean'; use mode='max'",
        ),
        (lambda: pooling.pool2d(HAND, 0), r"pool_size must be at least 1, got 0"),
        (lambda: pooling.pool2d(HAND, 2.0), r"pool_size must be a whole number, got 2.0"),
        (
            lambda: pooling.pool2d(HAND, (2, 2, 2)),
            r"pool_size must be an int or a pair \(rows, columns\), got \(2, 2, 2\)",
        ),
        (lambda: pooling.pool2d(HAND, 2, strides=0), r"strides must be at least 1, got 0"),
        (lambda: pooling.pool2d(HAND, 2, strides=-1), r"strides must be at least 1, got -1"),
        (
            lambda: pooling.pool2d(HAND, 5),
            r"pool_size \(5, 5\) is larger than the padded input \(4, 4\); use padding='same' or "
            r"a smaller pool_size",
        ),
        (
            lambda: pooling.pool2d(HAND, 2, padding=1),
            r"padding must be 'valid', 'same', got 1; use padding='same'",
        ),
        (
            lambda: pooling.pool2d(HAND, 2, padding="full"),
            r"padding must be 'valid', 'same', got 'full'",
        ),
        (
            lambda: pooling.pool2d(np.ones(4), 2),
            r"x must be \(H, W\), \(H, W, C\) or \(N, H, W, C\), got shape \(4,\)",
        ),
        (
            lambda: pooling.pool2d(np.ones((1, 1, 4, 4, 1)), 2),
            r"got shape \(1, 1, 4, 4, 1\)",
        ),
    ],
)
def test_bad_arguments_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
