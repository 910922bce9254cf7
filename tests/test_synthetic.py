"""The synthetic MovieLens-20M-shaped generator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coursekit.data import synthetic
from coursekit.plots import head_share


@pytest.fixture(scope="module")
def small():
    return synthetic.synthetic_movielens(scale=0.01, seed=3)


def test_shape_at_full_scale_is_movielens_20m():
    assert synthetic.synthetic_shape(1.0) == (138_493, 26_744, 20_000_263)


def test_small_version_has_the_promised_size_and_schema(small):
    n_users, n_items, n_ratings = synthetic.synthetic_shape(0.01)
    assert len(small.ratings) == n_ratings
    assert small.ratings["user"].nunique() == n_users
    assert small.ratings["item"].max() <= n_items
    assert list(small.ratings.columns) == ["user", "item", "rating", "timestamp"]
    assert not small.ratings.duplicated(["user", "item"]).any()


def test_ratings_are_half_stars_with_a_movielens_like_spread(small):
    values = small.ratings["rating"].to_numpy()
    assert set(np.unique(values * 2)) <= set(range(1, 11))
    assert 3.2 < values.mean() < 3.8 and 0.8 < values.std() < 1.2


def test_popularity_is_long_tailed_and_users_have_at_least_20(small):
    assert head_share(small.ratings, 0.2) > 0.5
    assert small.ratings.groupby("user").size().min() >= 20


def test_same_seed_same_data_other_seed_other_data(small):
    again = synthetic.synthetic_movielens(scale=0.01, seed=3)
    pd.testing.assert_frame_equal(small.ratings, again.ratings)
    other = synthetic.synthetic_movielens(scale=0.01, seed=4)
    assert not small.ratings["rating"].equals(other.ratings["rating"])


def test_ratings_carry_learnable_structure(small):
    """User means on one half of a user's ratings predict the other half better than chance."""
    r = small.ratings.sample(frac=1.0, random_state=0)
    half = r.groupby("user").cumcount() % 2 == 0
    user_mean = r[half].groupby("user")["rating"].mean()
    other = r[~half]
    err_user = np.sqrt(((other["rating"] - other["user"].map(user_mean)) ** 2).mean())
    err_global = np.sqrt(((other["rating"] - r[half]["rating"].mean()) ** 2).mean())
    assert err_user < err_global - 0.05


def test_scale_outside_range_is_rejected():
    with pytest.raises(ValueError, match="scale"):
        synthetic.synthetic_movielens(scale=0.0)
