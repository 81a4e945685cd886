"""Harvesting a chapter's glued values and reporting them: against a tiny chapter of our own."""

import json

import nbformat
import numpy as np
import pytest
from submissions import MYST_HEADER

from cnnbook.lab import chapter_results, reproduce

TINY = (
    MYST_HEADER
    + """
# A tiny chapter

```{code-cell} ipython3
import os

import numpy as np
from myst_nb import glue

glue("mode", os.environ["CNNBOOK_MODE"], display=False)
glue("accuracy", np.float64(0.9327), display=False)
glue("seconds", 754.2, display=False)
glue("samples", 21384)
glue("r", np.float32(0.5), display=False)
glue("r_sd", 0.125, display=False)
```
"""
)

TINY_CHAPTER = chapter_results.Chapter(
    "Chapter 99: a tiny chapter",
    (
        chapter_results.Result("mode", "the mode it ran in", "word"),
        chapter_results.Result(
            "accuracy", "dense network: test accuracy", "percent", source="94.6% (the example)"
        ),
        chapter_results.Result("seconds", "training", "seconds"),
        chapter_results.Result("samples", "training peptides", "count"),
        chapter_results.Result("r", "a correlation", "correlation", spread="r_sd"),
    ),
)


def _glue_output(name, text, hidden=True):
    """A display output as myst_nb's glue(name, value, display=not hidden) writes it."""
    prefix = "application/papermill.record/" if hidden else ""
    return nbformat.v4.new_output(
        "display_data",
        data={f"{prefix}text/plain": text},
        metadata={"scrapbook": {"name": name, "mime_prefix": prefix}},
    )


def test_glued_reads_values_back_from_their_text_form():
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [
        _glue_output("accuracy", "np.float64(0.9327)"),
        _glue_output("word", "'higher'"),
        _glue_output("count", "2000", hidden=False),
        nbformat.v4.new_output("stream", text="not glued\n"),
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# x"), cell])
    assert chapter_results.glued(notebook) == {"accuracy": 0.9327, "word": "higher", "count": 2000}


def test_harvest_names_what_a_chapter_does_not_glue(monkeypatch):
    monkeypatch.setitem(chapter_results.CHAPTERS, "99_tiny", TINY_CHAPTER)
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [_glue_output("accuracy", "0.9")]
    with pytest.raises(ValueError, match="glues no value named mode, seconds, samples, r, r_sd"):
        chapter_results.harvest(nbformat.v4.new_notebook(cells=[cell]), "99_tiny")


def test_a_chapter_without_a_run_shows_as_not_yet_run():
    page = reproduce.chapters({"models": [], "chapters": []})
    for name, chapter in chapter_results.CHAPTERS.items():
        assert f"## {chapter.title}\n\n`cnnbook reproduce --chapter {name}`: not yet run." in page
    assert "%" not in page
    assert chapter_results.values("12_peptides", {"models": []}) == {}


def test_a_run_missing_a_declared_value_counts_as_not_yet_run():
    entry = {"chapter": "12_peptides", "status": "done", "values": {"dense_accuracy": 0.93}}
    (shown,) = [
        e for e in chapter_results.entries({"chapters": [entry]}) if e["chapter"] == "12_peptides"
    ]
    assert shown == {"chapter": "12_peptides", "status": "not yet run"}


def test_a_page_quotes_its_full_mode_run_unless_it_is_that_run():
    values = {"train_samples": 60000, "dense_accuracy": 0.9327}
    entry = {"chapter": "12_peptides", "status": "done", "values": values}
    declared = [
        key
        for result in chapter_results.CHAPTERS["12_peptides"].results
        for key in chapter_results._keys(result)
    ]
    entry["values"] = {key: values.get(key, 0.5) for key in declared}
    results = {"chapters": [entry]}

    def words(full):
        return f"The report's dense network: {full['dense_accuracy']:.2%}."

    quick = {"train_samples": 1000, "dense_accuracy": 0.81}
    assert chapter_results.beside("12_peptides", results, quick, words) == (
        "The report's dense network: 93.27%."
    )
    for same in ({"train_samples": 60000, "dense_accuracy": np.float64(0.9327)}, values):
        assert chapter_results.beside("12_peptides", results, same, words) == (
            "The appendix's full-mode run found these same numbers."
        )
    one_differs = {"train_samples": 60000, "dense_accuracy": 0.9328}
    assert "93.27%" in chapter_results.beside("12_peptides", results, one_differs, words)
    assert chapter_results.beside("12_peptides", {"chapters": []}, values, words) == (
        "This page's full-mode run: not yet run."
    )


def test_a_run_becoming_the_reports_entry_does_not_quote_the_entry_it_replaces(monkeypatch):
    """`reproduce --chapter` executes a chapter before it writes the run's entry."""
    old = {"chapter": "12_peptides", "status": "done", "values": {"dense_accuracy": 0.81}}

    def words(full):
        return f"The report's dense network: {full['dense_accuracy']:.2%}."

    this_run = {"dense_accuracy": 0.9327}
    monkeypatch.setenv(chapter_results.REPRODUCING, "12_peptides")
    for results in ({"chapters": [old]}, {"chapters": []}):
        assert chapter_results.beside("12_peptides", results, this_run, words) == (
            "The appendix's full-mode run found these same numbers."
        )
    monkeypatch.setenv(chapter_results.REPRODUCING, "07_architectures")  # another chapter's run
    assert "not yet run" in chapter_results.beside("12_peptides", {"chapters": []}, {}, words)


def test_a_tiny_chapter_runs_is_harvested_and_reported(tmp_path, monkeypatch, capsys):
    """`cnnbook reproduce --chapter` end to end, in quick mode into a file of the test's own."""
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "99_tiny.md").write_text(TINY)
    monkeypatch.setattr(chapter_results, "FOLDER", tmp_path / "chapters")
    monkeypatch.setitem(chapter_results.CHAPTERS, "99_tiny", TINY_CHAPTER)
    output = tmp_path / "results.json"
    models = reproduce.rows({"models": []})
    command = ["--chapter", "99_tiny", "--mode", "quick", "--output", str(output)]
    assert reproduce.main(command) == 0
    assert "99_tiny: done in" in capsys.readouterr().out
    results = json.loads(output.read_text())
    assert results["models"] == models  # the MNIST rows as they were
    (entry,) = results["chapters"]
    assert entry["values"] == {
        "mode": "quick",
        "accuracy": 0.9327,
        "seconds": 754.2,
        "samples": 21384,
        "r": 0.5,
        "r_sd": 0.125,
    }
    assert entry["mode"] == "quick" and entry["wall_seconds"] > 0
    assert entry["machine"]["cores"] >= 1 and entry["versions"]["keras"]
    page = output.with_suffix(".md").read_text()
    assert page == reproduce.markdown(results)
    section = page[page.index("## Chapter 99: a tiny chapter") :]
    assert "ran the chapter in quick mode in" in section and "load average" in section
    assert [line for line in section.splitlines() if line.startswith("| ")] == [
        "| result | ours | the source |",
        "| --- | --- | --- |",
        "| the mode it ran in | quick |  |",
        "| dense network: test accuracy | 93.27% | 94.6% (the example) |",
        "| training | 12 min 34 s |  |",
        "| training peptides | 21,384 |  |",
        "| a correlation | 0.500 ± 0.125 |  |",
    ]
    # a second run replaces the first, and other chapters' entries stay
    other = {"chapter": "12_peptides", "status": "done", "values": {}}
    output.write_text(json.dumps({**results, "chapters": [other, entry]}))
    assert reproduce.main(command) == 0
    chapters = json.loads(output.read_text())["chapters"]
    assert [e["chapter"] for e in chapters] == ["99_tiny"]  # 12_peptides lacked its values


def test_the_committed_chapter_results_are_full_mode_and_whole():
    results = reproduce.read()
    for entry in results.get("chapters", []):
        assert entry["mode"] == "full" and entry["chapter"] in chapter_results.CHAPTERS
        assert chapter_results.values(entry["chapter"], results) == entry["values"]
