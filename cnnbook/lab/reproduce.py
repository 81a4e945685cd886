"""Reproduce the notes' MNIST accuracies in full mode: data/reproduction.json and .md.

    cnnbook reproduce --list          the models, and which have results
    cnnbook reproduce --model cnn1    train one model (repeat --model for more)
    cnnbook reproduce --model cnn3 --seeds 5
                                      also seeds 1-4: how far runs of a setting spread
    cnnbook reproduce                 train every model
    cnnbook reproduce --chapter 09_pretrained
                                      run a chapter of 7-13 in full mode, record what it
                                      glues (`cnnbook.lab.chapter_results`)

Training goes through the model cache, so an interrupted run resumes where it stopped and a
model trained once (by this command or a full-mode book build) is not trained again. Each row
records the machine and versions it ran on; a model without a result shows as "not yet run".
"""

import argparse
import datetime
import hashlib
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from cnnbook import ensemble, mode, recipes, training
from cnnbook.book import cache, executions, provenance, toc
from cnnbook.datasets import mnist
from cnnbook.lab import chapter_results

RESULTS = provenance.ROOT / "data" / "reproduction.json"
MODEL_ROWS, CHAPTER_ENTRIES = "model rows", "chapter entries"  # parts of the report
NOT_RUN = "not yet run"
HEADER = """\
# Reproduction report

The notes' MNIST models trained as the notes train them, in full mode (all 60,000 training
digits, the notes' epochs), each tested on the 10,000 test digits. Written by
`cnnbook reproduce`; the machines are listed below the table.
"""

CHAPTERS_HEADER = """\
## Chapters 7 to 13

Each chapter run whole in full mode by `cnnbook reproduce --chapter NAME`, and the values it
computes read from the executed notebook. A chapter's wall time is its whole run, shorter where
the model cache served a model an earlier run had trained; a training's own time, where listed,
is the one the chapter reports.
"""


def run(recipe, sizes, seeds=1):
    """Train recipe (every member of an ensemble) and test it; returns its results row.

    With seeds > 1, a single model is also trained with seeds 1, 2, ..., seeds - 1, and the
    row records every seed's test accuracy (seed 0's is the row's result).
    """
    digits = mnist.load(*sizes.samples("mnist"))
    start = time.perf_counter()
    members = recipes.train_ensemble(recipe, digits, sizes)
    probabilities = np.stack(
        [member.model.predict(digits.x_test, batch_size=1000, verbose=0) for member in members]
    )
    labels = mnist.labels(digits.y_test)
    test_accuracy = float(np.mean(ensemble.majority_vote(probabilities) == labels))
    notes = recipe.notes_accuracy
    first = members[0]
    row = _row(recipe, sizes.epochs(recipe.epochs))
    row.update(
        status="done",
        test_accuracy=test_accuracy,
        difference=None if notes is None else test_accuracy - notes,
        wall_seconds=sum(member.seconds for member in members),
        epoch_seconds=statistics.median(s for m in members for s in m.epoch_seconds),
        history={name: first.history[name] for name in sorted(first.history)},
        mode=sizes.mode,
        train_samples=sizes.samples("mnist").train,
        test_samples=sizes.samples("mnist").test,
        machine=first.machine or provenance.describe(),  # where the first member was trained
        versions=provenance.report_versions(),
        finished=max(member.finished or "" for member in members) or _now(),
        from_cache=all(member.from_cache for member in members),
        seconds_this_run=time.perf_counter() - start,
        cache_keys=[member.key for member in members],
    )
    if recipe.members > 1:
        row["member_accuracies"] = [
            float(np.mean(p.argmax(axis=1) == labels)) for p in probabilities
        ]
    elif seeds > 1:
        others = [recipes.train(recipe, digits, sizes, seed=seed) for seed in range(1, seeds)]
        row["seed_accuracies"] = [test_accuracy] + [
            training.accuracy(other.model, digits.x_test, digits.y_test) for other in others
        ]
        row["cache_keys"] += [other.key for other in others]
    return row


def rows(results):
    """One row per recipe, in catalogue order: its result if it has one, else 'not yet run'.

    A result for a setting that is no longer the recipe's counts as not yet run.
    """
    known = recipes.RECIPES
    done = {
        row["model"]: row
        for row in results.get("models", [])
        if row["status"] == "done"
        and row["model"] in known
        and row["setting"] == known[row["model"]].setting()
    }
    return [
        done.get(name) or _row(recipe, recipe.epochs) for name, recipe in recipes.RECIPES.items()
    ]


def markdown(results):
    """The results as a Markdown page: a title and what it is, then `table`, then the
    chapters' results (`chapters`) if any chapter has been run."""
    page = HEADER + "\n" + table(results)
    if results.get("chapters"):
        page += "\n" + CHAPTERS_HEADER + "\n" + chapters(results, "### {}")
    return page


def chapters(results, heading="## {}"):
    """The chapters' full-mode results as Markdown, a section per chapter, each headed
    heading.format(its title)."""
    return chapter_results.markdown(results, _describe_machine, _duration, heading)


def table(results, with_machines=True):
    """The results as Markdown: the table, the settings, and (if with_machines) `machines`."""
    done = [row for row in rows(results) if row["status"] == "done"]
    lines = []
    modes = {row["mode"] for row in done} - {"full"}
    if modes:
        lines.append(f"**Some rows were run in {', '.join(sorted(modes))} mode.**\n")
    lines += [
        *_results_table(results, _machines(results)),
        "",
        "The settings (the notes', except the augmentation's ranges, which are the book's):",
        "",
        "| model | setting |",
        "| --- | --- |",
        *(f"| {row['title']} | {row['setting']} |" for row in rows(results)),
        "",
    ]
    lines += [
        _spread(row) for row in done if "member_accuracies" in row or "seed_accuracies" in row
    ]
    if with_machines:
        lines.append(machines(results))
    return "\n".join(lines) + "\n"


def machines(results):
    """Markdown on where the rows ran: the machines (numbered as in `table`), loads, notes."""
    where_run = _machines(results)
    loads = [
        f"{row['title']} {row['machine']['load_average_at_start']:.1f}"
        for row in rows(results)
        if row["status"] == "done" and row["machine"].get("load_average_at_start") is not None
    ]
    lines = []
    if where_run:
        lines += ["Machines and versions:", ""]
        lines += [f"{index}. {where}" for index, where in enumerate(where_run, start=1)]
        lines.append("")
    if loads:
        lines.append(
            "Load average (processes wanting a core) when each run started: "
            f"{', '.join(loads)}. The cores may also have been shared with work outside "
            "this machine's view, such as other virtual machines on the same host."
        )
        lines.append("")
    lines.append(
        "pp: percentage points. Wall time is the time spent training (all members of an "
        "ensemble), validation included, as first measured: a rerun served by the model cache "
        "keeps it. Per epoch: the median epoch. cnnbook: the commit that wrote the row; a "
        "model served by the cache was trained earlier, with the same settings and the same "
        "Keras and backend versions (all part of the cache key)."
    )
    return "\n".join(lines)


def _results_table(results, machines):
    """The Markdown table of results, one row per recipe; machines numbers the 'run on' column."""
    table = [
        "| model | our test accuracy | the notes | difference | epochs | wall time | per epoch "
        "| run on |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows(results):
        notes = row["notes_figure"] or "not reported"
        if row["status"] != "done":
            table.append(f"| {row['title']} | {NOT_RUN} | {notes} | | {row['epochs']} | | | |")
            continue
        difference = "" if row["difference"] is None else f"{100 * row['difference']:+.2f} pp"
        table.append(
            f"| {row['title']} | {100 * row['test_accuracy']:.2f}% | {notes} | {difference} "
            f"| {row['epochs']} | {_duration(row['wall_seconds'])} "
            f"| {row['epoch_seconds']:.1f} s | {machines.index(_describe_machine(row)) + 1} |"
        )
    return table


def read(path=RESULTS):
    """The results file's contents, or an empty result set if there is none yet."""
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else {"models": []}


def write(results, path=RESULTS):
    """Write the results as JSON at path and as Markdown beside it, each atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = {"models": rows(results)}
    if results.get("chapters"):
        table["chapters"] = results["chapters"]
    for target, text in (
        (path, json.dumps(table, indent=1, ensure_ascii=False) + "\n"),
        (path.with_suffix(".md"), markdown(table)),
    ):
        draft = target.with_name(f".{target.name}.{os.getpid()}")
        draft.write_text(text)
        os.replace(draft, target)


def main(argv=None):
    """`cnnbook reproduce`: list the models, or train them and write the results."""
    parser = _parser()
    args = parser.parse_args(argv)
    path = args.output or RESULTS
    if args.seeds < 1:
        parser.error(f"--seeds {args.seeds} should be at least 1")
    if args.mode != "full" and args.output is None:
        parser.error(f"{args.mode}-mode results never go into {RESULTS}; pass --output")
    if args.list:
        for row in rows(read(path)):
            result = f"{100 * row['test_accuracy']:.2f}%" if row["status"] == "done" else NOT_RUN
            print(
                f"{row['model']:<15} {row['title']:<28} {result:>12}   notes: "
                f"{row['notes_figure'] or 'not reported'}"
            )
        return 0
    kept = []
    if args.chapter:
        for name in args.chapter:
            kept += _reproduce_chapter(name, args.mode, path)
        changed = {CHAPTER_ENTRIES, *args.chapter}
    else:
        for name in args.model or list(recipes.RECIPES):
            _reproduce(name, mode.SIZES[args.mode], args.seeds, path)
        changed = {MODEL_ROWS}
    if Path(path).resolve() == RESULTS.resolve():
        pages = toc.chapters(provenance.ROOT, appendix=True)
        stale = [page for page in pages if quoted_parts(page.read_text("utf-8")) & changed]
        executions.forget(provenance.ROOT, stale, kept)
    return 0


def quoted_parts(source):
    """The parts of the report a page's source quotes: MODEL_ROWS (`rows`), CHAPTER_ENTRIES
    (every chapter's, `chapter_results.entries`) and the names of the chapters whose own entry
    it reads (`chapter_results.values("NN_name", ...)` or `beside("NN_name", ...)`). A page
    whose part changed shows the old report until its cached execution is dropped, which
    `main` does after a run."""
    parts = set(re.findall(r"chapter_results\.(?:values|beside)\(\s*[\"'](\w+)[\"']", source))
    if "reproduce.rows(" in source:
        parts.add(MODEL_ROWS)
    if "chapter_results.entries(" in source:
        parts.add(CHAPTER_ENTRIES)
    if not parts and "reproduce.read(" in source:  # read some other way: all of it
        parts = {MODEL_ROWS, CHAPTER_ENTRIES}
    return parts


def _parser():
    """The command line of `cnnbook reproduce`."""
    parser = argparse.ArgumentParser(
        prog="cnnbook reproduce",
        description="Train the notes' MNIST models in full mode, or run chapters 7-13 in full "
        "mode (--chapter), and write the results report.",
    )
    parser.add_argument(
        "--model",
        action="append",
        choices=list(recipes.RECIPES),
        help="train only this model (repeat for more); default: all",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="train each single model with seeds 0 to SEEDS-1 and report each one's accuracy "
        "(default 1; an ensemble's members are seeds already)",
    )
    parser.add_argument(
        "--chapter",
        action="append",
        choices=list(chapter_results.CHAPTERS),
        help="run this chapter and record the results it glues (repeat for more); "
        "no model is trained apart",
    )
    parser.add_argument("--list", action="store_true", help="list the models and their status")
    parser.add_argument(
        "--mode",
        choices=list(mode.SIZES),
        default="full",
        help="sizes to train with (default full; quick needs --output)",
    )
    parser.add_argument("--output", type=Path, help=f"results JSON file (default {RESULTS})")
    return parser


def _reproduce(name, sizes, seeds, path):
    """Train one recipe, put its row into the results at path, and say how it went."""
    recipe = recipes.RECIPES[name]
    print(
        f"{name}: training {recipe.title} for {sizes.epochs(recipe.epochs)} epochs ...", flush=True
    )
    row = run(recipe, sizes, seeds)
    with _locked(path):  # other runs may be writing other models' rows
        results = read(path)
        results["models"] = [r for r in rows(results) if r["model"] != name] + [row]
        write(results, path)
    print(
        f"{name}: {100 * row['test_accuracy']:.2f}% in {_duration(row['wall_seconds'])} "
        f"(notes: {recipe.notes_figure or 'not reported'})",
        flush=True,
    )
    if "seed_accuracies" in row:
        each = ", ".join(f"{100 * accuracy:.2f}%" for accuracy in row["seed_accuracies"])
        print(f"{name}: seeds 0–{seeds - 1}: {each}", flush=True)


def _reproduce_chapter(name, mode_name, path):
    """Run a chapter in mode_name, put what it glues into the results at path, and say so;
    return [(chapter, mode_name)] if the book's cache now holds this run, else []."""
    chapter = chapter_results.FOLDER / f"{name}.md"
    print(f"{name}: running the chapter in {mode_name} mode ...", flush=True)
    reported = mode_name == "full" and Path(path).resolve() == RESULTS.resolve()
    notebook, facts = chapter_results.execute(chapter, mode_name, reported=reported)
    _record_chapter(name, notebook, facts, path)
    outputs = [cell.outputs for cell in notebook.cells if cell.cell_type == "code"]
    remembered = executions.remember(
        chapter, outputs, facts["wall_seconds"], provenance.ROOT, mode_name
    )
    if remembered:
        print(f"{name}: the {mode_name}-mode book will show this run", flush=True)
    print(f"{name}: done in {_duration(facts['wall_seconds'])}", flush=True)
    return [(chapter, mode_name)] if remembered else []


def _record_chapter(name, notebook, facts, path):
    """Put what the executed notebook of chapter name glues, and facts, into the results."""
    entry = chapter_results.record(name, chapter_results.harvest(notebook, name), facts)
    with _locked(path):
        results = read(path)
        others = [e for e in results.get("chapters", []) if e["chapter"] != name]
        results["chapters"] = [
            e
            for e in chapter_results.entries({"chapters": [*others, entry]})
            if e["status"] == "done"
        ]
        write(results, path)


def _locked(path):
    """A lock (in the model cache's folder) held while path is read, changed and written."""
    name = hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:16]
    return cache.lock(f"results-{name}")


def _now():
    """The time now, UTC, ISO 8601 to the second."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _row(recipe, epochs):
    """A results row with what is known before training."""
    return {
        "model": recipe.name,
        "title": recipe.title,
        "setting": recipe.setting(),
        "notes_figure": recipe.notes_figure,
        "notes_accuracy": recipe.notes_accuracy,
        "epochs": epochs,
        "status": NOT_RUN,
        "test_accuracy": None,
    }


def _spread(row):
    """A paragraph on a row run with several seeds: each seed's test accuracy.

    For an ensemble, its members' (each alone) beside the vote's.
    """
    accuracies = row.get("member_accuracies") or row["seed_accuracies"]
    each = ", ".join(f"{100 * accuracy:.2f}%" for accuracy in accuracies)
    seeds = f"seeds 0–{len(accuracies) - 1}"
    span = f"from {100 * min(accuracies):.2f}% to {100 * max(accuracies):.2f}%"
    if "member_accuracies" in row:
        return (
            f"{row['title']}: the {len(accuracies)} members alone ({seeds}) score {each} on the "
            f"test digits, {span}; their majority vote scores "
            f"{100 * row['test_accuracy']:.2f}%.\n"
        )
    return (
        f"{row['title']}, trained with {seeds}: {each} on the test digits, {span}; the table "
        "gives seed 0's.\n"
    )


def _machines(results):
    """The distinct machine lines of the rows that were run, in the order of the rows."""
    where_run = []
    for row in rows(results):
        if row["status"] == "done" and _describe_machine(row) not in where_run:
            where_run.append(_describe_machine(row))
    return where_run


def _describe_machine(row):
    """One line on where a row ran: processor, cores, memory, system and versions."""
    return provenance.machine_line(row["machine"], row["versions"])


def _duration(seconds):
    """Seconds in words: '48 s', '12 min 3 s' or '2 h 5 min'."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


if __name__ == "__main__":
    sys.exit(main())
