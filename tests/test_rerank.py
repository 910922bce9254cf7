"""Retrieve, then rank (chapter 13): the ranker's lists, features and scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coursekit.models.checks import contract_split, contract_table
from coursekit.models.ranking.rerank import DAY, FEATURES, RetrieveThenRank

QUICK = {"candidates": 10, "epochs": 3, "retriever": {"epochs": 2, "dim": 8, "batch_size": 64}}


@pytest.fixture(scope="module")
def fitted():
    split = contract_split()
    return split, RetrieveThenRank(**QUICK).fit(split)


def test_each_user_latest_choices_are_held_out_for_the_ranker():
    table = pd.DataFrame({"user": [1, 1, 1, 1, 2, 2, 2, 3, 3],
                          "item": [10, 11, 12, 13, 10, 11, 12, 10, 11],
                          "rating": 4.0, "timestamp": [5, 1, 9, 3, 2, 8, 4, 1, 2]})
    model = RetrieveThenRank(held_out=2)
    earlier, latest = model._hold_out_latest(table)
    # user 1's two latest (times 9 and 5); user 2 has 3 < 2 + 2 ratings, user 3 only 2
    assert sorted(latest["item"]) == [10, 12]
    assert set(latest["user"]) == {1}
    assert len(earlier) + len(latest) == len(table)


def test_candidates_are_unseen_films_in_the_towers_order(fitted):
    split, model = fitted
    users = np.arange(len(model.users_))
    candidates, features = model.stage_.lists(users)
    assert candidates.shape == (len(users), 10)
    assert features.shape == (len(users), 10, len(FEATURES))
    seen = model.seen_[users].toarray().astype(bool)
    finite = features[..., 0] != 0
    assert not seen[np.arange(len(users))[:, None], candidates][finite].any()
    tower = features[..., 0]
    assert (np.diff(np.where(finite, tower, -1e30), axis=1) <= 1e-6).all()


def test_recent_popularity_counts_a_film_ratings_in_the_days_before_the_user_latest(fitted):
    _, model = fitted
    stage, ratings = model.stage_, model.ratings_
    user = model.users_.ids_[3]
    u = model.users_.encode([user])
    candidates, features = stage.lists(u)
    latest = ratings.loc[ratings["user"] == user, "timestamp"].max()
    for film, value in zip(model.items_.decode(candidates[0]), features[0, :, 3], strict=True):
        times = ratings.loc[ratings["item"] == film, "timestamp"]
        count = ((times <= latest) & (times >= latest - model.recent_days * DAY)).sum()
        assert value == pytest.approx(np.log1p(count))


def test_the_ranker_orders_the_candidates_and_the_rest_follow_in_the_towers_order(fitted):
    split, model = fitted
    user = model.users_.ids_[5]
    shown = model.candidate_features(user)
    assert list(shown.columns[2:-1]) == list(FEATURES)
    assert shown["ranker score"].is_monotonic_decreasing
    listed = model.recommend(user, n=len(model.items_))
    assert list(listed["item"][:len(shown)]) == list(shown["item"])


def test_a_plain_table_without_times_or_features_still_trains_a_ranker():
    table = contract_table().drop(columns="timestamp")
    model = RetrieveThenRank(**QUICK).fit(table)
    features = model.stage_.lists(np.arange(len(model.users_)))[1]
    assert (features[..., 3] == 0).all() and (features[..., 4] == 0).all()  # no time, no genres
    assert len(model.recommend(model.users_.ids_[1], n=5)) == 5  # [0] rated every film


def test_too_few_ratings_for_the_ranker_lists_is_a_clear_error():
    table = pd.DataFrame({"user": [1, 1, 2, 2], "item": [10, 11, 10, 12],
                          "rating": [4.0, 5.0, 3.0, 4.0]})
    with pytest.raises(ValueError, match="fewer than two users"):
        RetrieveThenRank(**QUICK).fit(table)
