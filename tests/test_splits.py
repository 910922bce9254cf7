"""Splits are disjoint, deterministic, fitted on training data only, and never empty."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coursekit import data as ckd
from coursekit.errors import EmptySplitError, InvalidRatingsError


def keys(frame: pd.DataFrame) -> set[tuple[int, int]]:
    return set(zip(frame["user"], frame["item"], strict=True))


def assert_partition(split: ckd.Split, ratings: pd.DataFrame) -> None:
    parts = [p for p in split.parts().values() if p is not None]
    assert sum(len(p) for p in parts) == len(ratings)
    union = set().union(*(keys(p) for p in parts))
    assert union == keys(ratings)


def test_rating_protocol_is_80_20_and_the_same_every_time(ml100k):
    first, second = ckd.rating_protocol(ml100k), ckd.rating_protocol(ml100k)
    assert (len(first.train), len(first.test)) == (80_000, 20_000)
    pd.testing.assert_frame_equal(first.test, second.test)
    assert_partition(first, ml100k.ratings)
    assert first.name == "RATING"


def test_protocol_does_not_depend_on_row_order(ml100k):
    shuffled = ml100k.ratings.sample(frac=1.0, random_state=3)
    a = ckd.random_split(ml100k.ratings, 0.2, 42)
    b = ckd.random_split(shuffled, 0.2, 42)
    pd.testing.assert_frame_equal(a.test, b.test)


def test_retrieval_protocol_uses_the_rating_split(ml100k):
    retrieval = ckd.retrieval_protocol(ml100k)
    assert keys(retrieval.test) == keys(ckd.rating_protocol(ml100k).test)


def test_topn_protocol_holds_out_each_users_latest_rating(ml100k):
    split = ckd.topn_protocol(ml100k)
    assert len(split.test) == 943 and split.test["user"].is_unique
    latest = ckd.in_time_order(ml100k.ratings).groupby("user").tail(1)
    assert keys(split.test) == keys(latest)
    assert_partition(split, ml100k.ratings)


def test_leave_last_out_orders_time_ties_by_a_fixed_draw_and_keeps_single_raters():
    ratings = pd.DataFrame({
        "user": [1, 1, 1, 2], "item": [5, 9, 3, 4],
        "rating": [3.0, 4.0, 5.0, 2.0], "timestamp": [100, 200, 200, 50],
    })
    split = ckd.leave_last_out_split(ratings, rating_scale=(1, 5))
    latest = ckd.in_time_order(ratings).query("user == 1")["item"].tolist()
    assert latest[0] == 5 and set(latest[1:]) == {3, 9}  # the tie is ordered, time is kept
    assert keys(split.test) == {(1, latest[-1])}
    assert (2, 4) in keys(split.train)
    with_val = ckd.leave_last_out_split(ratings, validation=True, rating_scale=(1, 5))
    assert keys(with_val.validation) == {(1, latest[-2])}
    assert keys(with_val.test) == keys(split.test)  # the same order every time


def test_time_ties_are_ordered_by_neither_id_nor_row_order():
    """In 200 users' same-second pairs, the larger id comes last about half the time, the
    order does not depend on the table's row order, and another seed draws another order."""
    users = np.repeat(np.arange(200), 2)
    items = np.tile([1, 2], 200) + 2 * users  # each user's two films share one second
    ratings = pd.DataFrame({"user": users, "item": items, "rating": 3.0, "timestamp": 7})
    last = ckd.in_time_order(ratings).groupby("user")["item"].last().to_numpy()
    larger_last = (last == items[1::2]).mean()
    assert 0.35 < larger_last < 0.65, larger_last
    shuffled = ratings.sample(frac=1.0, random_state=0)
    assert (ckd.in_time_order(shuffled).groupby("user")["item"].last().to_numpy() == last).all()
    other = ckd.in_time_order(ratings, seed=7).groupby("user")["item"].last().to_numpy()
    assert (other != last).any()


def test_global_time_split_tests_each_returning_user_on_their_first_rating_after_one_cut():
    ratings = pd.DataFrame({
        "user": [1, 1, 1, 2, 2, 3, 4, 4],
        "item": [10, 11, 12, 10, 13, 11, 12, 14],
        "rating": [4.0] * 8,
        "timestamp": [1, 2, 9, 3, 8, 10, 4, 8],  # the cut leaves the latest ratings after it
    })
    split = ckd.global_time_split(ratings, test_fraction=0.4, rating_scale=(1, 5))
    assert split.train["timestamp"].max() < split.test["timestamp"].min()
    # user 1's and 2's first ratings after the cut; user 3 has nothing before it; user 4's
    # rating at 8 too. Every rating before the cut trains, none after it does.
    assert keys(split.test) == {(1, 12), (2, 13), (4, 14)}
    assert keys(split.train) == {(1, 10), (1, 11), (2, 10), (4, 12)}
    tied = pd.DataFrame({"user": [1, 1, 1], "item": [5, 6, 7], "rating": [3.0] * 3,
                         "timestamp": [1, 5, 5]})
    chosen = {next(iter(keys(ckd.global_time_split(tied, 0.5, s, rating_scale=(1, 5)).test)))[1]
              for s in range(20)}
    assert chosen == {6, 7}  # same-second ties are drawn, not decided by the film id
    with pytest.raises(InvalidRatingsError, match="same timestamp"):
        ckd.global_time_split(ratings.assign(timestamp=5), 0.5, rating_scale=(1, 5))
    strangers = pd.DataFrame({"user": [1, 1, 2, 2], "item": [1, 2, 1, 2], "rating": [3.0] * 4,
                              "timestamp": [1, 2, 9, 10]})
    with pytest.raises(EmptySplitError, match="no known user after it"):
        ckd.global_time_split(strangers, 0.5, rating_scale=(1, 5))


def test_carving_validation_leaves_the_test_part_untouched(ml100k):
    plain = ckd.rating_protocol(ml100k)
    carved = ckd.rating_protocol(ml100k, validation_size=0.1)
    pd.testing.assert_frame_equal(plain.test, carved.test)
    assert (len(carved.train), len(carved.validation)) == (72_000, 8_000)
    assert_partition(carved, ml100k.ratings)


def test_encoders_are_fitted_on_the_training_part_only(ml100k):
    split = ckd.rating_protocol(ml100k)
    assert len(split.items) == split.train["item"].nunique()
    unseen = split.test.loc[~split.test["item"].isin(split.train["item"]), "item"]
    assert len(unseen) > 0
    assert (split.items.encode(unseen, unknown="mask") == -1).all()


def test_stratified_split_keeps_every_user_in_training(ml100k):
    split = ckd.stratified_split(ml100k.ratings, 0.2, seed=1, validation_size=0.1)
    assert_partition(split, ml100k.ratings)
    assert split.train["user"].nunique() == 943
    share = split.test.groupby("user").size() / ml100k.ratings.groupby("user").size()
    assert share.between(0.15, 0.25).all()


def test_user_holdout_parts_share_no_user(ml100k):
    split = ckd.user_holdout_split(ml100k.ratings, test_users=0.1, validation_users=0.2)
    users = [set(p["user"]) for p in (split.train, split.validation, split.test)]
    assert not (users[0] & users[1]) and not (users[0] & users[2]) and not (users[1] & users[2])
    assert len(users[2]) == round(0.1 * 943)
    assert_partition(split, ml100k.ratings)


def test_hide_ratings_hides_a_fraction_of_each_user_and_keeps_some_visible(ml100k):
    test = ckd.user_holdout_split(ml100k.ratings).test
    visible, hidden = ckd.hide_ratings(test, fraction=0.2, seed=7)
    assert len(visible) + len(hidden) == len(test)
    assert not keys(visible) & keys(hidden)
    assert set(visible["user"]) == set(test["user"])
    assert np.isclose(len(hidden) / len(test), 0.2, atol=0.01)


def test_empty_input_or_empty_part_raises_a_clear_error():
    empty = pd.DataFrame(columns=["user", "item", "rating", "timestamp"])
    with pytest.raises(EmptySplitError, match="empty"):
        ckd.random_split(empty)
    tiny = pd.DataFrame({"user": [1, 2], "item": [1, 2], "rating": [3.0, 4.0],
                         "timestamp": [1, 2]})
    with pytest.raises(EmptySplitError, match="test part"):
        ckd.random_split(tiny, test_size=0.1)
    with pytest.raises(EmptySplitError, match="No rating was hidden"):
        ckd.hide_ratings(tiny, fraction=0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        ckd.random_split(tiny, test_size=1.5)


def test_protocols_refuse_another_dataset():
    other = ckd.synthetic_movielens(scale=0.002, seed=1)
    with pytest.raises(ValueError, match="defined on ml-100k"):
        ckd.rating_protocol(other)
