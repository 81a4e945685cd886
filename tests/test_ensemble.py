"""Majority vote, on constructed examples and against a plain loop."""

import collections

import numpy as np
import pytest

from cnnbook import ensemble


def _probabilities(votes, classes=10, confidence=0.6):
    """(models, n, classes) probabilities in which model m votes votes[m][i] for image i."""
    votes = np.asarray(votes)
    rest = (1 - confidence) / (classes - 1)
    probabilities = np.full(votes.shape + (classes,), rest)
    np.put_along_axis(probabilities, votes[..., None], confidence, axis=-1)
    return probabilities


def test_the_class_with_most_votes_wins():
    # five models, three images: 3 votes for 7; 4 for 1; 2 for 3 against 1 each for 0, 5, 8
    votes = [[7, 1, 3], [7, 1, 3], [7, 1, 0], [2, 1, 5], [4, 9, 8]]
    assert ensemble.majority_vote(_probabilities(votes)).tolist() == [7, 1, 3]
    assert ensemble.votes(_probabilities(votes))[0].tolist() == [0, 0, 1, 0, 1, 0, 0, 3, 0, 0]


def test_the_majority_overrules_a_more_confident_minority():
    probabilities = _probabilities([[4], [4], [4], [9], [9]], confidence=0.4)
    probabilities[3:, 0, :] = 0.01
    probabilities[3:, 0, 9] = 0.91  # two very sure models cannot outvote three
    assert ensemble.majority_vote(probabilities).tolist() == [4]


def test_a_tie_goes_to_the_tied_class_with_the_largest_summed_probability():
    # 2 votes for 3, 2 for 6, 1 for 0: the models voting 6 are surer
    probabilities = _probabilities([[3], [3], [6], [6], [0]], confidence=0.5)
    probabilities[2:4, 0, :] = 0.05
    probabilities[2:4, 0, 6] = 0.55
    assert ensemble.majority_vote(probabilities).tolist() == [6]
    # class 0 has the largest summed probability but only one vote: it is not tied
    probabilities[4, 0, :] = 0
    probabilities[4, 0, 0] = 1.0
    probabilities[0, 0, 0] = 0.45  # still votes 3, but adds to 0's sum
    assert ensemble.majority_vote(probabilities).tolist() == [6]


def test_a_complete_tie_goes_to_the_smaller_class():
    probabilities = _probabilities([[8], [2]], confidence=0.5)
    assert ensemble.majority_vote(probabilities).tolist() == [2]


def test_it_agrees_with_a_plain_loop_on_random_predictions():
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.full(4, 0.3), size=(5, 400))  # few classes: many ties
    expected = []
    for image in range(probabilities.shape[1]):
        counts = collections.Counter(probabilities[:, image].argmax(axis=1).tolist())
        summed = probabilities[:, image].sum(axis=0)
        expected.append(max(counts, key=lambda c: (counts[c], summed[c], -c)))
    assert ensemble.majority_vote(probabilities).tolist() == expected


def test_the_shape_is_checked():
    with pytest.raises(ValueError, match=r"\(models, n, classes\)"):
        ensemble.majority_vote(np.zeros((5, 10)))
