"""Top-N metrics: hand-computed cases, bounds, and properties (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coursekit import data as ckd
from coursekit.evaluation import metrics, topn
from coursekit.models import BiasBaseline, MostPopular


def lists(rows: dict[int, list[int]]) -> pd.DataFrame:
    return pd.DataFrame([(u, i, r + 1, 10.0 - r) for u, items in rows.items()
                         for r, i in enumerate(items)], columns=["user", "item", "rank", "score"])


def held(pairs: list[tuple[int, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(pairs, columns=["user", "item", "rating"])


TOP = lists({1: [10, 20, 30], 2: [20, 40, 50], 3: [60, 70, 80]})
OUT = held([(1, 30, 5.0), (2, 20, 2.0), (3, 99, 4.0)])


def test_hit_rate_arhr_and_cumulative_hit_rate_by_hand():
    assert metrics.hit_rate(OUT, TOP) == pytest.approx(2 / 3)
    assert metrics.average_reciprocal_hit_rank(OUT, TOP) == pytest.approx((1 / 3 + 1) / 3)
    # liked (>= 4): users 1 (hit at rank 3) and 3 (miss)
    assert metrics.cumulative_hit_rate(OUT, TOP, 4.0) == pytest.approx(1 / 2)


def test_ndcg_precision_recall_map_by_hand():
    relevant = held([(1, 10, 5), (1, 30, 4), (2, 99, 3)])
    # user 1: hits at ranks 1 and 3 of 2 relevant; user 2: no hit
    dcg_1 = 1 / np.log2(2) + 1 / np.log2(4)
    ideal_1 = 1 / np.log2(2) + 1 / np.log2(3)
    assert metrics.ndcg_at_k(relevant, TOP, 3) == pytest.approx((dcg_1 / ideal_1 + 0) / 2)
    assert metrics.precision_at_k(relevant, TOP, 3) == pytest.approx((2 / 3 + 0) / 2)
    assert metrics.recall_at_k(relevant, TOP, 3) == pytest.approx((2 / 2 + 0) / 2)
    assert metrics.map_at_k(relevant, TOP, 3) == pytest.approx(((1 / 1 + 2 / 3) / 2 + 0) / 2)


def test_coverage_by_hand():
    assert metrics.catalog_coverage(TOP, n_items=18) == pytest.approx(8 / 18)
    assert metrics.user_coverage(TOP, [1, 2, 3, 4]) == pytest.approx(3 / 4)
    assert metrics.user_coverage(TOP, [1, 2, 3], min_score=9.5) == pytest.approx(1.0)
    assert metrics.user_coverage(TOP, [1, 2, 3], min_score=10.5) == 0.0


def test_novelty_by_hand():
    ratings = pd.DataFrame({"user": [1, 2, 3, 1, 2, 1], "item": [10, 10, 10, 20, 20, 30]})
    top = lists({7: [10, 30]})
    assert metrics.novelty_rank(top, ratings) == pytest.approx((1 + 3) / 2)
    bits = (-np.log2(3 / 3) - np.log2(1 / 3)) / 2
    assert metrics.novelty_self_information(top, ratings) == pytest.approx(bits)


def test_diversity_by_hand_excludes_self_pairs():
    vectors = pd.DataFrame([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], index=[1, 2, 3])
    top = lists({1: [1, 2, 3]})
    # pairs: (1,2)=0, (1,3)=(2,3)=1/sqrt(2)
    mean_similarity = (0 + 2 / np.sqrt(2)) / 3
    assert metrics.diversity(top, item_vectors=vectors) == pytest.approx(1 - mean_similarity)
    sim = pd.DataFrame([[1, 0.2, 0.4], [0.2, 1, 0.6], [0.4, 0.6, 1]], index=[1, 2, 3],
                       columns=[1, 2, 3])
    assert metrics.diversity(top, similarity=sim) == pytest.approx(1 - 0.4)


item_ids = st.lists(st.integers(0, 29), min_size=2, max_size=10, unique=True)
VECTORS = pd.DataFrame(np.random.default_rng(0).normal(size=(30, 4)), index=range(30))


@settings(max_examples=50, deadline=None)
@given(items=item_ids, seed=st.integers(0, 1000))
def test_diversity_is_invariant_to_the_order_of_a_list(items, seed):
    shuffled = list(np.random.default_rng(seed).permutation(items))
    a = metrics.diversity(lists({1: items}), item_vectors=VECTORS)
    b = metrics.diversity(lists({1: shuffled}), item_vectors=VECTORS)
    assert a == pytest.approx(b)
    assert 0.0 <= a <= 2.0


@settings(max_examples=30, deadline=None)
@given(item=st.integers(0, 29), length=st.integers(2, 10))
def test_a_list_of_identical_items_has_diversity_zero(item, length):
    assert metrics.diversity(lists({1: [item] * length}), item_vectors=VECTORS) == pytest.approx(0)


@settings(max_examples=50, deadline=None)
@given(rows=st.dictionaries(st.integers(1, 20), item_ids, min_size=1, max_size=8),
       seed=st.integers(0, 1000))
def test_list_metrics_are_bounded_and_ignore_row_order(rows, seed):
    top = lists(rows)
    users = list(rows)
    rng = np.random.default_rng(seed)
    relevant = held([(u, int(rng.integers(0, 30)), 5.0) for u in users])
    shuffled = top.sample(frac=1.0, random_state=seed)
    for metric in (metrics.hit_rate, metrics.average_reciprocal_hit_rank):
        value = metric(relevant, top)
        assert 0.0 <= value <= 1.0
        assert metric(relevant, shuffled) == pytest.approx(value)
    for metric in (metrics.ndcg_at_k, metrics.precision_at_k, metrics.recall_at_k,
                   metrics.map_at_k):
        value = metric(relevant, top, 10)
        assert 0.0 <= value <= 1.0 + 1e-12
        assert metric(relevant, shuffled, 10) == pytest.approx(value)
    assert 0.0 < metrics.catalog_coverage(top, 30) <= 1.0


def test_metrics_take_the_truth_first_and_say_so_when_swapped():
    relevant = held([(1, 10, 5.0)])
    top = lists({1: [10, 11]})
    with pytest.raises(ValueError, match=r"truth first.*hit_rate\(split.test, top_n\)"):
        metrics.hit_rate(top, relevant)
    with pytest.raises(ValueError, match="wrong order"):
        metrics.ndcg_at_k(top, relevant, 2)


def test_perfect_list_scores_one():
    relevant = held([(1, 10, 5.0), (2, 40, 5.0)])
    perfect = lists({1: [10, 11], 2: [40, 41]})
    assert metrics.hit_rate(relevant, perfect) == 1.0
    assert metrics.ndcg_at_k(relevant, perfect, 2) == pytest.approx(1.0)
    assert metrics.map_at_k(relevant, perfect, 2) == pytest.approx(1.0)


def test_missing_columns_and_unknown_items_are_clear_errors():
    with pytest.raises(ValueError, match="user, item, rank"):
        metrics.hit_rate(OUT, TOP.drop(columns="rank"))
    with pytest.raises(KeyError, match="no vector"):
        metrics.diversity(lists({1: [1, 999]}), item_vectors=VECTORS)
    with pytest.raises(ValueError, match="exactly one"):
        metrics.diversity(TOP)


def test_recommend_all_matches_recommend_and_popularity_hit_rate(ml100k):
    split = ckd.topn_protocol(ml100k)
    model = MostPopular().fit(split)
    everyone = model.recommend_all(10)
    assert everyone["user"].nunique() == 943 and len(everyone) == 9430
    one = model.recommend(7, 10)
    assert everyone.loc[everyone["user"] == 7, "item"].tolist() == one["item"].tolist()
    assert metrics.hit_rate(split.test, everyone) == pytest.approx(0.0785, abs=0.002)
    bias = BiasBaseline().fit(split).recommend_all(10)
    seen = set(zip(split.train["user"], split.train["item"], strict=True))
    assert not any((u, i) in seen for u, i in zip(bias["user"], bias["item"], strict=True))


def test_surprise_anti_test_set_lists(ml100k):
    import surprise

    ratings = ml100k.ratings[ml100k.ratings["user"] <= 60]
    top = topn.surprise_top_n(surprise.SVD(n_epochs=2, random_state=0), ratings, n=5)
    assert top.groupby("user").size().eq(5).all()
    seen = set(zip(ratings["user"], ratings["item"], strict=True))
    assert not any((u, i) in seen for u, i in zip(top["user"], top["item"], strict=True))
    assert (top.groupby("user")["score"].apply(lambda s: s.is_monotonic_decreasing)).all()


def test_surprise_lists_rank_unclipped_estimates(ml100k):
    import surprise

    ratings = ml100k.ratings[ml100k.ratings["user"] <= 60]
    # large factors and no penalty: many estimates go past 5, where clipping would tie them
    algorithm = surprise.SVD(n_epochs=30, reg_all=0.0, init_std_dev=0.5, random_state=0)
    top = topn.surprise_top_n(algorithm, ratings, n=10)
    assert (top["score"] > 5.0).any()
    assert top.groupby("user")["score"].nunique().gt(1).all()  # no list is one tie at 5.0
