"""The quick/full switch: one environment variable, read in one place."""

import IPython.lib.pretty
import pytest

from cnnbook import mode
from cnnbook.book import executions


def test_quick_is_the_default(monkeypatch):
    monkeypatch.delenv("CNNBOOK_MODE", raising=False)
    assert mode.current() == "quick"
    assert mode.sizes() is mode.SIZES["quick"]


@pytest.mark.parametrize("value", ["full", "FULL", " full "])
def test_full_mode_is_selected_by_the_variable(monkeypatch, value):
    monkeypatch.setenv("CNNBOOK_MODE", value)
    assert mode.sizes().mode == "full"


def test_unknown_mode_says_what_to_set(monkeypatch):
    monkeypatch.setenv("CNNBOOK_MODE", "fast")
    with pytest.raises(ValueError, match=r"CNNBOOK_MODE='fast' is not a mode; set it to one of"):
        mode.sizes()


def test_full_mode_trains_as_the_notes_and_quick_mode_caps_epochs():
    quick, full = mode.SIZES["quick"], mode.SIZES["full"]
    assert full.samples("mnist") == (60_000, 10_000)
    assert [full.epochs(n) for n in (5, 12, 40)] == [5, 12, 40]
    assert [quick.epochs(n) for n in (1, 12, 40)] == [1, quick.max_epochs, quick.max_epochs]
    assert quick.samples("mnist").train < full.samples("mnist").train


def test_every_mode_sizes_the_same_data_sets():
    quick, full = mode.SIZES["quick"], mode.SIZES["full"]
    assert set(quick.data) == set(full.data)
    for name in full.data:
        assert quick.samples(name).train <= full.samples(name).train
    with pytest.raises(ValueError, match="no sizes for data set 'cifar10'; add it to"):
        quick.samples("cifar10")


def test_each_mode_has_its_own_execution_cache(tmp_path):
    caches = {m: executions.cache_path(tmp_path, m) for m in mode.SIZES}
    assert len(set(caches.values())) == len(caches)
    assert caches["quick"] == tmp_path / "_build" / ".jupyter_cache" / "quick"


@pytest.mark.parametrize("name", sorted(mode.SIZES))
def test_a_notebook_shows_the_sizes_whole_within_the_code_box(name):
    text = IPython.lib.pretty.pretty(mode.SIZES[name])
    assert max(len(line) for line in text.splitlines()) <= 83
    namespace = {k: getattr(mode, k) for k in ("Sizes", "Samples", "Experiment", "Genomics")}
    assert eval(text, namespace) == mode.SIZES[name]


def test_a_page_says_how_much_of_the_data_and_epochs_it_used():
    quick, full = mode.SIZES["quick"], mode.SIZES["full"]
    assert quick.share("mnist", "train") == "the first 10,000 of the 60,000"
    assert quick.share("peptides", "test") == "all 2,376"  # quick mode tests on all of them
    assert full.share("mnist", "train") == "all 60,000"
    assert full.share("mnist", "test") == "all 10,000"
    assert quick.epochs_words(12) == "3 of the notes' 12 epochs"
    assert quick.epochs_words(2) == "the notes' 2 epochs"
    assert full.epochs_words(150, "the example's") == "the example's 150 epochs"
