"""Simulated genotypes and traits: their coding, frequencies and linkage, the heritability and
the non-additive share they are asked for, the CNN's shapes counted by hand, and the
cross-validation against scikit-learn."""

import keras
import numpy as np
import pytest
from scipy import stats
from sklearn import linear_model

from cnnbook import genomics


@pytest.fixture(scope="module")
def population():
    return genomics.simulate_genotypes(300, 200, seed=0)


def test_genotypes_are_counts_of_common_alleles_in_chromosome_order(population):
    values, positions = population
    assert values.shape == (300, 200) and values.dtype == np.int8
    assert set(np.unique(values)) <= {0, 1, 2}
    frequency = values.mean(axis=0) / 2
    assert np.all(np.minimum(frequency, 1 - frequency) >= genomics.MINOR_ALLELE_FREQUENCY)
    assert np.all(np.diff(positions) > 0)
    assert positions[-1] < 200 * genomics.BASES_PER_MARKER


def test_the_same_seed_gives_the_same_genotypes(population):
    assert np.array_equal(genomics.simulate_genotypes(300, 200, seed=0).values, population.values)
    assert not np.array_equal(
        genomics.simulate_genotypes(300, 200, seed=1).values[:, :50], population.values[:, :50]
    )


def test_neighbouring_markers_are_linked_and_distant_ones_much_less(population):
    values = population.values.astype(float)

    def mean_r2(lag):
        return np.mean(
            [
                np.corrcoef(values[:, j], values[:, j + lag])[0, 1] ** 2
                for j in range(values.shape[1] - lag)
            ]
        )

    assert mean_r2(1) > 2 * mean_r2(100)


def test_too_many_markers_for_the_chromosome_are_refused(monkeypatch):
    monkeypatch.setattr(genomics, "BASES_PER_MARKER", 10)  # 1 kb: a site or two
    with pytest.raises(ValueError, match="fewer than the 100 markers asked for"):
        genomics.simulate_genotypes(50, 100)


@pytest.fixture(scope="module")
def independent_genotypes():
    """A large sample of unlinked markers, 0/1/2 as binomial draws."""
    rng = np.random.default_rng(0)
    frequency = rng.uniform(0.1, 0.9, 300)
    return rng.binomial(2, frequency, size=(10_000, 300))


@pytest.mark.parametrize("heritability", [0.3, 0.5])
def test_the_realised_heritability_is_the_stated_one(independent_genotypes, heritability):
    trait = genomics.simulate_trait(independent_genotypes, heritability, seed=2)
    assert genomics.realised_heritability(trait) == pytest.approx(heritability, abs=0.02)
    assert trait.genetic.var() == pytest.approx(heritability)
    assert len(trait.causal) == 5 + 200 and len(trait.pairs) == 0


@pytest.mark.parametrize("non_additive", [0.0, 0.5])
def test_a_linear_model_explains_only_the_additive_share(independent_genotypes, non_additive):
    trait = genomics.simulate_trait(independent_genotypes, 0.6, non_additive=non_additive, seed=3)
    fitted = linear_model.LinearRegression().fit(independent_genotypes, trait.phenotype)
    explained = fitted.score(independent_genotypes, trait.phenotype)  # R², in sample
    assert explained == pytest.approx(0.6 * (1 - non_additive), abs=0.03)
    assert len(trait.pairs) == (5 if non_additive else 0)


@pytest.mark.parametrize(
    "heritability, non_additive, message",
    [
        (0, 0, "heritability must be between 0 and 1"),
        (1, 0, "between 0 and 1"),
        (0.5, 1.5, "non_additive is a share of variance from 0 to 1"),
    ],
)
def test_trait_settings_out_of_range_are_refused(heritability, non_additive, message):
    with pytest.raises(ValueError, match=message):
        genomics.simulate_trait(np.ones((10, 20)), heritability, non_additive=non_additive)


def test_the_cnn_has_the_shapes_and_parameters_counted_by_hand():
    model = genomics.cnn_1d(400)
    shapes = [tuple(layer.output.shape[1:]) for layer in model.layers]
    assert shapes == [(400, 1), (398, 16), (199, 16), (3184,), (3184,), (32,), (1,)]
    assert model.count_params() == (16 * 3 + 16) + (3184 * 32 + 32) + (32 + 1)
    assert genomics.dense_network(400).count_params() == (400 * 64 + 64) + (64 * 32 + 32) + 33


def test_cross_validation_scores_every_model_on_held_out_individuals():
    rng = np.random.default_rng(1)
    genotypes = rng.binomial(2, 0.5, size=(200, 20))
    trait = genomics.simulate_trait(genotypes, 0.9, large=5, small=15, seed=4)
    results = genomics.cross_validate(genotypes, trait.phenotype, folds=2, seeds=1, epochs=2)
    assert sorted(results) == sorted(genomics.MODELS)
    for values in results.values():
        assert values.shape == (2,) and np.all(np.abs(values) <= 1)
    assert results["ridge"].mean() > 0.85  # all 20 markers causal, h² = 0.9: ceiling ≈ 0.95


def test_correlation_is_pearsons_and_zero_for_a_constant_prediction():
    rng = np.random.default_rng(2)
    predicted, observed = rng.normal(size=50), rng.normal(size=50)
    assert genomics.correlation(predicted, observed) == pytest.approx(
        stats.pearsonr(predicted, observed).statistic
    )
    assert genomics.correlation(np.full(50, 0.3), observed) == 0.0


def test_training_stops_early_and_keeps_the_best_epochs_weights():
    """On noise the validation loss soon stops falling: training stops PATIENCE epochs after
    its lowest, and the model kept is that epoch's (its loss on the held-out individuals, which
    Keras takes from the end, is the lowest validation loss)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 20)).astype("float32")
    y = rng.normal(size=200).astype("float32")
    keras.utils.set_random_seed(0)
    model = genomics.compile_and_fit(genomics.dense_network(20), x, y, epochs=200)
    losses = model.history.history["val_loss"]
    best = int(np.argmin(losses))
    assert len(losses) == best + 1 + genomics.PATIENCE < 200
    held_out = (
        x[-int(200 * genomics.VALIDATION_SHARE) :],
        y[-int(200 * genomics.VALIDATION_SHARE) :],
    )
    assert model.evaluate(*held_out, verbose=0) == pytest.approx(losses[best], rel=1e-5)
    assert model.optimizer.learning_rate.numpy() == pytest.approx(genomics.LEARNING_RATE)
