"""Data augmentation with Keras preprocessing layers: random changes to the training images
that leave what they show the same. Introduced in chapter 5 (shifted and rotated digits) and
extended in the chapter on images from folders (the notes' ``image_data_generator`` options).

The layers are active in training only; at inference they pass images through unchanged.
"""

import math

import keras

from cnnbook import validate

FILL_MODES = ("constant", "nearest", "reflect", "wrap")


def generator_layers(
    rotation_range=0,
    width_shift_range=0,
    height_shift_range=0,
    shear_range=0,
    zoom_range=0,
    horizontal_flip=False,
    fill_mode="nearest",
):
    """The preprocessing layers that augment images as Keras 2's ``ImageDataGenerator`` (R's
    ``image_data_generator``) does with the same arguments; an option left at 0 adds no layer.

    rotation_range and shear_range are angles in degrees, the shifts fractions of the width and
    height, zoom_range z scales each axis by a factor from [1 - z, 1 + z] (below 1 zooms in).
    """
    ranges = {  # each option: (its value, the largest value it takes)
        "rotation_range": (rotation_range, 360),
        "width_shift_range": (width_shift_range, 1),
        "height_shift_range": (height_shift_range, 1),
        "shear_range": (shear_range, 45),  # RandomShear moves a row by at most the image's size
        "zoom_range": (zoom_range, 1),
    }
    for name, (value, largest) in ranges.items():
        if not 0 <= value <= largest:
            raise ValueError(
                f"{name}={value!r} should be from 0 to {largest}: rotation_range and "
                "shear_range are angles in degrees, the shifts and zoom_range fractions, "
                "e.g. 0.2"
            )
    if fill_mode not in FILL_MODES:
        raise ValueError(f"fill_mode={fill_mode!r} is not one of {', '.join(FILL_MODES)}")
    layers = []
    if width_shift_range or height_shift_range:
        layers.append(
            keras.layers.RandomTranslation(
                height_shift_range, width_shift_range, fill_mode=fill_mode
            )
        )
    if rotation_range:
        layers.append(keras.layers.RandomRotation(rotation_range / 360, fill_mode=fill_mode))
    if shear_range:  # Keras 2 gives an angle, RandomShear a shift per row: tan(angle)
        shear = math.tan(math.radians(shear_range))
        layers.append(keras.layers.RandomShear(x_factor=shear, fill_mode=fill_mode))
    if zoom_range:  # each axis its own factor, as ImageDataGenerator draws them
        layers.append(keras.layers.RandomZoom(zoom_range, zoom_range, fill_mode=fill_mode))
    if horizontal_flip:
        layers.append(keras.layers.RandomFlip("horizontal"))
    return layers


def shifts_and_rotations(input_shape, shift, degrees, fill_mode="constant"):
    """Layers that shift images by up to shift pixels and rotate them by up to degrees."""
    height, width, _ = validate.input_shape(input_shape)
    if shift < 0 or degrees < 0:
        raise ValueError(
            f"shift {shift!r} and degrees {degrees!r} should be at least 0, e.g. shift=2, "
            "degrees=10"
        )
    return generator_layers(
        rotation_range=degrees,
        width_shift_range=shift / width,
        height_shift_range=shift / height,
        fill_mode=fill_mode,
    )
