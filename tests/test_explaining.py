"""The book's LIME against the lime package and scikit-learn, on classifiers whose answer is
known; and the prediction wrapper the chapter hands to LIME."""

import keras
import numpy as np
import pytest
from lime import lime_image
from sklearn.linear_model import Ridge
from sklearn.metrics import pairwise_distances

from cnnbook import explaining
from cnnbook.datasets import imagenet

SIZE, CELL = 60, 10  # a 60×60 image cut into a grid of 6×6 square superpixels


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(0).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def grid():
    rows, columns = np.indices((SIZE, SIZE)) // CELL
    return rows * (SIZE // CELL) + columns


def region_classifier(original):
    """Class 1's probability: the share of the top-left 20×20 pixels left as in original."""

    def predict(images):
        kept = (images[:, :20, :20] == original[:20, :20]).all(axis=-1).mean(axis=(1, 2))
        return np.stack([1 - kept, kept], axis=1)

    return predict


def package_lime(
    image, classifier_fn, segments, num_samples, seed, labels=(0, 1), hide_color=None
):
    """The lime package's weights (label -> (superpixels,)), seeded as the chapter seeds it."""
    explainer = lime_image.LimeImageExplainer(random_state=seed)
    explanation = explainer.explain_instance(
        image,
        classifier_fn,
        labels=labels,
        top_labels=None,
        num_samples=num_samples,
        batch_size=50,
        segmentation_fn=lambda _: segments,
        random_seed=seed,
        hide_color=hide_color,
    )
    weights = {}
    for label in labels:
        weights[label] = np.zeros(segments.max() + 1)
        for superpixel, weight in explanation.local_exp[label]:
            weights[label][superpixel] = weight
    return weights


def test_both_limes_find_the_region_a_classifier_looks_at(image, grid):
    classifier = region_classifier(image)
    region = {0, 1, 6, 7}  # the grid cells of the top-left 20×20 pixels
    ours = explaining.explain(image, classifier, grid, num_samples=200, seed=1)
    assert set(ours.top(1, count=4)) == region
    theirs = package_lime(image, classifier, grid, num_samples=200, seed=1)
    assert set(np.argsort(-theirs[1])[:4]) == region
    outside = np.delete(ours.weights(1), sorted(region))
    assert np.abs(outside).max() < 0.2 * ours.weights(1)[sorted(region)].min()


@pytest.mark.parametrize("hide_color", [None, 0])
def test_the_two_limes_agree_on_a_fixed_sample(image, grid, hide_color):
    mixing = np.random.default_rng(2).normal(size=(12, 4))

    def classifier(images):  # a softmax over 4 classes of the mean colours of the quarters
        quarters = images.reshape(len(images), 2, 30, 2, 30, 3).mean(axis=(2, 4)) / 255
        scores = 3 * quarters.reshape(len(images), 12) @ mixing
        return np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)

    ours = explaining.explain(image, classifier, grid, 80, seed=7, hide_color=hide_color)
    theirs = package_lime(
        image, classifier, grid, 80, seed=7, labels=(0, 3), hide_color=hide_color
    )
    for label in (0, 3):
        np.testing.assert_allclose(ours.weights(label), theirs[label], atol=1e-10)
        positive = [int(j) for j in np.argsort(-theirs[label]) if theirs[label][j] > 0]
        assert ours.top(label) == positive[:5]


def test_weighted_ridge_is_scikit_learns_ridge():
    rng = np.random.default_rng(3)
    x, y, weights = rng.integers(0, 2, (40, 6)).astype(float), rng.random(40), rng.random(40)
    intercept, coefficients = explaining.weighted_ridge(x, y, weights, alpha=0.7)
    reference = Ridge(alpha=0.7).fit(x, y, sample_weight=weights)
    assert intercept == pytest.approx(reference.intercept_)
    np.testing.assert_allclose(coefficients, reference.coef_, atol=1e-12)


def test_kernel_weights_are_limes_kernel_of_the_cosine_distance():
    masks = explaining.random_masks(30, 9, seed=4)
    masks[5] = 0  # a copy with every superpixel off
    distances = pairwise_distances(masks, np.ones((1, 9)), metric="cosine").ravel()
    expected = np.sqrt(np.exp(-(distances**2) / 0.25**2))
    np.testing.assert_allclose(explaining.kernel_weights(masks), expected, atol=1e-12)


def test_random_masks_start_with_the_original():
    masks = explaining.random_masks(50, 12, seed=0)
    assert masks.shape == (50, 12) and set(np.unique(masks)) == {0, 1}
    assert (masks[0] == 1).all() and not (masks[1:] == 1).all()
    np.testing.assert_array_equal(masks[:20], explaining.random_masks(20, 12, seed=0))


def test_perturb_takes_switched_off_superpixels_from_the_hidden_image(image, grid):
    hidden = explaining.mean_colours(image, grid)
    mean = image[:CELL, :CELL].mean(axis=(0, 1)).astype(np.uint8)  # truncated, as lime does
    np.testing.assert_array_equal(hidden[:CELL, :CELL], np.broadcast_to(mean, (CELL, CELL, 3)))
    masks = np.ones((2, 36), dtype=int)
    masks[1, [0, 35]] = 0
    copies = explaining.perturb(image, grid, masks, hidden)
    assert copies.shape == (2, SIZE, SIZE, 3) and copies.dtype == np.uint8
    np.testing.assert_array_equal(copies[0], image)
    off = np.isin(grid, [0, 35])
    np.testing.assert_array_equal(copies[1][off], hidden[off])
    np.testing.assert_array_equal(copies[1][~off], image[~off])


def test_superpixels_are_numbered_from_zero_without_gaps(image):
    segments = explaining.superpixels(image, n_segments=20)
    assert segments.shape == (SIZE, SIZE)
    np.testing.assert_array_equal(np.unique(segments), np.arange(segments.max() + 1))
    grey = explaining.superpixels(image[..., 0], n_segments=20)
    assert grey.shape == (SIZE, SIZE)
    with pytest.raises(ValueError, match=r"should be \(H, W\) or \(H, W, 3\)"):
        explaining.superpixels(image[None])


def test_explain_refuses_gaps_in_the_superpixel_numbers(image, grid):
    with pytest.raises(ValueError, match="labels 0, 1, ..., k-1 with none missing"):
        explaining.explain(image, region_classifier(image), grid * 2, num_samples=10)


def test_overlap_counts_shared_superpixels():
    assert explaining.overlap([1, 2, 3, 4], [4, 3, 9, 8]) == 0.5
    assert explaining.overlap([1, 2], [1, 2, 3, 4]) == 0.5
    assert explaining.overlap([], []) == 1.0


def test_the_prediction_wrapper_feeds_the_network_what_preprocess_input_gives():
    class Recorder:
        def predict(self, batch, batch_size, verbose):
            self.batch, self.verbose = batch, verbose
            return np.zeros((len(batch), 1000))

    recorder = Recorder()
    preprocess = keras.applications.mobilenet_v2.preprocess_input  # divides in place
    network = imagenet.Pretrained("mobilenet_v2", recorder, preprocess, "Conv_1")
    images = np.random.default_rng(5).uniform(0, 255, (4, 224, 224, 3))
    before = images.copy()
    network.predict(images)
    np.testing.assert_array_equal(recorder.batch, preprocess(before.astype("float32")))
    np.testing.assert_array_equal(images, before)  # LIME's copies are left as they were
    assert recorder.verbose == 0


def test_shown_greys_out_the_superpixels_not_chosen(image, grid):
    shown = explaining.shown(image, grid, [14])  # superpixel 14: rows and columns 20-29
    inner, outer = np.zeros((SIZE, SIZE), bool), np.ones((SIZE, SIZE), bool)
    inner[21:29, 21:29] = True  # inside, away from the boundary marked in yellow
    outer[18:32, 18:32] = False  # outside, away from it too
    np.testing.assert_allclose(shown[inner], image[inner] / 255)
    np.testing.assert_allclose(shown[outer], 0.5 + 0.3 * (image[outer] / 255 - 0.5))
    yellow = (shown == [1, 1, 0]).all(axis=-1)
    assert yellow[19, 20:30].all() and yellow[20:30, 29].all()  # the superpixel's edge
