"""coursekit.figures: chapters record their figures only under `make test`; the quality tests
read them back, and say clearly when a chapter recorded nothing."""

from __future__ import annotations

import pytest

from coursekit import figures, leaderboard


def test_recording_is_off_without_the_variable(monkeypatch, tmp_path):
    monkeypatch.delenv(figures.FIGURES_ENV, raising=False)
    assert figures.record("01_anything", rmse=0.9) is None
    with pytest.raises(RuntimeError, match="make test"):
        figures.load("01_anything")


def test_a_chapter_adds_figures_and_the_tests_read_them(monkeypatch, tmp_path):
    monkeypatch.setenv(figures.FIGURES_ENV, str(tmp_path / "figures"))
    figures.record("03_mf", mf_rmse=0.905)
    figures.record("03_mf", svd_rmse=0.938, reloaded=True)
    assert figures.load("03_mf") == {"mf_rmse": 0.905, "svd_rmse": 0.938, "reloaded": True}
    with pytest.raises(FileNotFoundError, match="did not run to its end"):
        figures.load("04_ncf")


def test_results_say_when_and_by_which_version_they_were_measured():
    results = {"quality": [{"model": "a", "measured_on": "2026-11-23",
                            "coursekit_version": "0.2.0"}, {"model": "b"},
                           {"model": "c", "measured_on": "2026-12-02",
                            "coursekit_version": "0.3.0"}],
               "scale": [{"model": "a"}],
               "machine": {"date": "2026-11-23"}}
    sentence = leaderboard.measured_when(results)
    assert sentence == ("quality: 3 rows, measured 2026-11-23 to 2026-12-02 by coursekit "
                        "0.2.0, 0.3.0 (1 from before the suite dated its rows); scale: 1 row "
                        "(1 from before the suite dated its rows)")
    assert "unstamped" not in sentence
    assert leaderboard.measured_when({}) == "no benchmark rows"
