"""The training-speed benchmark: its report, and that its PyTorch models are the same recipes."""

import collections

import pytest

from cnnbook.lab import bench


def _way(median, first=2.0):
    return {
        "median": median,
        "fastest": median - 1,
        "first_epoch": first,
        "setup_peak": 2**29,
        "peak": 2**30,
        "epochs": [median + 1, median - 1, median],
    }


def test_the_report_gives_medians_ratios_and_memory():
    results = {"cnn1": {"book": _way(5.0), "keras": _way(5.0), "pytorch": _way(8.0)}}
    text = bench.report(results, rounds=3)
    assert "| cnn1 | 5.00 s (2.00 s) | 5.00 s (2.00 s) | 8.00 s (2.00 s) | 1.000 | 0.625 |" in text
    assert "| cnn1 | 4.00 s | 4.00 s | 7.00 s | 1.000 | 0.571 |" in text
    assert "| cnn1 | 512 → 1024 | 512 → 1024 | 512 → 1024 |" in text
    assert "- cnn1, PyTorch: 9.00 7.00 8.00" in text


def test_without_pytorch_its_ratio_is_left_out():
    text = bench.report({"cnn2": {"book": _way(4.0), "keras": _way(5.0)}}, rounds=1)
    assert "| 0.800 | n/a |" in text and "| 0.750 | n/a |" in text


@pytest.mark.parametrize("name, parameters", [("cnn1", 289_630), ("cnn2", 85_670)])
def test_the_pytorch_models_have_the_notes_parameter_counts(name, parameters, monkeypatch):
    torch = pytest.importorskip("torch")
    captured = {}
    monkeypatch.setattr(
        torch.optim, "Adadelta", lambda params, **kw: captured.setdefault("p", list(params))
    )
    bench._pytorch(name)
    assert sum(p.numel() for p in captured["p"]) == parameters


def test_every_two_rounds_each_way_follows_each_other_way_once():
    order = bench.orders(["book", "keras", "pytorch"], rounds=6)
    ways = ["book", "keras", "pytorch"]
    assert [sorted(order[i : i + 3]) for i in range(0, 18, 3)] == [ways] * 6
    followers = collections.Counter(zip(order, order[1:], strict=False))
    assert set(followers) == {(a, b) for a in order for b in order if a != b}
    fewer = {pair: count for pair, count in followers.items() if count != 3}
    assert fewer == {("keras", "book"): 2}  # rounds 2-3 and 4-5; 6-7 would make it 3
