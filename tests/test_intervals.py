"""Bootstrap intervals and paired comparisons (coursekit.intervals): closed forms on large
samples, exact agreement of the per-unit frames with the metrics, planted gaps, pairing,
clusters and the level groups of a leaderboard."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from coursekit.data.splits import leave_last_out_split, random_split
from coursekit.evaluation import evaluate, metrics
from coursekit.evaluation import intervals as ci
from coursekit.models import BiasBaseline, MostPopular


def lists(rows: dict[int, list[int]]) -> pd.DataFrame:
    return pd.DataFrame([(u, i, r + 1, 10.0 - r) for u, items in rows.items()
                         for r, i in enumerate(items)], columns=["user", "item", "rank", "score"])


def error_units(errors: np.ndarray) -> pd.DataFrame:
    return ci.rating_units(np.zeros(errors.size), errors)


@pytest.fixture(scope="module")
def ratings() -> pd.DataFrame:
    """A small seeded ratings table: 60 users, 80 items, 25 ratings each, with timestamps."""
    rng = np.random.default_rng(7)
    n_users, n_items, per_user = 60, 80, 25
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    popularity /= popularity.sum()
    user_bias, item_bias = rng.normal(0, 0.5, n_users), rng.normal(0, 0.7, n_items)
    rows = []
    for u in range(n_users):
        items = rng.choice(n_items, per_user, replace=False, p=popularity)
        score = 3.5 + user_bias[u] + item_bias[items] + rng.normal(0, 0.8, per_user)
        stamps = 1_000_000 + np.sort(rng.choice(10**6, per_user, replace=False))
        rows += [(u + 1, int(i) + 1, float(np.clip(np.round(s), 1, 5)), int(t))
                 for i, s, t in zip(items, score, stamps, strict=True)]
    return pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])


# --- closed forms -----------------------------------------------------------------------


def test_interval_of_a_mean_matches_the_normal_theory_on_a_large_sample():
    x = np.random.default_rng(1).normal(3.0, 2.0, 50_000)
    iv = ci.interval(pd.DataFrame({"score": x}), "score", n_boot=2000)
    half = 1.96 * x.std(ddof=1) / np.sqrt(x.size)
    assert iv.estimate == pytest.approx(x.mean(), abs=1e-12)
    assert iv.low == pytest.approx(x.mean() - half, abs=0.05 * 2 * half)
    assert iv.high == pytest.approx(x.mean() + half, abs=0.05 * 2 * half)
    assert iv.width == pytest.approx(2 * half, rel=0.05)


def test_interval_of_a_proportion_matches_the_normal_theory():
    hits = (np.random.default_rng(2).random(50_000) < 0.3).astype(int)
    iv = ci.interval(pd.DataFrame({"HR@10": hits}), "HR@10", n_boot=2000, level=0.9)
    p = hits.mean()
    half = 1.6449 * np.sqrt(p * (1 - p) / hits.size)
    assert iv.level == 0.9
    assert iv.low == pytest.approx(p - half, abs=0.05 * 2 * half)
    assert iv.high == pytest.approx(p + half, abs=0.05 * 2 * half)


def test_rmse_interval_holds_the_estimate_and_narrows_with_more_ratings():
    rng = np.random.default_rng(3)
    small = ci.interval(error_units(rng.normal(0, 1, 500)), "RMSE", n_boot=500)
    large = ci.interval(error_units(rng.normal(0, 1, 20_000)), "RMSE", n_boot=500)
    assert small.contains(small.estimate) and large.contains(large.estimate)
    assert large.width < small.width / 4  # about sqrt(40) narrower


# --- the per-unit frames reproduce the metrics ------------------------------------------


def test_rating_units_aggregate_to_rmse_and_mae():
    rng = np.random.default_rng(4)
    actual = rng.integers(1, 6, 1000).astype(float)
    predicted = actual + rng.normal(0, 0.9, actual.size)
    units = ci.rating_units(actual, predicted)
    assert list(units.columns) == ["squared error", "absolute error"]
    assert abs(ci.aggregate(units, "RMSE") - metrics.rmse(actual, predicted)) < 1e-12
    assert abs(ci.aggregate(units, "MAE") - metrics.mae(actual, predicted)) < 1e-12
    assert ci.interval(units, "RMSE", n_boot=50).estimate == ci.aggregate(units, "RMSE")


def _planted_topn():
    """Uneven lists (lengths 5, 2, 4, 0) cut at k=3, a user with two held-out films, a test
    user without a list, and an item never rated in training."""
    top = lists({1: [10, 20, 30, 40, 50], 2: [20, 60], 3: [70, 10, 99, 20]})
    held_out = pd.DataFrame({"user": [1, 2, 2, 3, 4], "item": [30, 60, 10, 20, 10],
                             "rating": [5.0, 4.0, 2.0, 3.0, 4.0]})
    train = pd.DataFrame({"user": [1, 1, 2, 2, 3, 3, 4, 4, 5, 1],
                          "item": [10, 20, 10, 30, 10, 40, 50, 60, 70, 70],
                          "rating": 3.0})
    return top, SimpleNamespace(train=train, test=held_out, validation=None, n_items=12)


def test_topn_units_aggregate_to_the_top_n_metrics():
    top, split = _planted_topn()
    k = 3
    units = ci.topn_units(top, split, k=k)
    head = top[top["rank"] <= k]
    assert list(units.index) == [1, 2, 3, 4] and units.index.name == "user"
    assert units["held-out items"].tolist() == [1, 2, 1, 1]
    assert units["list length"].tolist() == [3, 2, 3, 0]
    expected = {
        "HR@3": metrics.hit_rate(split.test, head),
        "NDCG@3": metrics.ndcg_at_k(split.test, top, k),
        "novelty (bits)": metrics.novelty_self_information(head, split.train),
        "catalog coverage": metrics.catalog_coverage(head, split.n_items),
    }
    for metric, value in expected.items():
        assert abs(ci.aggregate(units, metric) - value) < 1e-12, metric
    assert ci.metrics_in(units) == ["HR@3", "NDCG@3", "catalog coverage", "novelty (bits)"]
    # the weights matter: plain means over users would give other figures
    assert units["HR@3"].mean() != pytest.approx(expected["HR@3"])
    assert units["novelty (bits)"].mean() != pytest.approx(expected["novelty (bits)"])
    # a user without a list has no novelty, and weighs nothing
    assert np.isnan(units.loc[4, "novelty (bits)"])
    assert np.isfinite(ci.interval(units, "novelty (bits)", n_boot=200).low)


def test_topn_units_warn_when_the_lists_cover_users_without_a_test_rating():
    top, split = _planted_topn()
    top = pd.concat([top, lists({9: [11, 12]})], ignore_index=True)
    with pytest.warns(UserWarning, match="without a held-out rating"):
        units = ci.topn_units(top, split, k=3)
    assert 9 not in units.index


def test_retrieval_units_aggregate_to_top_k_accuracy():
    top = lists({1: [1, 2, 3, 4, 5, 6], 2: [6, 5, 4, 3, 2, 1]})
    pairs = pd.DataFrame({"user": [1, 1, 1, 2, 2, 3], "item": [1, 5, 9, 6, 2, 1]})
    units = ci.retrieval_units(pairs, top, ks=(1, 2, 5))
    assert list(units.columns) == ["user", "item", "top-1", "top-2", "top-5"]
    assert units.attrs["cluster"] == "user"
    for name, value in metrics.top_k_accuracy(pairs, top, (1, 2, 5)).items():
        assert abs(ci.aggregate(units, name) - value) < 1e-12, name
    assert units["top-5"].tolist() == [1, 1, 0, 1, 1, 0]


def test_protocol_units_reproduce_evaluate_on_every_protocol(ratings):
    random = random_split(ratings, 0.2, seed=1)
    last = leave_last_out_split(ratings)
    cases = [(BiasBaseline(), random, "RATING", ("RMSE", "MAE")),
             (BiasBaseline(), last, "TOPN",
              ("HR@10", "NDCG@10", "catalog coverage", "novelty (bits)")),
             (MostPopular(), last, "TOPN", ("HR@10", "NDCG@10", "catalog coverage")),
             (BiasBaseline(), random, "RETRIEVAL",
              ("top-1", "top-5", "top-10", "top-50", "top-100"))]
    for model, split, protocol, names in cases:
        model.fit(split)
        figures = evaluate(model, split, protocol)
        units = ci.protocol_units(model, split, protocol)
        for name in names:
            assert abs(ci.aggregate(units, name) - figures[name]) < 1e-12, (protocol, name)
    assert ci.protocol_units(model, random, "RATING")[["user", "item"]].equals(
        random.test[["user", "item"]])
    with pytest.raises(ValueError, match="'RATING', 'TOPN' or 'RETRIEVAL'"):
        ci.protocol_units(model, random, "TOP-N")


# --- paired comparisons -----------------------------------------------------------------


def test_identical_models_are_level_with_a_zero_width_difference():
    units = error_units(np.random.default_rng(5).normal(0, 1, 2000))
    for metric in ("RMSE", "MAE"):
        c = ci.compare(units, units.copy(), metric, n_boot=300)
        assert (c.difference, c.low, c.high, c.verdict) == (0.0, 0.0, 0.0, "level")
        assert "are level" in c.sentence("A", "B") and "holds zero" in c.sentence("A", "B")


def test_a_planted_gap_is_found_in_the_right_direction():
    rng = np.random.default_rng(6)
    errors = rng.normal(0, 1, 5000)
    good, bad = error_units(errors), error_units(errors + np.sign(errors) * 0.3)
    for metric in ("RMSE", "MAE"):
        ahead = ci.compare(good, bad, metric, n_boot=300)
        assert ahead.verdict == "ahead" and ahead.lower_is_better
        assert ahead.difference < 0 and ahead.high < 0
        assert ci.compare(bad, good, metric, n_boot=300).verdict == "behind"
    # higher is better: model a hits everything b hits, and 10% of b's misses
    hits_b = (rng.random(5000) < 0.4).astype(int)
    hits_a = np.where((hits_b == 0) & (rng.random(5000) < 0.1), 1, hits_b)
    a, b = pd.DataFrame({"HR@10": hits_a}), pd.DataFrame({"HR@10": hits_b})
    ahead = ci.compare(a, b, "HR@10", n_boot=300)
    assert ahead.verdict == "ahead" and not ahead.lower_is_better and ahead.low > 0
    assert ci.compare(b, a, "HR@10", n_boot=300).verdict == "behind"
    # told that lower is better, the same gap reads the other way
    assert ci.compare(a, b, "HR@10", lower_is_better=True, n_boot=300).verdict == "behind"


def test_sentences_read_as_plain_english():
    ahead = ci.Comparison(-0.0352, -0.0415, -0.0290, "ahead", "RMSE", 0.95, True)
    assert ahead.sentence("MF", "the biases") == (
        "MF is ahead of the biases by 0.0352 RMSE (95% interval 0.0290 to 0.0415)")
    behind = ci.Comparison(-0.031, -0.05, -0.012, "behind", "HR@10", 0.9, False)
    assert behind.sentence("NCF", "MF", decimals=3) == (
        "NCF is behind MF by 0.031 HR@10 (90% interval 0.012 to 0.050)")
    level = ci.Comparison(0.0042, -0.0081, 0.0165, "level", "HR@10")
    assert level.sentence("MF", "NCF") == (
        "MF and NCF are level: the difference in HR@10, 0.0042, has a 95% interval from "
        "-0.0081 to 0.0165, which holds zero")
    # an interval clear of zero keeps the decimals that show it clear of zero
    barely = ci.Comparison(-0.0003, -0.00061, -0.00002, "behind", "top-100")
    assert barely.sentence("a", "b") == (
        "a is behind b by 0.00030 top-100 (95% interval 0.00002 to 0.00061)")


def test_pairing_narrows_the_interval_when_the_models_agree():
    rng = np.random.default_rng(8)
    hard = rng.normal(0, 1, 4000)  # what both models get wrong
    a = error_units(hard + rng.normal(0, 0.05, hard.size))
    b = error_units(hard + rng.normal(0, 0.05, hard.size))
    paired = ci.compare(a, b, "RMSE", n_boot=400)
    unpaired = ci.unpaired_interval(a, b, "RMSE", n_boot=400)
    assert not unpaired.paired and unpaired.difference == paired.difference
    assert paired.high - paired.low < 0.2 * (unpaired.high - unpaired.low)


def test_the_same_seed_gives_the_same_intervals():
    units = error_units(np.random.default_rng(9).normal(0, 1, 3000))
    other = error_units(np.random.default_rng(10).normal(0, 1.02, 3000))
    assert ci.interval(units, "RMSE", seed=3) == ci.interval(units, "RMSE", seed=3)
    assert ci.interval(units, "RMSE", seed=3) != ci.interval(units, "RMSE", seed=4)
    assert ci.compare(units, other, "MAE", seed=3) == ci.compare(units, other, "MAE", seed=3)


def test_misaligned_units_raise_a_helpful_error():
    rng = np.random.default_rng(11)
    test = pd.DataFrame({"user": np.repeat([1, 2, 3], 4), "item": np.tile([5, 6, 7, 8], 3)})
    a = ci.rating_units(rng.random(12), rng.random(12), ids=test)
    b = ci.rating_units(rng.random(12), rng.random(12), ids=test)
    with pytest.raises(ValueError, match="12 rows and units_b 11.*same test units"):
        ci.compare(a, b.iloc[:11], "RMSE")
    with pytest.raises(ValueError, match="different order.*units_b.loc\\[units_a.index\\]"):
        ci.compare(a, b.iloc[::-1], "RMSE")
    with pytest.raises(ValueError, match="indexes differ at 12 of 12 positions"):
        ci.compare(a, b.set_axis(range(100, 112)), "RMSE")
    moved = b.assign(item=b["item"].where(b.index != 2, 99))
    with pytest.raises(ValueError, match="'item' columns differ in 1 of 12 rows.*7 vs 99"):
        ci.compare(a, moved, "RMSE")
    # unpaired needs no alignment
    assert ci.compare(a, b.iloc[:11], "RMSE", paired=False, n_boot=50).verdict in (
        "ahead", "level", "behind")


def test_the_cluster_bootstrap_is_wider_when_rows_of_a_cluster_are_correlated():
    rng = np.random.default_rng(12)
    users = np.repeat(np.arange(200), 20)
    score = rng.normal(0, 1, 200)[users] + rng.normal(0, 0.3, users.size)
    units = pd.DataFrame({"user": users, "score": score})
    rows = ci.interval(units, "score", n_boot=500)
    clusters = ci.interval(units, "score", n_boot=500, cluster="user")
    assert clusters.estimate == pytest.approx(rows.estimate, abs=1e-12)
    assert clusters.width > 3 * rows.width  # design effect ~ sqrt(1 + 19 * 0.92)


def test_retrieval_units_resample_users_by_default():
    rng = np.random.default_rng(13)
    users = np.repeat(np.arange(100), 10)
    good_user = rng.random(100) < 0.5
    top = lists({u: [u * 100 + j for j in range(5)] for u in range(100)})
    items = np.where(good_user[users], users * 100 + rng.integers(0, 5, users.size), -1)
    units = ci.retrieval_units(pd.DataFrame({"user": users, "item": items}), top, ks=(5,))
    default = ci.interval(units, "top-5", n_boot=300)
    assert default == ci.interval(units, "top-5", n_boot=300, cluster="user")
    assert default.width > 2 * ci.interval(units, "top-5", n_boot=300, cluster=False).width


def test_coverage_intervals_resample_users_lists():
    same = lists({u: [1, 2, 3] for u in range(1, 21)})
    split = SimpleNamespace(train=same.assign(rating=3.0), n_items=10,
                            test=pd.DataFrame({"user": range(1, 21), "item": 1}))
    everyone = ci.topn_units(same, split, k=3)
    iv = ci.interval(everyone, "catalog coverage", n_boot=200)
    assert (iv.estimate, iv.low, iv.high) == (0.3, 0.3, 0.3)  # every resample covers 1, 2, 3
    own = lists({u: [u, u + 20] for u in range(1, 21)})
    split.n_items = 40
    personal = ci.topn_units(own, split, k=3)
    iv = ci.interval(personal, "catalog coverage", n_boot=400)
    # every resample misses some users' films (about 37% of them), yet the interval, centred
    # on the estimate, holds it
    assert iv.estimate == 1.0 and iv.low < 0.9 and iv.high == 1.0
    c = ci.compare(everyone.assign(**{"catalog size": 40}), personal, "catalog coverage",
                   n_boot=200)
    assert c.verdict == "behind" and c.difference == pytest.approx(3 / 40 - 1)
    with pytest.raises(ValueError, match="catalog coverage needs each user's list"):
        ci.interval(error_units(np.ones(5)), "catalog coverage")


# --- leaderboards -----------------------------------------------------------------------


def _four_models() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(14)
    errors = rng.normal(0, 1, 4000)
    shuffled = rng.permutation(errors)
    return {"C": error_units(errors + np.sign(errors) * 0.4),  # clearly worse
            "A": error_units(errors), "B": error_units(shuffled),  # the same RMSE
            "D": error_units(rng.permutation(errors + np.sign(errors) * 0.4))}


def test_level_groups_group_equal_models_and_separate_a_worse_one():
    groups = ci.level_groups(_four_models(), "RMSE", n_boot=300)
    assert list(groups.columns) == ["RMSE", "group", "leader", "difference", "low", "high"]
    assert groups["group"].to_dict() == {"A": 1, "B": 1, "C": 2, "D": 2}
    assert groups.loc["B", "leader"] == "A" and groups.loc["D", "leader"] == "C"


def test_compare_all_against_the_best_and_a_chosen_reference():
    units = _four_models()
    table = ci.compare_all(units, "RMSE", n_boot=300)
    assert table.attrs["reference"] == "A" and table.index[0] == "A"
    assert table["verdict"].to_dict() == {"A": "reference", "B": "level", "C": "behind",
                                          "D": "behind"}
    against_c = ci.compare_all(units, "RMSE", reference="C", n_boot=300)
    assert against_c.loc["A", "verdict"] == "ahead" and against_c.loc["D", "verdict"] == "level"
    with pytest.raises(ValueError, match="reference 'E' is not one of the models"):
        ci.compare_all(units, "RMSE", reference="E")


def test_table_with_intervals_and_its_formatting():
    units = {name: frame for name, frame in _four_models().items() if name in "AC"}
    table = ci.table_with_intervals(units, n_boot=200)
    assert list(table.columns) == ["RMSE", "RMSE low", "RMSE high", "MAE", "MAE low",
                                   "MAE high"]
    assert table.loc["A", "RMSE"] == ci.aggregate(units["A"], "RMSE")
    assert (table["RMSE low"] < table["RMSE"]).all() and (table["RMSE"] < table["RMSE high"]).all()
    shown = ci.format_table(table, decimals=3)
    assert list(shown.columns) == ["RMSE", "MAE"]
    assert shown.loc["A", "RMSE"].count("±") == 1
    assert shown.loc["A", "RMSE"] == ci.Interval(*table.loc["A", ["RMSE", "RMSE low",
                                                                  "RMSE high"]]).format(3, "pm")
    brackets = ci.format_table(table, decimals={"RMSE": 2}, style="interval")
    assert brackets.loc["C", "RMSE"].count("[") == 1 and len(brackets.loc["C", "MAE"]) > len(
        brackets.loc["C", "RMSE"])


def test_interval_formatting():
    iv = ci.Interval(0.90581, 0.89899, 0.91271)
    assert str(iv) == "0.9058 [0.8990, 0.9127]"
    assert iv.format(3) == "0.906 [0.899, 0.913]"
    assert iv.format(4, "pm") == "0.9058 ± 0.0069"
    assert f"{iv:.2f}" == "0.91 [0.90, 0.91]"
    assert ci.Interval(-0.00001, -0.0002, 0.0001).format(3) == "0.000 [0.000, 0.000]"


# --- errors -----------------------------------------------------------------------------


def test_bad_arguments_get_clear_errors():
    units = error_units(np.ones(10))
    with pytest.raises(ValueError, match="no column for 'HR@10'.*support \\['RMSE', 'MAE'\\]"):
        ci.interval(units, "HR@10")
    with pytest.raises(ValueError, match="level must lie strictly between 0 and 1"):
        ci.interval(units, "RMSE", level=95)
    with pytest.raises(ValueError, match="n_boot must be a positive whole number"):
        ci.interval(units, "RMSE", n_boot=0)
    with pytest.raises(ValueError, match="cluster='user' is neither a column"):
        ci.interval(units, "RMSE", cluster="user")
    with pytest.raises(ValueError, match="NaN"):
        ci.interval(pd.DataFrame({"score": [1.0, np.nan]}), "score")
    with pytest.raises(ValueError, match="differ in length"):
        ci.rating_units([1.0, 2.0], [1.0])
    assert ci.infer_lower_is_better("RMSE") and ci.infer_lower_is_better("log loss")
    assert not ci.infer_lower_is_better("NDCG@10")
    assert not ci.infer_lower_is_better("catalog coverage")


def test_the_comparison_table_states_each_verdict_against_the_best():
    rng = np.random.default_rng(3)
    errors = rng.normal(size=5_000)
    units = {
        "good": ci.rating_units(np.zeros(5_000), errors * 0.9),
        "same as good": ci.rating_units(np.zeros(5_000), errors * 0.9 + 1e-6),
        "worse": ci.rating_units(np.zeros(5_000), errors * 1.2),
    }
    table = ci.comparison_table(units, "RMSE")
    assert table.attrs["reference"] in ("good", "same as good")
    assert table.index[-1] == "worse"
    assert table.loc["worse", "verdict"] == "behind"
    other = ({"good", "same as good"} - {table.attrs["reference"]}).pop()
    assert table.loc[other, "verdict"] == "level"
    assert table.loc[table.attrs["reference"], "verdict"] == "reference"
    assert "±" in table.iloc[0, 0]


@pytest.mark.parametrize("protocol, metric", [
    ("RATING", "RMSE"), ("TOPN", "HR@10"), ("TOPN", "catalog coverage"),
    ("RETRIEVAL", "top-10")])
def test_many_comparisons_give_exactly_what_compare_gives_pair_by_pair(ratings, protocol,
                                                                        metric):
    # compare_all and level_groups bootstrap each model once and pair the draws; compare
    # draws them per pair: with the same seed, the same resamples, so the same intervals
    if protocol == "TOPN":
        split = leave_last_out_split(ratings)
    else:
        split = random_split(ratings, 0.2, 0)
    models = {"biases": BiasBaseline().fit(split), "popular": MostPopular().fit(split),
              "biases, strong": BiasBaseline(reg_user=50.0, reg_item=50.0).fit(split)}
    units = {name: ci.protocol_units(model, split, protocol) for name, model in models.items()}
    table = ci.compare_all(units, metric, n_boot=200)
    groups = ci.level_groups(units, metric, n_boot=200)
    for name in units:
        if name == table.attrs["reference"]:
            continue
        alone = ci.compare(units[name], units[table.attrs["reference"]], metric, n_boot=200)
        assert (table.loc[name, "low"], table.loc[name, "high"]) == (alone.low, alone.high)
        assert table.loc[name, "verdict"] == alone.verdict
        leader = groups.loc[name, "leader"]
        if leader != name:
            alone = ci.compare(units[name], units[leader], metric, n_boot=200)
            assert (groups.loc[name, "low"], groups.loc[name, "high"]) == (alone.low, alone.high)


# --- the AUC of two score columns on the same rows -----------------------------------------
def _clicks(n: int = 20_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    clicked = rng.random(n) < 0.55
    return clicked, clicked + rng.normal(0, 1.2, n), clicked + rng.normal(0, 1.6, n)


def test_auc_comparison_estimates_the_difference_of_the_two_aucs_ties_included():
    clicked, sharp, blurred = _clicks()
    coarse = np.round(sharp)  # many ties, which count half
    for a, b in ((sharp, blurred), (coarse, sharp)):
        paired = ci.compare_auc(clicked, a, b, n_boot=200)
        assert paired.difference == pytest.approx(
            metrics.auc(clicked, a) - metrics.auc(clicked, b), abs=1e-12)
        assert paired.low <= paired.difference <= paired.high


def test_auc_comparison_finds_a_planted_gap_and_calls_identical_scores_level():
    clicked, sharp, blurred = _clicks()
    assert ci.compare_auc(clicked, sharp, blurred).verdict == "ahead"
    assert ci.compare_auc(clicked, blurred, sharp).verdict == "behind"
    same = ci.compare_auc(clicked, sharp, sharp.copy())
    assert same.verdict == "level" and same.low == same.high == 0.0


def test_auc_interval_matches_hanley_and_mcneil_on_a_large_sample():
    # against a constant score (AUC one half, no variance) the interval of the difference is
    # that of the AUC itself, whose standard error Hanley and McNeil (1982) give in closed form
    clicked, sharp, _ = _clicks(40_000, seed=3)
    area = metrics.auc(clicked, sharp)
    n_pos, n_neg = clicked.sum(), (~clicked).sum()
    q1, q2 = area / (2 - area), 2 * area**2 / (1 + area)
    se = np.sqrt((area * (1 - area) + (n_pos - 1) * (q1 - area**2)
                  + (n_neg - 1) * (q2 - area**2)) / (n_pos * n_neg))
    paired = ci.compare_auc(clicked, sharp, np.zeros(clicked.size))
    assert paired.high - paired.low == pytest.approx(2 * 1.96 * se, rel=0.15)


def test_auc_comparison_refuses_what_has_no_auc():
    clicked, sharp, blurred = _clicks(200)
    with pytest.raises(ValueError, match="both clicks and non-clicks"):
        ci.compare_auc(np.ones(200, bool), sharp, blurred)
    with pytest.raises(ValueError, match="NaN"):
        ci.compare_auc(clicked, np.where(clicked, np.nan, 0.0), blurred)
    with pytest.raises(ValueError, match="same length"):
        ci.compare_auc(clicked, sharp[:-1], blurred)


def test_comparison_table_never_shows_a_clear_interval_as_reaching_zero():
    truth = np.zeros(500)
    units = {"a": ci.rating_units(truth, np.ones(500)),
             "b": ci.rating_units(truth, np.full(500, 1.00004))}
    table = ci.comparison_table(units, "RMSE", reference="a", n_boot=50)
    assert table.loc["b", "verdict"] == "behind"
    shown = table.loc["b", "RMSE - a"]
    assert shown == "+0.00004 [+0.00004, +0.00004]", shown


def test_a_shifted_comparison_moves_its_interval_and_reads_its_verdict_again():
    behind = ci.Comparison(difference=0.002, low=0.0001, high=0.004, verdict="behind",
                           metric="RMSE", lower_is_better=True)
    level = behind.shifted(-0.002)
    assert level.verdict == "level"
    assert (level.difference, level.low, level.high) == pytest.approx((0.0, -0.0019, 0.002))
    assert behind.shifted(-0.01).verdict == "ahead" and behind.shifted(0.01).verdict == "behind"
    hit_rate = ci.Comparison(difference=0.0, low=-0.01, high=0.01, verdict="level",
                             metric="HR@10")
    assert hit_rate.shifted(0.02).verdict == "ahead"  # higher is better on a hit rate
