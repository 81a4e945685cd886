"""Genomic prediction: genotypes simulated with msprime, traits of a stated heritability (with
or without a non-additive part), and three predictors compared by cross-validation: ridge
regression, a dense network and a 1D CNN. Introduced in chapter 13 (convolutional networks
in genomics).

Genotypes are (individuals, markers) arrays of 0, 1 or 2 copies of the derived allele, the
markers in the order of their positions along the simulated chromosome.
"""

import inspect
import typing

import keras
import msprime
import numpy as np
from sklearn import linear_model, model_selection, pipeline, preprocessing

from cnnbook import validate
from cnnbook.book import cache, provenance

POPULATION_SIZE = 10_000  # effective population size (diploid individuals), as for humans
MUTATION_RATE = 1e-8  # per base pair and generation
RECOMBINATION_RATE = 1e-8  # per base pair and generation: about 1 cM per Mb
BASES_PER_MARKER = 2_000  # the chromosome's length per marker asked for
MINOR_ALLELE_FREQUENCY = 0.05  # markers whose rarer allele is rarer than this are dropped
RIDGE_ALPHAS = np.logspace(-1, 5, 13)  # penalties RidgeCV chooses from, inside each fold
BATCH_SIZE = 32
LEARNING_RATE = 1e-4  # Adam's default, 1e-3, can silence every ReLU unit: a constant predictor
VALIDATION_SHARE = 0.2  # of the training individuals, held out to decide when to stop
PATIENCE = 5  # epochs without a lower validation loss before training stops
MODELS = ("ridge", "dense", "cnn")


class Genotypes(typing.NamedTuple):
    """Genotypes (individuals, markers) of 0/1/2 as int8, and each marker's position in bp."""

    values: np.ndarray
    positions: np.ndarray


def simulate_genotypes(individuals, markers, seed=0):
    """Simulate individuals diploid genomes with msprime's coalescent (Hudson's model, one
    population of POPULATION_SIZE) on a chromosome of markers × BASES_PER_MARKER bp, and keep
    markers of the common SNPs (minor allele frequency at least 0.05), evenly spaced."""
    individuals = validate.whole_number(individuals, "individuals", minimum=2)
    markers = validate.whole_number(markers, "markers")
    ancestry = msprime.sim_ancestry(
        samples=individuals,
        ploidy=2,
        population_size=POPULATION_SIZE,
        sequence_length=markers * BASES_PER_MARKER,
        recombination_rate=RECOMBINATION_RATE,
        random_seed=seed + 1,  # msprime's seeds start at 1
    )
    mutated = msprime.sim_mutations(
        ancestry, rate=MUTATION_RATE, model=msprime.BinaryMutationModel(), random_seed=seed + 1
    )
    haplotypes = mutated.genotype_matrix()  # (sites, 2 × individuals): an individual's two
    values = (haplotypes[:, 0::2] + haplotypes[:, 1::2]).T.astype("int8")  # nodes are adjacent
    frequency = values.mean(axis=0) / 2
    common = np.flatnonzero(np.minimum(frequency, 1 - frequency) >= MINOR_ALLELE_FREQUENCY)
    if len(common) < markers:
        raise ValueError(
            f"the simulation gave {len(common)} common SNPs, fewer than the {markers} markers "
            "asked for; ask for fewer markers or more individuals"
        )
    kept = common[np.linspace(0, len(common) - 1, markers).round().astype(int)]
    positions = mutated.tables.sites.position[kept]
    return Genotypes(values[:, kept], positions)


class Trait(typing.NamedTuple):
    """A simulated trait: phenotypes (n,) = genetic values (n,) + noise, and its causal loci."""

    phenotype: np.ndarray
    genetic: np.ndarray
    causal: np.ndarray  # the markers with an additive effect
    pairs: np.ndarray  # the first marker of each interacting neighbour pair (j with j + 1)


def simulate_trait(genotypes, heritability, non_additive=0.0, large=5, small=200, seed=0):
    """A trait of genotypes (n, m) with the stated (broad-sense) heritability.

    The additive part has `large` loci with effects drawn with standard deviation 1 and
    `small` loci with standard deviation 0.1. A share non_additive of the genetic variance
    comes from epistasis: `large` pairs of neighbouring markers whose product of (centred)
    genotypes has an effect. The genetic values are scaled to variance heritability, and
    noise of variance 1 - heritability is added.
    """
    if not 0 < heritability < 1:
        raise ValueError(f"heritability must be between 0 and 1 (exclusive), got {heritability}")
    if not 0 <= non_additive <= 1:
        raise ValueError(f"non_additive is a share of variance from 0 to 1, got {non_additive}")
    rng = np.random.default_rng(seed)
    centred = np.asarray(genotypes, dtype="float64")
    centred = centred - centred.mean(axis=0)
    markers = centred.shape[1]
    causal = rng.choice(markers, size=large + small, replace=False)
    effects = np.concatenate([rng.normal(0, 1, large), rng.normal(0, 0.1, small)])
    parts = [(1 - non_additive, centred[:, causal] @ effects)]
    pairs = np.array([], dtype=int)
    if non_additive > 0:
        pairs = rng.choice(markers - 1, size=large, replace=False)
        products = centred[:, pairs] * centred[:, pairs + 1]
        parts.append((non_additive, products @ rng.normal(0, 1, large)))
    genetic = sum(np.sqrt(share) * values / values.std() for share, values in parts)
    genetic = genetic / genetic.std() * np.sqrt(heritability)
    noise = rng.normal(0, np.sqrt(1 - heritability), len(genetic))
    return Trait(genetic + noise, genetic, causal, pairs)


def realised_heritability(trait):
    """The share of the phenotype's variance that is genetic, in this sample."""
    return float(trait.genetic.var() / trait.phenotype.var())


def ridge():
    """Ridge regression on standardised markers, its penalty chosen by inner cross-validation:
    the linear baseline (GBLUP is ridge regression with a penalty set from the heritability)."""
    return pipeline.make_pipeline(
        preprocessing.StandardScaler(), linear_model.RidgeCV(alphas=RIDGE_ALPHAS)
    )


def dense_network(markers):
    """A dense network: all markers -> 64 ReLU -> 32 ReLU -> one predicted phenotype."""
    return keras.Sequential(
        [
            keras.Input(shape=(markers,)),
            keras.layers.Dense(units=64, activation="relu"),
            keras.layers.Dropout(rate=0.2),
            keras.layers.Dense(units=32, activation="relu"),
            keras.layers.Dense(units=1),
        ]
    )


def cnn_1d(markers):
    """The guide's 1D CNN: 16 filters over 3 neighbouring markers, max pooling by 2, flatten,
    a dense layer of 32, one predicted phenotype."""
    return keras.Sequential(
        [
            keras.Input(shape=(markers,)),
            keras.layers.Reshape((markers, 1)),  # markers along the sequence, one channel
            keras.layers.Conv1D(filters=16, kernel_size=3, activation="relu"),
            keras.layers.MaxPooling1D(pool_size=2),
            keras.layers.Flatten(),
            keras.layers.Dropout(rate=0.2),
            keras.layers.Dense(units=32, activation="relu"),
            keras.layers.Dense(units=1),
        ]
    )


def compile_and_fit(model, x, y, epochs):
    """Compile model for regression (mean squared error, Adam) and train it on (x, y) for at
    most epochs: training stops when the loss on the last VALIDATION_SHARE of (x, y) has not
    fallen for PATIENCE epochs, and the weights of the epoch with the lowest are kept."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE), loss="mse")
    stop = keras.callbacks.EarlyStopping(patience=PATIENCE, restore_best_weights=True)
    model.fit(
        x,
        y,
        epochs=epochs,
        batch_size=BATCH_SIZE,
        validation_split=VALIDATION_SHARE,
        callbacks=[stop],
        verbose=0,
    )
    return model


def _predictions(name, x_train, y_train, x_test, epochs, seed):
    """Train model `name` on standardised data and predict the test phenotypes."""
    if name == "ridge":
        return ridge().fit(x_train, y_train).predict(x_test)
    keras.utils.set_random_seed(seed)
    build = dense_network if name == "dense" else cnn_1d
    model = compile_and_fit(build(x_train.shape[1]), x_train, y_train, epochs)
    return keras.ops.convert_to_numpy(model(x_test, training=False))[:, 0]


def correlation(predicted, observed):
    """Pearson's correlation of predicted and observed phenotypes; 0 for a constant prediction
    (a network whose units all died predicts nothing)."""
    predicted = np.asarray(predicted, dtype="float64")
    if np.ptp(predicted) == 0:
        return 0.0
    return float(np.corrcoef(predicted, observed)[0, 1])


def cross_validate(genotypes, phenotype, folds, seeds, epochs):
    """Correlations between predicted and observed phenotypes of held-out individuals, for
    each model of MODELS: name -> (seeds × folds,) array, one per split.

    Each seed shuffles the individuals into folds anew and starts the networks afresh.
    Markers and phenotypes are standardised with the training individuals' means and
    standard deviations.
    """
    x, y = np.asarray(genotypes, dtype="float32"), np.asarray(phenotype, dtype="float32")
    results = {name: [] for name in MODELS}
    for seed in range(seeds):
        splits = model_selection.KFold(folds, shuffle=True, random_state=seed).split(x)
        for fold, (train, test) in enumerate(splits):
            scaler = preprocessing.StandardScaler().fit(x[train])
            x_train, x_test = scaler.transform(x[train]), scaler.transform(x[test])
            y_train = (y[train] - y[train].mean()) / y[train].std()
            for name in MODELS:
                predicted = _predictions(
                    name, x_train, y_train, x_test, epochs, seed=100 * seed + fold
                )
                results[name].append(correlation(predicted, y[test]))
    return {name: np.array(values) for name, values in results.items()}


def compare(genotypes, phenotype, folds, seeds, epochs):
    """cross_validate's correlations, from the result cache if the same comparison, on the
    same data, was run before."""
    description = {
        "chapter": "genomics",
        "code": inspect.getsource(inspect.getmodule(compare)),
        "data": [cache.fingerprint(genotypes), cache.fingerprint(phenotype)],
        "folds": folds,
        "seeds": seeds,
        "epochs": epochs,
        "versions": provenance.versions(),
    }

    def compute():
        return cross_validate(genotypes, phenotype, folds, seeds, epochs), {}

    return cache.cached(description, compute).value
