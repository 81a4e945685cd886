"""Reproduce chapters 7-13's results in full mode: run a chapter as the book does and harvest
the values it glues.

    cnnbook reproduce --chapter 09_pretrained

executes chapters/09_pretrained.md (jupytext, then nbclient, in the chapter's folder, with
CNNBOOK_MODE=full), reads the values the chapter glues under the names `CHAPTERS` declares for
it, and records them, with the run's wall time, machine, versions and load average, under
"chapters" in data/reproduction.json; `markdown` renders them for the report, a section per
chapter, the source's figure beside a result where there is one. Chapters 7, 12 and 13 keep
their trained models and comparisons in the model cache, so a rerun, or a full-mode book build
after the run, loads them instead of training again; chapters 8 and 9 train in view and train
again (chapter 9 caches only its base's features).
"""

import ast
import datetime
import os
import re
import time
import typing
from pathlib import Path

from cnnbook.book import provenance

FOLDER = provenance.ROOT / "chapters"
NOT_RUN = "not yet run"
REPRODUCING = "CNNBOOK_REPRODUCING"  # set, to a chapter's name, while its run is being reported


class Result(typing.NamedTuple):
    """One glued value a chapter reports: its glue name, what it is, and how to show it.

    kind: "percent" (a fraction), "seconds", "count", "correlation" or "word". spread: the
    glue name of its standard deviation, if it has one. source: the figure the chapter's
    source reports for it, as the source states it.
    """

    key: str
    label: str
    kind: str
    spread: str | None = None
    source: str | None = None


class Chapter(typing.NamedTuple):
    """A chapter whose full-mode results the report shows: its heading there and its results."""

    title: str
    results: tuple


GENOMICS_SCENARIOS = {  # chapter 13's scenarios: the short name its glue names use -> name
    "additive_03": "additive, h² = 0.3",
    "additive_05": "additive, h² = 0.5",
    "epistatic_05": "half epistatic, h² = 0.5",
}
_GENOMICS_MODELS = {"ridge": "ridge regression", "dense": "dense network", "cnn": "1D CNN"}
_GENOMICS = tuple(
    Result(
        f"{short}_{model}",
        f"{scenario}: {name}, correlation (mean ± sd)",
        "correlation",
        spread=f"{short}_{model}_sd",
    )
    for short, scenario in GENOMICS_SCENARIOS.items()
    for model, name in _GENOMICS_MODELS.items()
)

CHAPTERS = {
    "07_architectures": Chapter(
        "Chapter 7: LeNet-5 against CNNmodel1; a deep stack with and without shortcuts",
        (
            Result("train_samples", "training digits of LeNet-5 and CNNmodel1", "count"),
            Result("epochs", "epochs of LeNet-5 and CNNmodel1", "count"),
            Result("lenet_accuracy", "LeNet-5, test accuracy", "percent"),
            Result(
                "cnn1_accuracy",
                "CNNmodel1, test accuracy",
                "percent",
                source="98.93% (the notes, 12 epochs)",
            ),
            Result("lenet_verdict", "LeNet-5, beside CNNmodel1, does", "word"),
            Result("shortcut_train", "training digits of the deep stacks", "count"),
            Result("shortcut_epochs", "epochs of the deep stacks", "count"),
            Result("plain_train", "22 layers, plain: training accuracy", "percent"),
            Result("plain_accuracy", "22 layers, plain: test accuracy", "percent"),
            Result("residual_train", "22 layers with shortcuts: training accuracy", "percent"),
            Result("residual_accuracy", "22 layers with shortcuts: test accuracy", "percent"),
            Result("shortcut_seconds", "both deep stacks' training time", "seconds"),
        ),
    ),
    "08_folders": Chapter(
        "Chapter 8: a small CNN on photo folders, without and with augmentation",
        (
            Result("train_samples", "training photos", "count"),
            Result("photo_size", "photo side in pixels", "count"),
            Result("epochs", "epochs", "count"),
            Result("plain_train", "without augmentation: training accuracy", "percent"),
            Result("plain_val", "without augmentation: validation accuracy", "percent"),
            Result("plain_test", "without augmentation: test accuracy", "percent"),
            Result("plain_seconds", "without augmentation: training time", "seconds"),
            Result("augmented_train", "with augmentation: training accuracy", "percent"),
            Result("augmented_val", "with augmentation: validation accuracy", "percent"),
            Result("augmented_test", "with augmentation: test accuracy", "percent"),
            Result("augmented_seconds", "with augmentation: training time", "seconds"),
            Result("gap_word", "augmentation's training-validation gap is", "word"),
        ),
    ),
    "09_pretrained": Chapter(
        "Chapter 9: transfer learning both ways",
        (
            Result("base", "the pretrained base", "word"),
            Result("train_samples", "training photos", "count"),
            Result("photo_size", "photo side in pixels", "count"),
            Result("epochs", "epochs of each training", "count"),
            Result(
                "way1_test", "way 1, features once + dense classifier: test accuracy", "percent"
            ),
            Result(
                "way1_total",
                "way 1: computing the features and training the classifier, time",
                "seconds",
            ),
            Result("head_test", "way 2, base frozen, end to end: test accuracy", "percent"),
            Result("head_seconds", "way 2, base frozen: training time", "seconds"),
            Result("tuned_test", "way 2, then the top block fine-tuned: test accuracy", "percent"),
            Result("way2_seconds", "way 2, frozen then fine-tuned: training time", "seconds"),
        ),
    ),
    "12_peptides": Chapter(
        "Chapter 12: peptides binding HLA-A*02:01",
        (
            Result("train_samples", "training peptides", "count"),
            Result("epochs", "epochs", "count"),
            Result(
                "dense_accuracy",
                "dense network (BLOSUM62): test accuracy",
                "percent",
                source="94.6% (the example)",
            ),
            Result(
                "cnn2_accuracy", "2D CNN: test accuracy", "percent", source="92% (the example)"
            ),
            Result("cnn1_accuracy", "1D CNN: test accuracy", "percent"),
            Result("one_hot_accuracy", "dense network (one-hot): test accuracy", "percent"),
            Result(
                "forest_accuracy",
                "random forest: test accuracy",
                "percent",
                source="82.2% (the example)",
            ),
        ),
    ),
    "13_genomics": Chapter(
        "Chapter 13: genomic prediction by cross-validation",
        (
            Result("individuals", "individuals", "count"),
            Result("markers", "markers", "count"),
            Result("folds", "folds", "count"),
            Result("seeds", "seeds", "count"),
            *_GENOMICS,
        ),
    ),
}


def execute(chapter, mode_name="full", timeout=None, reported=False):
    """Run a chapter's notebook in mode_name; returns (the executed notebook, the run's facts).
    reported: this run becomes the chapter's entry in the committed report, which the kernel
    is told (REPRODUCING), so that `beside` need not quote the entry this run replaces.

    The facts: mode, wall_seconds (the whole notebook), machine (with the load average when it
    started), versions (with the cnnbook commit it started from) and finished (UTC). Cells
    keep nbclient's timings in their metadata.
    """
    import jupytext
    from nbclient import NotebookClient

    chapter = Path(chapter)
    notebook = jupytext.read(chapter)
    machine, versions = provenance.describe(), provenance.report_versions()  # what ran
    previous = os.environ.get("CNNBOOK_MODE")
    os.environ["CNNBOOK_MODE"] = mode_name  # the kernel inherits this process's environment
    if reported:
        os.environ[REPRODUCING] = chapter.stem
    try:
        start = time.perf_counter()
        NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name=notebook.metadata["kernelspec"]["name"],
            resources={"metadata": {"path": str(chapter.parent)}},
            record_timing=True,
        ).execute()
        wall = time.perf_counter() - start
    finally:
        os.environ.pop(REPRODUCING, None)
        if previous is None:
            del os.environ["CNNBOOK_MODE"]
        else:
            os.environ["CNNBOOK_MODE"] = previous
    facts = {
        "mode": mode_name,
        "wall_seconds": wall,
        "machine": machine,
        "versions": versions,
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    return notebook, facts


def glued(notebook):
    """Every value an executed notebook glues: glue name -> the value, read back from its
    text form (numbers, strings; NumPy scalars such as np.float64(0.5) as plain numbers)."""
    values = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("scrapbook")
            if record is None:
                continue
            text = output["data"][record.get("mime_prefix", "") + "text/plain"]
            values[record["name"]] = _literal(text)
    return values


def harvest(notebook, chapter_name):
    """The declared results of chapter_name from its executed notebook: glue name -> value."""
    found = glued(notebook)
    declared = [name for result in CHAPTERS[chapter_name].results for name in _keys(result)]
    missing = [name for name in declared if name not in found]
    if missing:
        raise ValueError(
            f"{chapter_name} glues no value named {', '.join(missing)}; glue them in the "
            f"chapter or change CHAPTERS[{chapter_name!r}] (it glues {', '.join(sorted(found))})"
        )
    return {name: found[name] for name in declared}


def record(chapter_name, values, facts):
    """The report's entry for a chapter run: its values and the run's facts."""
    return {"chapter": chapter_name, "status": "done", **facts, "values": values}


def entries(results):
    """One entry per chapter of CHAPTERS, in order: its run if it has one, else not yet run.

    A run that lacks a value now declared counts as not yet run.
    """
    runs = {entry["chapter"]: entry for entry in results.get("chapters", [])}
    shown = []
    for name, chapter in CHAPTERS.items():
        entry = runs.get(name)
        declared = {key for result in chapter.results for key in _keys(result)}
        if entry is None or entry["status"] != "done" or not declared <= set(entry["values"]):
            entry = {"chapter": name, "status": NOT_RUN}
        shown.append(entry)
    return shown


def values(chapter_name, results):
    """The full-mode values of chapter_name in results (glue name -> value); {} if not run."""
    entry = next(entry for entry in entries(results) if entry["chapter"] == chapter_name)
    return entry.get("values", {})


def beside(chapter_name, results, here, words):
    """The sentence a page shows about its chapter's full-mode run in results: words(values);
    that the run found the same, when every value in here (glue name -> this page's value)
    equals the report's (a full-mode page), or when this run is becoming the report's entry
    (REPRODUCING); or that the run is not yet done."""
    if os.environ.get(REPRODUCING) == chapter_name:
        return "The appendix's full-mode run found these same numbers."
    full = values(chapter_name, results)
    if not full:
        return f"This page's full-mode run: {NOT_RUN}."
    if all(full.get(name) == value for name, value in here.items()):
        return "The appendix's full-mode run found these same numbers."
    return words(full)


def markdown(results, describe_machine, duration, heading="## {}"):
    """The chapters' results as Markdown: per chapter a heading (heading.format(title)), its
    run, and a table of its results with the source's figures beside them."""
    lines = []
    for entry in entries(results):
        chapter = CHAPTERS[entry["chapter"]]
        lines += [heading.format(chapter.title), ""]
        if entry["status"] != "done":
            lines += [f"`cnnbook reproduce --chapter {entry['chapter']}`: {NOT_RUN}.", ""]
            continue
        load = entry["machine"].get("load_average_at_start")
        lines += [
            f"`cnnbook reproduce --chapter {entry['chapter']}` ran the chapter in "
            f"{entry['mode']} mode in {duration(entry['wall_seconds'])} (finished "
            f"{entry['finished']}"
            + ("" if load is None else f"; load average {load:.1f} when it started")
            + f") on {describe_machine(entry)}.",
            "",
            "| result | ours | the source |",
            "| --- | --- | --- |",
            *(
                f"| {result.label} | {show(result, entry['values'], duration)} "
                f"| {result.source or ''} |"
                for result in chapter.results
            ),
            "",
        ]
    return "\n".join(lines)


def show(result, found, duration):
    """A result's value in words: '93.27%', '12 min 3 s', '0.448 ± 0.050', '2,000', 'higher'."""
    value = found[result.key]
    if result.kind == "percent":
        return f"{100 * value:.2f}%"
    if result.kind == "seconds":
        return duration(value)
    if result.kind == "count":
        return f"{value:,}"
    if result.kind == "correlation":
        spread = "" if result.spread is None else f" ± {found[result.spread]:.3f}"
        return f"{value:.3f}{spread}"
    if result.kind == "word":
        return str(value)
    raise ValueError(f"unknown kind {result.kind!r} of result {result.key!r}")


def _keys(result):
    """The glue names a result needs: its own and its spread's."""
    return [result.key] + ([result.spread] if result.spread else [])


def _literal(text):
    """A glued value from its text/plain form: a Python literal, or a NumPy scalar's repr."""
    scalar = re.fullmatch(r"np\.\w+\((.*)\)", text.strip())
    return ast.literal_eval(scalar.group(1) if scalar else text)
