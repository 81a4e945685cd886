"""How fast the book trains: one epoch of CNNmodel1 and CNNmodel2 on all 60,000 digits, timed
three ways in one run, interleaved: the book's training path (`cnnbook.training`), a plain
Keras script of the same model, and the same model in plain PyTorch.

    cnnbook bench [--rounds 10] [--models cnn1 cnn2] [--json PATH]

Each way runs in a process of its own, so that its peak memory can be measured; only one
process trains at a time. Each builds its model and trains a first epoch (graph tracing and
warm-up included, reported apart), then one epoch per round, the ways taking turns in an
order that changes from round to round (`orders`), with a pause of a second before each.
Reported: the median and the fastest epoch of each way, the ratios of both
(on shared cores the fastest epoch is the one least disturbed by other work), and the peak
resident memory of each process, before and after training. PyTorch is optional
(``pip install -e .[bench]``); without it that column is left out.
"""

import argparse
import importlib.util
import json
import multiprocessing
import os
import resource
import statistics
import sys
import time
from pathlib import Path

from cnnbook.book import provenance

WAYS = ("book", "keras", "pytorch")
BATCH_SIZE = 100
SETTLE_SECONDS = 1.0  # idle time before each timed epoch, for the last one's threads to stop
PACKAGES = ("keras", "tensorflow-cpu", "tensorflow", "torch", "numpy")  # versions reported
ADADELTA = {"learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-7}


def _peak_bytes():
    """The peak resident memory of this process so far."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports kibibytes


def _book(name):
    """The book's path: the model and settings of recipes.RECIPES[name], trained by fit()."""
    import dataclasses

    from cnnbook import recipes, training
    from cnnbook.datasets import mnist

    digits = mnist.load(60_000, 1)
    setup = dataclasses.replace(recipes.RECIPES[name].setup, epochs=1)
    model = training.build(setup)
    return lambda: training.fit(
        model, digits.x_train, digits.y_train, setup.epochs, setup.batch_size
    )


def _keras(name):
    """A plain Keras script of the same model, written without the book's helpers."""
    import keras

    from cnnbook.datasets import mnist

    (images, labels), _ = mnist.load_data()
    x = (images.astype("float32") / 255)[..., None]
    y = keras.utils.to_categorical(labels, 10)
    keras.utils.set_random_seed(0)
    layers = [keras.Input(shape=(28, 28, 1)), keras.layers.Conv2D(20, 5, activation="relu")]
    layers.append(keras.layers.MaxPooling2D(2))
    if name == "cnn2":
        layers += [keras.layers.Conv2D(40, 5, activation="relu"), keras.layers.MaxPooling2D(2)]
    layers += [
        keras.layers.Flatten(),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ]
    model = keras.Sequential(layers)
    model.compile(
        optimizer=keras.optimizers.Adadelta(**ADADELTA),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return lambda: model.fit(x, y, batch_size=BATCH_SIZE, epochs=1, verbose=0)


def _pytorch(name):
    """The same model and optimizer in plain PyTorch: shuffled mini-batches, one step each."""
    import torch
    from torch import nn

    from cnnbook.datasets import mnist

    (images, labels), _ = mnist.load_data()
    x = torch.from_numpy(images).float().div(255).unsqueeze(1)  # (n, 1, 28, 28)
    y = torch.from_numpy(labels).long()
    torch.manual_seed(0)
    layers = [nn.Conv2d(1, 20, 5), nn.ReLU(), nn.MaxPool2d(2)]
    if name == "cnn2":
        layers += [nn.Conv2d(20, 40, 5), nn.ReLU(), nn.MaxPool2d(2)]
    flat = 40 * 4 * 4 if name == "cnn2" else 20 * 12 * 12
    layers += [nn.Flatten(), nn.Linear(flat, 100), nn.ReLU(), nn.Linear(100, 10)]
    model = nn.Sequential(*layers)
    optimizer = torch.optim.Adadelta(
        model.parameters(), lr=ADADELTA["learning_rate"], rho=ADADELTA["rho"], eps=1e-7
    )
    loss_function = nn.CrossEntropyLoss()  # softmax and cross-entropy in one

    def epoch():
        model.train()
        correct = 0
        for batch in torch.randperm(len(x)).split(BATCH_SIZE):
            optimizer.zero_grad()
            scores = model(x[batch])
            loss = loss_function(scores, y[batch])
            loss.backward()
            optimizer.step()
            correct += (scores.argmax(dim=1) == y[batch]).sum().item()
        return correct / len(x)

    return epoch


def _worker(way, name, connection):
    """Set up one way in this process, then train one epoch per request and time it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    start = time.perf_counter()
    epoch = {"book": _book, "keras": _keras, "pytorch": _pytorch}[way](name)
    setup_seconds = time.perf_counter() - start
    setup_peak = _peak_bytes()
    start = time.perf_counter()
    epoch()
    connection.send({"setup_seconds": setup_seconds, "first_epoch": time.perf_counter() - start})
    while connection.recv():
        start = time.perf_counter()
        epoch()
        connection.send(time.perf_counter() - start)
    threads = None
    if way == "pytorch":
        import torch

        threads = torch.get_num_threads()
    connection.send({"setup_peak": setup_peak, "peak": _peak_bytes(), "threads": threads})


def available_ways():
    """The ways that can run here: PyTorch only where it is installed."""
    if importlib.util.find_spec("torch") is None:
        return [way for way in WAYS if way != "pytorch"]
    return list(WAYS)


def orders(ways, rounds):
    """The order the ways train in, one epoch each per round.

    Rounds alternate between ways as given and with all but the first reversed: with three
    ways, every two rounds each way follows each other way once, so none always starts while
    the same other way's threads wind down.
    """
    flipped = [ways[0], *reversed(ways[1:])]
    return [way for index in range(rounds) for way in (flipped if index % 2 else ways)]


def bench(name, rounds, ways):
    """Time model name the given ways, interleaved; returns a dict of results per way."""
    context = multiprocessing.get_context("spawn")
    workers = {}
    for way in ways:
        ours, theirs = context.Pipe()
        process = context.Process(target=_worker, args=(way, name, theirs), daemon=True)
        process.start()
        workers[way] = (process, ours, ours.recv())  # one way at a time: wait for its warm-up
    epochs = {way: [] for way in ways}
    for way in orders(ways, rounds):
        time.sleep(SETTLE_SECONDS)
        connection = workers[way][1]
        connection.send(True)
        epochs[way].append(connection.recv())
    results = {}
    for way, (process, connection, warm_up) in workers.items():
        connection.send(False)
        memory = connection.recv()
        process.join()
        results[way] = {**warm_up, **memory, "epochs": epochs[way]}
        results[way]["median"] = statistics.median(epochs[way])
        results[way]["fastest"] = min(epochs[way])
    return results


def report(results, rounds):
    """The results as Markdown: medians and ratios, fastest epochs, memory, every epoch."""
    ways = list(next(iter(results.values())))
    header = "| model | " + " | ".join(_WAY_NAMES[way] for way in ways)
    lines = []
    for statistic, title in (
        (
            "median",
            f"Median seconds per epoch over {rounds} interleaved rounds (the first "
            "epoch, with graph tracing and warm-up, in brackets):",
        ),
        ("fastest", "Fastest epoch, the least disturbed by other work on the machine:"),
    ):
        lines += [title, "", header + " | book / Keras | book / PyTorch |"]
        lines.append("| --- |" + " --- |" * (len(ways) + 2))
        for name, found in results.items():
            cells = [f"{r[statistic]:.2f} s" for r in found.values()]
            if statistic == "median":
                cells = [
                    f"{c} ({r['first_epoch']:.2f} s)"
                    for c, r in zip(cells, found.values(), strict=True)
                ]
            book = found["book"][statistic]
            keras_ratio = f"{book / found['keras'][statistic]:.3f}"
            torch_ratio = "n/a"
            if "pytorch" in found:
                torch_ratio = f"{book / found['pytorch'][statistic]:.3f}"
            lines.append(
                f"| {name} | " + " | ".join(cells) + f" | {keras_ratio} | {torch_ratio} |"
            )
        lines.append("")
    lines += [
        "Peak resident memory of each process, MiB (after setting up and loading data → "
        "after training):",
        "",
        header + " |",
        "| --- |" + " --- |" * len(ways),
    ]
    for name, found in results.items():
        cells = [
            f"{r['setup_peak'] / 2**20:.0f} → {r['peak'] / 2**20:.0f}" for r in found.values()
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Every timed epoch, seconds, in the order run:", ""]
    for name, found in results.items():
        for way, result in found.items():
            times = " ".join(f"{seconds:.2f}" for seconds in result["epochs"])
            lines.append(f"- {name}, {_WAY_NAMES[way]}: {times}")
    return "\n".join(lines)


_WAY_NAMES = {"book": "book (cnnbook.training)", "keras": "plain Keras", "pytorch": "PyTorch"}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="cnnbook bench", description=__doc__)
    parser.add_argument("--rounds", type=int, default=10, help="timed epochs per way (10)")
    parser.add_argument("--models", nargs="+", default=["cnn1", "cnn2"], choices=["cnn1", "cnn2"])
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds {args.rounds} should be at least 1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    ways = available_ways()
    if "pytorch" not in ways:
        print("PyTorch is not installed (pip install -e .[bench]); timing the other two ways.")
    where = provenance.describe()
    results = {name: bench(name, args.rounds, ways) for name in args.models}
    print(report(results, args.rounds))
    versions = provenance.installed(PACKAGES)
    load = where["load_average_at_start"]
    print(
        "\n"
        + provenance.machine_line(where, versions)
        + ("" if load is None else f"; load average {load:.1f} at the start")
        + ("" if load is None else f" and {provenance.load_average():.1f} at the end")
    )
    if args.json:
        args.json.write_text(
            json.dumps({"results": results, "machine": where, "versions": versions}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
