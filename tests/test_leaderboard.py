"""The leaderboard tables, the shipped benchmark results, and the timing helpers."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from benchmarks import suite
from coursekit import leaderboard

TINY = {
    "quality": [
        {"model": "a", "protocol": "RATING", "RMSE": 0.95, "MAE": 0.75, "train_seconds": 1.0},
        {"model": "b", "protocol": "RATING", "RMSE": 0.90, "MAE": 0.71, "train_seconds": 9.0},
        {"model": "b", "protocol": "TOPN", "HR@10": 0.05, "NDCG@10": 0.02,
         "catalog coverage": 0.1, "novelty (bits)": 8.0, "train_seconds": 9.0},
        {"model": "c", "protocol": "RATING", "error": "ValueError: broken"},
    ],
    "scale": [
        {"model": "b", "scale": 1.0, "timed": "1 epoch", "seconds": 10.0,
         "ratings_per_second": 2e6, "peak_rss_gb": 1.5},
        {"model": "b", "scale": 0.05, "timed": "1 epoch", "seconds": 0.5,
         "ratings_per_second": 2e6, "peak_rss_gb": 0.8},
    ],
    "synthetic_data": [{"scale": 0.05, "ratings": 1_000_000}, {"scale": 1.0,
                                                              "ratings": 20_000_000}],
    "chapters": {"a": 2, "b": 3},
}


def test_quality_table_orders_by_the_protocols_metric_and_drops_failed_runs():
    table = leaderboard.quality_table(TINY, "RATING")
    assert list(table.index) == ["b", "a"]  # lower RMSE first
    assert table.loc["b", "chapter"] == 3
    with pytest.raises(ValueError, match="RETRIEVAL"):
        leaderboard.quality_table(TINY, "RETRIEVAL")
    with pytest.raises(ValueError, match="protocol must be one of"):
        leaderboard.quality_table(TINY, "rating")


def test_suite_rows_join_a_chapter_table_with_the_suites_figures():
    import pandas as pd

    table = pd.DataFrame({"RMSE": [0.93, 0.97], "MAE": [0.73, 0.77], "ratings": [20000, 20000]},
                         index=["x", "y"])
    joined = leaderboard.with_suite_rows(table, {"b (suite)": "b", "a (suite)": "a"}, "RATING",
                                         results=TINY)
    assert list(joined.index) == ["x", "y", "b (suite)", "a (suite)"]
    assert joined.loc["b (suite)", "RMSE"] == 0.90 and joined.loc["a (suite)", "MAE"] == 0.75
    assert joined.loc["a (suite)", "ratings"] == 20000 and joined["ratings"].dtype == np.int64
    assert table.shape == (2, 3)  # the chapter's table is left as it was
    with pytest.raises(KeyError, match="no RATING row for \\['c'\\]"):
        leaderboard.with_suite_rows(table, {"c": "c"}, "RATING", results=TINY)


SEEDS = {"seeds": [
    {"model": "net", "protocol": "RATING", "metric": "RMSE",
     "training_seeds": {"mean": 0.92, "sd": 0.01,
                        "by_seed": {"0": 0.91, "1": 0.92, "2": 0.93, "3": 0.91, "4": 0.93}},
     "split_seeds": {"mean": 0.925, "sd": 0.02, "by_seed": {"42": 0.91, "7": 0.94, "11": 0.925}}},
    {"model": "biases", "protocol": "RATING", "metric": "RMSE",
     "split_seeds": {"mean": 0.95, "sd": 0.01, "by_seed": {"42": 0.94, "7": 0.96, "11": 0.95}}},
    {"model": "broken", "error": "ValueError: no"},
]}


def test_seeds_table_gives_each_models_spread_over_seeds_and_splits():
    table = leaderboard.seeds_table(SEEDS)
    assert list(table.index) == ["net", "biases"]  # a failed run is left out
    assert table.loc["net", "training seeds: n"] == 5
    assert table.loc["net", "training seeds: range"] == pytest.approx(0.02)
    assert table.loc["biases", "split seeds: sd"] == 0.01
    assert np.isnan(table.loc["biases", "training seeds: sd"])  # deterministic: no seeds


def test_seed_sentence_places_a_run_among_the_seeds():
    inside = leaderboard.seed_sentence(SEEDS, "net", 0.925)
    assert "over 5 training seeds, mean 0.9200, sd 0.0100 (0.9100 to 0.9300)" in inside
    assert "over 3 splits" in inside
    assert "0.9250, is within the training seeds' range, +0.5 sd from their mean" in inside
    assert "is outside the training seeds' range, -3.0 sd" in leaderboard.seed_sentence(
        SEEDS, "net", 0.89)
    assert "This chapter's run" not in leaderboard.seed_sentence(SEEDS, "biases", 0.95)
    with pytest.raises(KeyError, match="--part seeds --models 'broken'"):
        leaderboard.seed_sentence(SEEDS, "broken")


def test_shipped_seed_rows_have_five_training_seeds_and_three_splits():
    """Every model the suite's seeds part measures has its row, with at least five training
    seeds where training draws random numbers, and three splits on RATING."""
    rows = {r["model"]: r for r in leaderboard.load_results().get("seeds", [])}
    missing = sorted(set(suite.seed_models()) - set(rows))
    assert not missing, f"no seed row (python -m benchmarks.suite --part seeds): {missing}"
    for name, row in rows.items():
        assert "error" not in row, row
        if name not in suite.DETERMINISTIC:
            assert len(row["training_seeds"]["by_seed"]) >= 5, name
        if row["protocol"] == "RATING":
            assert len(row["split_seeds"]["by_seed"]) >= 3, name


def test_scale_table_orders_by_size_in_millions_of_ratings():
    table = leaderboard.scale_table(TINY)
    assert table["ratings (M)"].tolist() == [1.0, 20.0]
    skipped = {**TINY, "scale": TINY["scale"] + [
        {"model": "c", "scale": 1.0, "skipped": "too slow at this size"}]}
    table = leaderboard.scale_table(skipped)
    assert table["skipped"].tolist() == ["", "", "too slow at this size"]  # no NaN


def test_missing_results_say_how_to_measure_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="benchmarks.suite"):
        leaderboard.load_results(tmp_path / "none.json")


def test_shipped_results_cover_every_model_on_its_protocols_and_scales():
    results = leaderboard.load_results()
    measured = {(r["model"], r["protocol"]) for r in results["quality"] if "error" not in r}
    expected = {(m, p) for m, protocols in suite.quality_models().items() for p in protocols}
    assert expected <= measured, f"never measured: {sorted(expected - measured)}"
    assert measured <= expected, f"stale rows of no registered model: {sorted(measured - expected)}"
    at_scale = {(r["model"], r["scale"]) for r in results["scale"]
                if "error" not in r and "skipped" not in r}
    expected = {(m, s) for m in suite.SCALE for s in suite.SCALES
                if (m, s) not in suite.NOT_AT_SCALE}
    assert expected <= at_scale, sorted(expected - at_scale)
    json.dumps(results)  # plain data, nothing else
    # every quality row has its units' answers beside it, measured on the same test part
    with np.load(leaderboard.UNITS) as units:
        kept = {tuple(key.split("/", 1)[::-1]) for key in units.files if "#" not in key}
    assert kept == measured, f"rows without answers: {sorted(measured - kept)}; answers " \
                             f"without a row: {sorted(kept - measured)}"


@pytest.mark.parametrize("protocol, model_name", [
    ("RATING", "user + item biases"), ("TOPN", "most popular"), ("RETRIEVAL", "most popular")])
def test_kept_unit_answers_give_back_the_figures_and_intervals(tmp_path, protocol, model_name):
    from coursekit.evaluation import evaluate, intervals
    from coursekit.models.checks import contract_split
    from coursekit.models.registry import make_model

    split = contract_split()
    model = make_model(model_name).fit(split)
    path = tmp_path / "units.npz"
    leaderboard.save_unit_answers(leaderboard.unit_answers("m", model, split, protocol), path)
    leaderboard.save_unit_answers(leaderboard.unit_answers("other", model, split, protocol),
                                  path)  # a second model is added, the first kept
    with warnings.catch_warnings():  # a few of this split's users have no test row
        warnings.simplefilter("ignore")
        units = leaderboard.suite_units("m", protocol, split, path)
        direct = intervals.protocol_units(model, split, protocol)
    figures = evaluate(model, split, protocol)
    for metric in intervals.metrics_in(direct):
        assert intervals.aggregate(units, metric) == pytest.approx(
            intervals.aggregate(direct, metric), abs=1e-6), metric
        if metric in figures and metric not in ("novelty (bits)", "catalog coverage"):
            assert intervals.aggregate(units, metric) == pytest.approx(figures[metric], abs=1e-6)
    paired = intervals.compare(units, leaderboard.suite_units("other", protocol, split, path),
                               intervals.metrics_in(direct)[0])
    assert paired.verdict == "level" and paired.difference == 0


def test_unit_answers_are_read_back_only_onto_their_own_test_part(tmp_path):
    from coursekit.models.checks import contract_split
    from coursekit.models.registry import make_model

    split, other = contract_split(0), contract_split(1)
    path = tmp_path / "units.npz"
    model = make_model("user + item biases").fit(split)
    leaderboard.save_unit_answers(leaderboard.unit_answers("m", model, split, "RATING"), path)
    with pytest.raises(ValueError, match="not the one the suite measured 'm' on"):
        leaderboard.suite_units("m", "RATING", other, path)
    with pytest.raises(KeyError, match=r"no TOPN answers for 'm'.*\[\]"):
        leaderboard.suite_units("m", "TOPN", split, path)
    with pytest.raises(KeyError, match=r"no RATING answers for 'x'.*\['m'\]"):
        leaderboard.suite_units("x", "RATING", split, path)
    with pytest.raises(FileNotFoundError, match="benchmarks.suite --part quality"):
        leaderboard.suite_units("m", "RATING", split, tmp_path / "none.npz")


def test_the_fast_trainer_meets_its_speed_targets_in_the_shipped_results():
    scale = leaderboard.scale_table(leaderboard.load_results()).set_index(["model", "ratings (M)"])
    largest = scale.index.get_level_values(1).max()
    fast = scale.loc[("matrix factorization (fast)", largest), "ratings_per_second"]
    plain = scale.loc[("matrix factorization", largest), "ratings_per_second"]
    assert fast >= 3e6 and fast >= 15 * plain


def test_epoch_timer_extrapolates_from_a_fixed_number_of_batches(ml100k):
    from coursekit import data as ckd
    from coursekit.models import MatrixFactorization
    from coursekit.scaling import EpochTimer

    split = ckd.rating_protocol(ml100k)
    timer = EpochTimer(warmup=5, max_batches=20)
    model = MatrixFactorization(n_factors=8, epochs=3, refit=False, batch_size=256,
                                callbacks=[timer], seed=0).fit(split)
    assert timer.extrapolated and len(timer.seconds) == 1  # stopped inside the first epoch
    assert timer.batches_per_epoch == int(np.ceil(0.9 * len(split.train) / 256))
    assert len(model.history_) == 1 and timer.seconds[0] > 0


def test_epoch_timer_leaves_the_warm_up_batches_out_of_the_steady_time(monkeypatch):
    from coursekit import scaling

    clock = iter(np.cumsum([0.0] + [5.0] * 2 + [1.0] * 8 + [0.0]))  # slow first batches
    now = {"t": 0.0}
    monkeypatch.setattr(scaling.time, "perf_counter", lambda: now["t"])
    timer = scaling.EpochTimer(warmup=2)
    now["t"] = next(clock)
    timer.on_epoch_begin(0)
    for batch in range(10):
        timer.on_train_batch_begin(batch)
        now["t"] = next(clock)
        timer.on_train_batch_end(batch)
    timer.on_epoch_end(0)
    assert timer.seconds == [18.0]  # two batches of 5 s, eight of 1 s
    assert timer.steady_seconds == [10.0]  # ten batches at the steady 1 s each


def test_profile_train_step_splits_a_step_into_its_parts():
    import keras

    from coursekit.models.rating.mf import MatrixFactorizationNet
    from coursekit.scaling import profile_train_step

    network = MatrixFactorizationNet(50, 40, 4, 0.03, (0.0, 5.5), 3.5)
    network.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    x = np.stack([np.arange(16) % 50, np.arange(16) % 40], 1).astype("int32")
    parts = profile_train_step(network, x, np.full(16, 4.0, "float32"), repeats=3)
    assert set(parts) == {"forward + gradients", "optimizer update", "Keras overhead",
                          "whole step"}
    assert all(v >= 0 for v in parts.values()) and parts["optimizer update"] > 0


def test_a_run_is_read_again_at_its_seeds_mean():
    from coursekit.evaluation.intervals import Comparison

    results = {"seeds": [{"model": "a", "training_seeds": {"mean": 0.91}},
                         {"model": "b", "training_seeds": {"mean": 0.90}}]}
    # a's run (0.905) is level with b's (0.904); a's seeds average 0.005 worse than this run
    run = Comparison(difference=0.001, low=-0.003, high=0.005, verdict="level", metric="RMSE",
                     lower_is_better=True)
    alone = leaderboard.at_seed_mean(results, "a", 0.905, run, "b")
    assert "a is behind b by 0.0060 RMSE" in alone and "0.9100" in alone
    # with b at its own mean too (0.004 worse than its run), the two are level again
    both = leaderboard.at_seed_mean(results, "a", 0.905, run, "b", other_figure=0.896)
    assert "a and b are level" in both
    with pytest.raises(KeyError, match="no training-seed row for 'c'"):
        leaderboard.at_seed_mean(results, "c", 0.9, run, "b")
