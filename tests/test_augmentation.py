"""The notes' ImageDataGenerator options as Keras layers, measured on a bright spot: how far
each moves it, against the geometry of each option; changed in training, unchanged at
inference."""

import math

import keras
import numpy as np
import pytest

from cnnbook import augmentation

SIZE = 64
SPOT = (20.0, 44.0)  # row, column of the spot: off the centre in both directions
SAMPLES = 200


def spot_image():
    """A batch of SAMPLES copies of a Gaussian spot on black, (SAMPLES, SIZE, SIZE, 1)."""
    rows, columns = np.mgrid[0:SIZE, 0:SIZE]
    spot = np.exp(-((rows - SPOT[0]) ** 2 + (columns - SPOT[1]) ** 2) / (2 * 1.5**2))
    return np.repeat(spot[np.newaxis, :, :, np.newaxis], SAMPLES, axis=0).astype("float32")


def centroids(images):
    """The (row, column) of each image's centre of brightness, (n, 2)."""
    rows, columns = np.mgrid[0:SIZE, 0:SIZE]
    weights = images[..., 0]
    total = weights.sum(axis=(1, 2))
    return np.stack(
        [(weights * rows).sum(axis=(1, 2)) / total, (weights * columns).sum(axis=(1, 2)) / total],
        axis=1,
    )


def augment(seed=0, **options):
    """The spot batch through generator_layers(**options) in training mode, and its centroids."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(augmentation.generator_layers(**options, fill_mode="constant"))
    return np.asarray(model(spot_image(), training=True))


def test_rotation_turns_the_spot_by_up_to_the_range_in_degrees():
    centre = (SIZE - 1) / 2
    before = math.atan2(SPOT[0] - centre, SPOT[1] - centre)
    after = centroids(augment(rotation_range=30))
    angles = np.degrees(np.arctan2(after[:, 0] - centre, after[:, 1] - centre) - before)
    assert 27 < np.abs(angles).max() <= 30.5
    assert (angles > 10).any() and (angles < -10).any()


@pytest.mark.parametrize("option, axis", [("width_shift_range", 1), ("height_shift_range", 0)])
def test_shifts_move_the_spot_by_up_to_the_fraction_of_the_size(option, axis):
    moved = centroids(augment(**{option: 0.2})) - SPOT
    assert np.abs(moved[:, 1 - axis]).max() < 0.05  # the other axis stays
    assert 0.9 * 0.2 * SIZE < np.abs(moved[:, axis]).max() <= 0.2 * SIZE + 0.5


def test_shear_moves_each_row_sideways_by_tan_of_the_angle_times_its_row():
    moved = centroids(augment(shear_range=20)) - SPOT
    assert np.abs(moved[:, 0]).max() < 0.05  # rows stay; RandomShear shears about row 0
    per_row = np.abs(moved[:, 1]) / SPOT[0]
    assert 0.9 * math.tan(math.radians(20)) < per_row.max() <= math.tan(math.radians(20)) + 0.02


def test_zoom_scales_each_axis_by_its_own_factor_from_the_range():
    centre = (SIZE - 1) / 2
    scale = (centroids(augment(zoom_range=0.2)) - centre) / (np.array(SPOT) - centre)
    # a zoom factor z in [0.8, 1.2] maps a distance d from the centre to d / z
    assert (scale >= 1 / 1.2 - 0.02).all() and (scale <= 1 / 0.8 + 0.02).all()
    assert np.abs(scale[:, 0] - scale[:, 1]).max() > 0.1  # the axes are drawn independently


def test_horizontal_flip_mirrors_the_columns_or_leaves_the_image():
    flipped = augment(horizontal_flip=True)
    image = spot_image()[0]
    mirrored = [np.array_equal(out, image[:, ::-1]) for out in flipped]
    unchanged = [np.array_equal(out, image) for out in flipped]
    assert all(m or u for m, u in zip(mirrored, unchanged, strict=True))
    assert 0.3 < np.mean(mirrored) < 0.7


OPTIONS = {
    "rotation_range": 40,
    "width_shift_range": 0.2,
    "height_shift_range": 0.2,
    "shear_range": 11.5,
    "zoom_range": 0.2,
    "horizontal_flip": True,
}


@pytest.mark.parametrize("option", OPTIONS)
def test_each_option_changes_images_in_training_only(option):
    images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    model = keras.Sequential(augmentation.generator_layers(**{option: OPTIONS[option]}))
    keras.utils.set_random_seed(0)
    assert not np.allclose(np.asarray(model(images, training=True)), images)
    assert np.array_equal(np.asarray(model(images, training=False)), images)


def test_fill_mode_reaches_every_geometric_layer_and_no_option_adds_no_layer():
    layers = augmentation.generator_layers(**OPTIONS, fill_mode="reflect")
    assert [type(layer).__name__ for layer in layers] == [
        "RandomTranslation",
        "RandomRotation",
        "RandomShear",
        "RandomZoom",
        "RandomFlip",
    ]
    assert {layer.fill_mode for layer in layers[:-1]} == {"reflect"}
    assert augmentation.generator_layers() == []


def test_shifts_and_rotations_builds_the_layers_chapter_5_always_built():
    """Chapter 5's trained models are cached under their layers' configuration."""
    built = augmentation.shifts_and_rotations((28, 28, 1), 2, 10)
    expected = [
        keras.layers.RandomTranslation(2 / 28, 2 / 28, fill_mode="constant"),
        keras.layers.RandomRotation(10 / 360, fill_mode="constant"),
    ]
    for ours, theirs in zip(built, expected, strict=True):
        mine, want = ours.get_config(), theirs.get_config()
        mine.pop("name"), want.pop("name")
        assert mine == want


@pytest.mark.parametrize(
    "options, message",
    [
        ({"rotation_range": -5}, "rotation_range=-5 should be from 0 to 360"),
        ({"shear_range": 60}, "shear_range=60 should be from 0 to 45"),
        ({"zoom_range": 1.5}, "zoom_range=1.5 should be from 0 to 1"),
        ({"fill_mode": "mirror"}, "fill_mode='mirror' is not one of"),
    ],
)
def test_out_of_range_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        augmentation.generator_layers(**options)
