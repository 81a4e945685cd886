"""Convolution arithmetic: output sizes, padding, cross-correlation and the classic filters.
Introduced in chapter 1.

Shapes follow Keras (channels last): an image is (H, W, C_in), a batch (N, H, W, C_in), and a
kernel (kH, kW, C_in, C_out), the layout of ``keras.layers.Conv2D(...).kernel``. Like Keras, the
"convolution" here is a cross-correlation: the kernel is not flipped.

Padding is an integer p (p zeros on every side), a pair (p_rows, p_columns), ``"valid"`` (no
padding) or ``"same"`` (enough zeros that the output has ceil(d / s) positions along an axis of
length d). When "same" needs an odd number of zeros, the extra one goes after the input (bottom
or right), exactly as Keras and TensorFlow do.
"""

import numpy as np

from cnnbook import validate

# The usual textbook 3x3 kernels, as float64 arrays that cannot be changed by accident.
FILTERS = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=float),
    "edge_detection": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=float),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=float),
    "box_blur": np.ones((3, 3)) / 9,
    "gaussian_blur": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=float) / 16,
}
for _kernel in FILTERS.values():
    _kernel.setflags(write=False)


def _pads(d, kernel_size, strides, padding):
    """Zeros (before, after) along one axis, for validated arguments (padding: str or int)."""
    if padding == "valid":
        return 0, 0
    if padding == "same":
        total = max((-(-d // strides) - 1) * strides + kernel_size - d, 0)
        return total // 2, total - total // 2
    return padding, padding


def window_plan(input_hw, window_hw, strides, padding, window_name="kernel_size"):
    """Validate strides and padding for a window sliding over input_hw.

    Returns strides (sh, sw), pads ((top, bottom), (left, right)) and the output size (H', W').
    Shared by conv2d and pooling.pool2d.
    """
    window_hw = tuple(validate.whole_number(k, window_name, 1) for k in window_hw)
    strides = validate.pair(strides, "strides", 1)
    padding = validate.padding(padding)
    per_axis = (padding, padding) if isinstance(padding, str) else padding
    axes = list(zip(input_hw, window_hw, strides, per_axis, strict=True))
    pads = tuple(_pads(int(d), k, s, p) for d, k, s, p in axes)
    padded = tuple(
        int(d) + before + after for d, (before, after) in zip(input_hw, pads, strict=True)
    )
    if window_hw[0] > padded[0] or window_hw[1] > padded[1]:
        raise ValueError(
            f"{window_name} {window_hw} is larger than the padded input {padded}; use "
            f"padding='same' or a smaller {window_name}"
        )
    output = tuple((d - k) // s + 1 for d, k, s in zip(padded, window_hw, strides, strict=True))
    return strides, pads, output


def padding_amounts(d, kernel_size, strides=1, padding=0):
    """Zeros added (before, after) along an axis of length d; 'same' puts an odd one after."""
    d = validate.whole_number(d, "d", 1)
    kernel_size = validate.whole_number(kernel_size, "kernel_size", 1)
    strides = validate.whole_number(strides, "strides", 1)
    if isinstance(padding, str):
        padding = validate.padding(padding)
    else:
        padding = validate.whole_number(padding, "padding", 0)
    return _pads(d, kernel_size, strides, padding)


def output_size(d, kernel_size, strides=1, padding=0):
    """Output length along an axis of length d: floor((d + 2p - k) / s) + 1."""
    before, after = padding_amounts(d, kernel_size, strides, padding)
    if kernel_size > d + before + after:
        raise ValueError(
            f"kernel_size {kernel_size} is larger than the padded input {d + before + after}; "
            f"use padding='same' or a smaller kernel"
        )
    return (d + before + after - kernel_size) // strides + 1


def conv2d(image, kernel, bias=None, strides=1, padding=0):
    """Apply a Keras-layout (kH, kW, C_in, C_out) kernel to a (H, W, C_in) image; (H', W', C_out).

    A batch (N, H, W, C_in) gives (N, H', W', C_out). bias, if given, has shape (C_out,).
    Integer inputs give exact int64 results; anything else is computed in float64.
    """
    image, kernel = np.asarray(image), np.asarray(kernel)
    if image.ndim not in (3, 4):
        raise ValueError(
            f"image must be (H, W, C_in) or (N, H, W, C_in), got shape {image.shape}; add a "
            f"channel axis with image[..., None] or use correlate2d for a 2-D image"
        )
    if kernel.ndim != 4:
        raise ValueError(
            f"kernel must be (kH, kW, C_in, C_out) as in keras.layers.Conv2D, got shape "
            f"{kernel.shape}; turn a 2-D kernel into one with kernel[:, :, None, None]"
        )
    kernel_h, kernel_w, channels_in, channels_out = kernel.shape
    if image.shape[-1] != channels_in:
        raise ValueError(
            f"the kernel expects C_in={channels_in} input channels but the image has "
            f"{image.shape[-1]} (shape {image.shape}); give the kernel shape "
            f"({kernel_h}, {kernel_w}, {image.shape[-1]}, {channels_out})"
        )
    if bias is not None:
        bias = np.asarray(bias)
        if bias.shape != (channels_out,):
            raise ValueError(
                f"bias must have shape (C_out,) = ({channels_out},), got {bias.shape}; give one "
                f"bias per filter"
            )
    (stride_h, stride_w), pads, (out_h, out_w) = window_plan(
        image.shape[-3:-1], (kernel_h, kernel_w), strides, padding
    )
    exact = all(np.issubdtype(a.dtype, np.integer) or a.dtype == bool for a in (image, kernel))
    dtype = np.int64 if exact else np.float64
    batch = image.ndim == 4
    x = np.pad(image.astype(dtype), ((0, 0),) * batch + pads + ((0, 0),))
    weights = kernel.astype(dtype)
    # Sum over the kH * kW kernel positions: each one multiplies a strided, shifted view of the
    # input by that position's (C_in, C_out) weights. Every output pixel is computed at once.
    output = np.zeros(image.shape[:-3] + (out_h, out_w, channels_out), dtype=dtype)
    for m in range(kernel_h):
        for n in range(kernel_w):
            rows = slice(m, m + (out_h - 1) * stride_h + 1, stride_h)
            columns = slice(n, n + (out_w - 1) * stride_w + 1, stride_w)
            output += x[..., rows, columns, :] @ weights[m, n]
    if bias is not None:
        output = output + bias
    return output


def correlate2d(image, kernel, strides=1, padding=0):
    """Cross-correlate a (H, W) image with a (kH, kW) kernel (no flip); returns (H', W')."""
    image, kernel = np.asarray(image), np.asarray(kernel)
    if image.ndim != 2:
        raise ValueError(
            f"image must be 2-D (H, W), got shape {image.shape}; use conv2d for images with "
            f"channels"
        )
    if kernel.ndim != 2:
        raise ValueError(
            f"kernel must be 2-D (kH, kW), got shape {kernel.shape}; use conv2d for "
            f"multi-channel kernels"
        )
    output = conv2d(image[:, :, None], kernel[:, :, None, None], strides=strides, padding=padding)
    return output[:, :, 0]
