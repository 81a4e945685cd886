"""The quick/full switch: one environment variable, read in one place."""

import pytest

import cnnbook.mode
import cnnbook.sphinx_extension


def test_quick_is_the_default(monkeypatch):
    monkeypatch.delenv("CNNBOOK_MODE", raising=False)
    assert cnnbook.mode.current() == "quick"
    assert cnnbook.mode.sizes() is cnnbook.mode.MODES["quick"]


@pytest.mark.parametrize("value", ["full", "FULL", " full "])
def test_full_mode_is_selected_by_the_variable(monkeypatch, value):
    monkeypatch.setenv("CNNBOOK_MODE", value)
    assert cnnbook.mode.sizes().mode == "full"


def test_unknown_mode_says_what_to_set(monkeypatch):
    monkeypatch.setenv("CNNBOOK_MODE", "fast")
    with pytest.raises(ValueError, match=r"CNNBOOK_MODE='fast' is not a mode; set it to one of"):
        cnnbook.mode.sizes()


def test_full_mode_trains_as_the_notes_and_quick_mode_caps_epochs():
    quick, full = cnnbook.mode.MODES["quick"], cnnbook.mode.MODES["full"]
    assert full.train_samples == 60_000 and full.test_samples == 10_000
    assert [full.epochs(n) for n in (5, 12, 40)] == [5, 12, 40]
    assert [quick.epochs(n) for n in (1, 12, 40)] == [1, quick.max_epochs, quick.max_epochs]
    assert quick.train_samples < full.train_samples


def test_each_mode_has_its_own_execution_cache(tmp_path):
    outdir = tmp_path / "_build" / "html"
    caches = {
        m: cnnbook.sphinx_extension.execution_cache_path(outdir, m) for m in cnnbook.mode.MODES
    }
    assert len(set(caches.values())) == len(caches)
    assert caches["quick"] == tmp_path / "_build" / ".jupyter_cache" / "quick"
