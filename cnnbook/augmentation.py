"""Data augmentation with Keras preprocessing layers: random changes to the training images
that leave what they show the same. Introduced in chapter 5 (shifted and rotated digits).

The layers are active in training only; at inference they pass images through unchanged.
"""

import keras

from cnnbook import validate


def shifts_and_rotations(input_shape, shift, degrees, fill_mode="constant"):
    """Layers that shift images by up to shift pixels and rotate them by up to degrees."""
    height, width, _ = validate.input_shape(input_shape)
    if shift < 0 or degrees < 0:
        raise ValueError(
            f"shift {shift!r} and degrees {degrees!r} should be at least 0, e.g. shift=2, "
            "degrees=10"
        )
    return [
        keras.layers.RandomTranslation(shift / height, shift / width, fill_mode=fill_mode),
        keras.layers.RandomRotation(degrees / 360, fill_mode=fill_mode),
    ]
