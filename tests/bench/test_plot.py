"""benchmarks/plot.py: the bar chart of gen_jax / library ratios from a compare report."""

import importlib.util

import pytest

from tests.conftest import REPO


def _plot_module():
    spec = importlib.util.spec_from_file_location("bench_plot", REPO / "benchmarks" / "plot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REPORT = {
    "date": "2026-11-24T00:00:00+00:00", "environment": {"affinity_cores": 2},
    "results": {
        "w2": {"gen_jax": {"per_second": 60.0}, "flowjax": {"per_second": 75.0},
               "zuko": {"per_second": 20.0}, "normflows": {"error": "ImportError: x"},
               "summary": {"target": 2.0}},
        "w7-prdc": {"gen_jax": {"per_second": 0.2}, "prdc": {"per_second": 0.05},
                    "summary": {"target": 5.0}},
        "w9": {"gen_jax": {"error": "boom"}, "zuko": {"per_second": 1.0}},
    },
}


def test_ratios_are_gen_jax_over_each_timed_library():
    ratios = _plot_module().ratios(REPORT)
    assert ratios == {"w2": {"flowjax": pytest.approx(0.8), "zuko": pytest.approx(3.0)},
                      "w7-prdc": {"prdc": pytest.approx(4.0)}}


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    out = _plot_module().plot(REPORT, tmp_path / "chart.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_report_without_pairs_is_a_clear_error(tmp_path):
    pytest.importorskip("matplotlib")
    with pytest.raises(ValueError, match="no gen_jax / library pair"):
        _plot_module().plot({"results": {"w1": {"gen_jax": {"per_second": 1.0}}}},
                            tmp_path / "x.png")


def test_merge_takes_each_workload_from_the_last_report():
    later = {"date": "x", "environment": {}, "results": {"w7-prdc": {"gen_jax": {"per_second": 1.0},
                                                                      "prdc": {"per_second": 0.5}}}}
    merged = _plot_module().merge([REPORT, later])
    assert _plot_module().ratios(merged)["w7-prdc"] == {"prdc": pytest.approx(2.0)}
    assert "w2" in merged["results"] and merged["date"] == REPORT["date"]
