"""The shared figures: curves show every reference line they are given."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from cnnbook import figures  # noqa: E402

# Chapter 4's quick-mode curves, whose axis Matplotlib alone ended 0.003 above the notes' 0.992
SERIES = {"CNNmodel1": [0.907, 0.94, 0.95], "CNNmodel2": [0.92, 0.945, 0.9525]}
SERIES["CNNmodel2, sigmoid"] = [0.106, 0.75, 0.85]


@pytest.mark.parametrize("reference", [0.992, 0.9893, 0.05, 0.5])
def test_curves_show_every_reference_line(reference):
    fig = figures.curves(SERIES, "Test accuracy", references={"the notes": reference})
    low, high = fig.axes[0].get_ylim()
    assert low < 0.106 and high > 0.9525  # the curves' own points stay inside
    assert low < reference < high
    # not on the frame itself, where the line would be hidden by the axes' border
    assert min(reference - low, high - reference) > 0.01 * (high - low)


def test_curves_with_one_constant_series_has_room_around_it():
    fig = figures.curves({"flat": [0.5, 0.5]}, "Flat")
    low, high = fig.axes[0].get_ylim()
    assert low < 0.5 < high
