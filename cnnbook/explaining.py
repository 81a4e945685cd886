"""Explaining one prediction with LIME (Ribeiro, Singh and Guestrin, 2016), written out in a few
short steps. Introduced in chapter 11.

LIME cuts the image into superpixels, makes perturbed copies with random superpixels switched
off (painted in their mean colour, as the `lime` package does by default), lets the classifier
predict them, and fits a linear model of the class probability on which superpixels were on,
weighting each copy by its closeness to the original. The largest weights are the explanation.
The chapter checks these steps against the `lime` package: on the same superpixels and the same
random draws, `explain` gives the package's weights.
"""

import dataclasses

import numpy as np
from skimage import segmentation

KERNEL_WIDTH = 0.25  # the lime package's default for images
ALPHA = 1.0  # the ridge penalty of the lime package's default regressor


def superpixels(image, n_segments=50, compactness=10):
    """SLIC superpixels of an (H, W, 3) RGB or (H, W) grey image: (H, W) labels 0, 1, ..."""
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"image should be (H, W) or (H, W, 3), got shape {image.shape}")
    return segmentation.slic(
        image,
        n_segments=n_segments,
        compactness=compactness,
        start_label=0,
        channel_axis=-1 if image.ndim == 3 else None,
    )


def random_masks(num_samples, num_segments, seed=0):
    """(num_samples, num_segments) 0/1 rows, which superpixels each copy keeps; the first row
    keeps all (the original). Drawn as the lime package draws them with random_state=seed."""
    masks = np.random.RandomState(seed).randint(0, 2, num_samples * num_segments)
    masks = masks.reshape(num_samples, num_segments)
    masks[0] = 1
    return masks


def mean_colours(image, segments):
    """The image with every superpixel painted in its mean colour (what 'off' looks like)."""
    image = np.asarray(image)
    filled = image.copy()
    for label in np.unique(segments):
        filled[segments == label] = image[segments == label].mean(axis=0)
    return filled


def perturb(image, segments, masks, hidden):
    """(n, *image.shape) copies of the image, superpixel j taken from hidden where a mask row
    has a 0 at j."""
    off = masks[:, segments] == 0  # (n, H, W): pixels switched off in each copy
    if np.ndim(image) == 3:
        off = off[..., None]
    return np.where(off, hidden, image).astype(np.asarray(image).dtype)


def kernel_weights(masks, kernel_width=KERNEL_WIDTH):
    """Each copy's weight: sqrt(exp(-d² / width²)), d the cosine distance of its mask to the
    original's (all ones), which is 1 - sqrt(superpixels kept / all superpixels)."""
    distances = 1 - np.sqrt(masks.sum(axis=1) / masks.shape[1])
    return np.sqrt(np.exp(-(distances**2) / kernel_width**2))


def weighted_ridge(x, y, sample_weight, alpha=ALPHA):
    """(intercept, coefficients) minimising sum w_i (y_i - b - x_i·c)² + alpha |c|²."""
    w = sample_weight / sample_weight.sum()
    x_centred = x - w @ x
    y_centred = y - w @ y
    gram = x_centred.T @ (sample_weight[:, None] * x_centred) + alpha * np.eye(x.shape[1])
    coefficients = np.linalg.solve(gram, x_centred.T @ (sample_weight * y_centred))
    return float(w @ y - (w @ x) @ coefficients), coefficients


@dataclasses.dataclass(frozen=True)
class Explanation:
    """LIME's perturbed samples of one image and the classifier's probabilities for them."""

    segments: np.ndarray  # (H, W) superpixel labels 0 .. k-1
    masks: np.ndarray  # (num_samples, k) which superpixels each copy kept
    probabilities: np.ndarray  # (num_samples, classes) the classifier's output for each copy

    def weights(self, label, num_samples=None):
        """Each superpixel's weight (k,) for class label, fitted on the first num_samples."""
        masks = self.masks[:num_samples]
        y = self.probabilities[: len(masks), label]
        return weighted_ridge(masks.astype(float), y, kernel_weights(masks))[1]

    def top(self, label, count=5, num_samples=None):
        """The count superpixels with the largest positive weights for label, largest first."""
        weights = self.weights(label, num_samples)
        order = np.argsort(-weights, kind="stable")
        return [int(j) for j in order[:count] if weights[j] > 0]


def explain(
    image, classifier_fn, segments, num_samples=1000, seed=0, batch_size=50, hide_color=None
):
    """LIME's samples for image: random_masks(num_samples, superpixels, seed), the perturbed
    copies predicted by classifier_fn in batches. A superpixel switched off takes hide_color,
    or its mean colour when that is None (the lime package's arguments and default)."""
    num_segments = int(segments.max()) + 1
    if not np.array_equal(np.unique(segments), np.arange(num_segments)):
        raise ValueError("segments should be labels 0, 1, ..., k-1 with none missing")
    masks = random_masks(num_samples, num_segments, seed)
    if hide_color is None:
        hidden = mean_colours(image, segments)
    else:
        hidden = np.full_like(image, hide_color)
    probabilities = np.concatenate(
        [
            classifier_fn(perturb(image, segments, masks[start : start + batch_size], hidden))
            for start in range(0, num_samples, batch_size)
        ]
    )
    return Explanation(segments, masks, probabilities)


def shown(image, segments, chosen, grey=0.5):
    """An RGB image (H, W, 3), integers 0-255 or floats 0-1, as floats 0-1 with only the chosen
    superpixels in colour, the rest faded to grey, and the chosen ones' boundaries in yellow."""
    image = np.asarray(image)
    image = image / 255 if np.issubdtype(image.dtype, np.integer) else image.astype("float64")
    keep = np.isin(segments, chosen)[..., None]
    faded = np.where(keep, image, grey + 0.3 * (image - grey))
    outline = np.where(keep[..., 0], segments + 1, 0)
    return segmentation.mark_boundaries(faded, outline, color=(1, 1, 0))


def overlap(first, second):
    """How many superpixels two lists share, over the length of the longer: 1 when the same."""
    if not first and not second:
        return 1.0
    return len(set(first) & set(second)) / max(len(first), len(second))
