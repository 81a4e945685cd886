"""Pooling: max, average and L2 pooling of each channel over sliding windows. Introduced in
chapter 2.

Arguments follow ``keras.layers.MaxPooling2D``: ``strides=None`` means strides = pool_size, and
padding is "valid" (no padding) or "same" (output ceil(d / s), odd padding after the input).
Padded positions never count: max ignores them, average divides by the number of real inputs
in the window (as Keras does), and they add nothing to L2's sum of squares.
"""

import numpy as np

from cnnbook import arithmetic, validate

MODES = ("max", "average", "l2")


def pool2d(x, pool_size, strides=None, padding="valid", mode="max"):
    """Pool each channel of a (H, W), (H, W, C) or (N, H, W, C) array; returns (H', W'[, C]).

    mode "max" takes the largest value in each window, "average" the mean, and "l2" the square
    root of the sum of squares (not the root-mean-square).
    """
    x = np.asarray(x)
    if mode not in MODES:
        raise ValueError(
            f"mode must be one of {', '.join(repr(m) for m in MODES)}, got {mode!r}; use "
            f"mode='max' for max pooling"
        )
    if x.ndim not in (2, 3, 4):
        raise ValueError(
            f"x must be (H, W), (H, W, C) or (N, H, W, C), got shape {x.shape}; pool a stack of "
            f"images as one (N, H, W, C) array"
        )
    padding = validate.padding(padding, numbers=False)
    # Work on one (N, H, W, C) batch whatever the input, and give the result the input's layout.
    batch = {2: x[None, :, :, None], 3: x[None], 4: x}[x.ndim]
    if not np.issubdtype(batch.dtype, np.number):
        batch = batch.astype(np.float64)
    pool_size = validate.pair(pool_size, "pool_size", 1)
    (stride_h, stride_w), pads, _ = arithmetic.window_plan(
        batch.shape[1:3],
        pool_size,
        pool_size if strides is None else strides,
        padding,
        "pool_size",
    )
    pad_width = ((0, 0),) + pads + ((0, 0),)

    def windows(values, fill=0):
        """(N, H', W', C, kH, kW) view of the windows of the padded values."""
        padded = np.pad(values, pad_width, constant_values=fill)
        view = np.lib.stride_tricks.sliding_window_view(padded, pool_size, axis=(1, 2))
        return view[:, ::stride_h, ::stride_w]

    if mode == "max":
        floating = np.issubdtype(batch.dtype, np.floating)
        lowest = -np.inf if floating else np.iinfo(batch.dtype).min
        pooled = windows(batch, lowest).max(axis=(-2, -1))
    elif mode == "average":
        sums = windows(batch.astype(np.float64)).sum(axis=(-2, -1))
        counts = windows(np.ones(batch.shape[1:3] + (1,))[None]).sum(axis=(-2, -1))
        pooled = sums / counts
    else:
        pooled = np.sqrt(windows(batch.astype(np.float64) ** 2).sum(axis=(-2, -1)))
    return {2: pooled[0, :, :, 0], 3: pooled[0], 4: pooled}[x.ndim]
