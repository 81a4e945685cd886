"""The reproduction report: every model listed, results only where a run produced them."""

import json
import subprocess

import pytest

from cnnbook import mode, recipes, training
from cnnbook.book import provenance, toc
from cnnbook.datasets import mnist
from cnnbook.lab import reproduce


def _results_table(page):
    """The rows of the first Markdown table on page, as lists of cells, header first."""
    start = page.index("\n| ") + 1
    lines = page[start:].split("\n\n")[0].splitlines()
    return [[cell.strip() for cell in line.split("|")[1:-1]] for line in lines]


def test_without_results_every_model_shows_as_not_yet_run():
    header, _, *rows = _results_table(reproduce.markdown({"models": []}))
    assert header[:3] == ["model", "our test accuracy", "the notes"]
    assert len(rows) == len(recipes.RECIPES)
    for cells, recipe in zip(rows, recipes.RECIPES.values(), strict=True):
        assert cells[0] == recipe.title and cells[1] == "not yet run"
        assert cells[2] == (recipe.notes_figure or "not reported")
        assert cells[3] == cells[5] == cells[6] == cells[7] == ""  # nothing measured
        assert cells[4] == str(recipe.epochs)
    assert "%" not in "".join(cells[1] + cells[3] for cells in rows)


def test_a_result_for_another_setting_counts_as_not_yet_run():
    row = {**reproduce._row(recipes.RECIPES["cnn1"], 12), "status": "done", "test_accuracy": 0.99}
    row["setting"] = "ReLU; Adadelta(learning_rate=0.001); batch 100"
    (first, *_) = reproduce.rows({"models": [row]})
    assert first["status"] == "not yet run" and first["test_accuracy"] is None


def test_an_ensemble_row_lists_each_members_accuracy_beside_the_vote():
    recipe = recipes.RECIPES["cnn3-ensemble"]
    row = {
        **reproduce._row(recipe, recipe.epochs),
        "status": "done",
        "mode": "full",
        "test_accuracy": 0.9961,
        "difference": 0.9961 - 0.9967,
        "member_accuracies": [0.9929, 0.9941, 0.9935, 0.9948, 0.9932],
        "wall_seconds": 4000.0,
        "epoch_seconds": 20.0,
        "machine": {"cpu": "a processor", "cores": 2, "system": "Linux", "python": "3.11"},
        "versions": {"keras": "3", "backend": "tensorflow", "tensorflow": "2", "numpy": "2"},
    }
    page = reproduce.markdown({"models": [row]})
    ensemble_row = next(r for r in _results_table(page) if r[0] == recipe.title)
    assert ensemble_row[1:4] == ["99.61%", "99.67%", "-0.06 pp"]
    assert (
        "5 × CNNmodel3: the 5 members alone (seeds 0–4) score 99.29%, 99.41%, 99.35%, 99.48%, "
        "99.32% on the test digits, from 99.29% to 99.48%; their majority vote scores 99.61%."
    ) in page


def test_the_machines_can_be_left_out_of_the_table_and_shown_apart():
    recipe = recipes.RECIPES["cnn1"]
    machine = {"cpu": "a processor", "cores": 2, "system": "Linux", "python": "3.11"}
    row = {
        **reproduce._row(recipe, recipe.epochs),
        "status": "done",
        "mode": "full",
        "test_accuracy": 0.99,
        "difference": 0.99 - 0.9893,
        "wall_seconds": 60.0,
        "epoch_seconds": 5.0,
        "machine": {**machine, "load_average_at_start": 1.5},
        "versions": {"keras": "3", "backend": "tensorflow", "tensorflow": "2", "numpy": "2"},
    }
    results = {"models": [row]}
    short, apart = reproduce.table(results, with_machines=False), reproduce.machines(results)
    assert "a processor" not in short and "Load average" not in short
    assert "1. " in apart and "a processor" in apart and "CNNmodel1 1.5" in apart
    assert reproduce.table(results) == short + apart + "\n"
    assert _results_table("\n" + short)[2][7] == "1"  # the number of its machine, listed apart


def test_quick_results_never_go_into_the_committed_file():
    with pytest.raises(SystemExit):
        reproduce.main(["--mode", "quick", "--model", "cnn1"])


def test_a_quick_run_writes_its_row_with_machine_and_versions(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CNNBOOK_CACHE_DIR", str(tmp_path / "cache"))
    output = tmp_path / "results.json"
    command = ["--mode", "quick", "--model", "cnn1", "--seeds", "2", "--output", str(output)]
    assert reproduce.main(command) == 0
    rows = {row["model"]: row for row in json.loads(output.read_text())["models"]}
    assert list(rows) == list(recipes.RECIPES)
    cnn1 = rows["cnn1"]
    assert cnn1["status"] == "done" and cnn1["mode"] == "quick" and cnn1["epochs"] == 3
    assert 0.9 < cnn1["test_accuracy"] <= 1
    assert cnn1["difference"] == pytest.approx(cnn1["test_accuracy"] - 0.9893)
    assert cnn1["machine"]["cores"] >= 1 and cnn1["versions"]["keras"]
    assert len(cnn1["history"]["val_accuracy"]) == 3
    first, second = cnn1["seed_accuracies"]
    assert first == cnn1["test_accuracy"] and 0.9 < second <= 1
    quick = mode.SIZES["quick"]
    digits = mnist.load(*quick.samples("mnist"))
    seed_1 = recipes.train(recipes.RECIPES["cnn1"], digits, quick, seed=1)  # from the cache
    assert seed_1.from_cache and seed_1.key == cnn1["cache_keys"][1]
    assert second == training.accuracy(seed_1.model, digits.x_test, digits.y_test)
    assert all(row["status"] == "not yet run" for name, row in rows.items() if name != "cnn1")
    page = output.with_suffix(".md").read_text()
    assert "Some rows were run in quick mode" in page
    first = _results_table(page)[2]
    assert first[:5] == [
        "CNNmodel1",
        f"{100 * cnn1['test_accuracy']:.2f}%",
        "98.93%",
        f"{100 * cnn1['difference']:+.2f} pp",
        "3",
    ]
    assert first[7] == "1" and "1. " in page and cnn1["versions"]["keras"] in page
    assert (
        f"CNNmodel1, trained with seeds 0–1: {100 * cnn1['test_accuracy']:.2f}%, "
        f"{100 * second:.2f}% on the test digits"
    ) in page
    reproduce.main(["--list", "--output", str(output)])
    assert f"{100 * cnn1['test_accuracy']:.2f}%" in capsys.readouterr().out


def test_the_committed_results_are_whole_and_in_step():
    results = json.loads(reproduce.RESULTS.read_text())
    assert [row["model"] for row in results["models"]] == list(recipes.RECIPES)
    for row in results["models"]:
        if row["status"] == "done":
            assert row["mode"] == "full" and row["test_samples"] == 10_000
            assert 0 < row["test_accuracy"] <= 1
            assert row["epochs"] == recipes.RECIPES[row["model"]].epochs
            assert row["machine"]["cpu"] and row["versions"]["keras"]
            members = recipes.RECIPES[row["model"]].members
            if members > 1:
                assert len(row["member_accuracies"]) == members
        else:
            assert row["status"] == "not yet run" and row["test_accuracy"] is None
    markdown = reproduce.RESULTS.with_suffix(".md").read_text()
    assert markdown == reproduce.markdown(results)


def test_a_run_makes_the_book_execute_again_only_the_pages_quoting_what_it_changed():
    own = 'full = chapter_results.values("08_folders", reproduce.read())'
    assert reproduce.quoted_parts(own) == {"08_folders"}
    assert reproduce.quoted_parts("rows = reproduce.rows(reproduce.read())") == {
        reproduce.MODEL_ROWS
    }
    everything = {reproduce.MODEL_ROWS, reproduce.CHAPTER_ENTRIES}
    assert reproduce.quoted_parts("results = reproduce.read()") == everything
    assert reproduce.quoted_parts("print(1)") == set()
    # The book's pages: training the MNIST models keeps chapters 7-13's stored runs.
    parts = {
        page.stem: reproduce.quoted_parts(page.read_text())
        for page in toc.chapters(provenance.ROOT, appendix=True)
    }
    after_models = {name for name, quoted in parts.items() if reproduce.MODEL_ROWS in quoted}
    assert after_models == {"04_training", "05_improving", "reproduction"}
    assert parts["reproduction"] >= everything


def test_the_commit_is_marked_changed_by_code_not_by_the_report(tmp_path, monkeypatch):
    def git(*arguments):
        subprocess.run(["git", *arguments], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "reproduction.json").write_text("{}")
    (tmp_path / "training.py").write_text("EPOCHS = 12\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start")
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=tmp_path, capture_output=True, text=True
    ).stdout.strip()
    monkeypatch.setattr(provenance, "ROOT", tmp_path)
    assert provenance.commit() == head
    (tmp_path / "data" / "reproduction.json").write_text('{"models": []}')  # a run's report
    assert provenance.commit() == head
    (tmp_path / "training.py").write_text("EPOCHS = 40\n")
    assert provenance.commit() == head + "+changes"
