"""EASE: the closed form is the least-squares solution it claims to be, and its lists behave."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coursekit.models import EASE
from coursekit.models.ranking import ease as ease_module


def _table(seed: int = 0, n_users: int = 30, n_items: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pairs = {(int(u), int(i)) for u, i in zip(rng.integers(0, n_users, 150),
                                              rng.integers(0, n_items, 150), strict=True)}
    users, items = zip(*sorted(pairs), strict=True)
    ratings = np.resize([1.0, 5.0, 4.0], len(users))  # EASE reads which, not how much
    return pd.DataFrame({"user": users, "item": items, "rating": ratings})


def test_closed_form_equals_each_columns_own_ridge_regression():
    table, l2 = _table(), 3.0
    model = EASE(l2=l2).fit(table)
    rows = model.users_.encode(table["user"])
    cols = model.items_.encode(table["item"])
    x = np.zeros((len(model.users_), len(model.items_)))
    x[rows, cols] = 1.0
    for j in range(x.shape[1]):
        others = np.delete(np.arange(x.shape[1]), j)
        a = x[:, others]
        ridge = np.linalg.solve(a.T @ a + l2 * np.eye(len(others)), a.T @ x[:, j])
        np.testing.assert_allclose(model.weights_[others, j], ridge, rtol=1e-4, atol=1e-6)
        assert model.weights_[j, j] == 0.0


def test_scores_are_the_users_row_times_the_weights_and_lists_skip_seen_films():
    table = _table(seed=1)
    model = EASE(l2=1.0).fit(table)
    user = table["user"].iloc[0]
    seen = set(table.loc[table["user"] == user, "item"])
    top = model.recommend(user, n=5)
    assert not seen & set(top["item"]) and len(top) == 5
    assert top["score"].is_monotonic_decreasing
    row = model.chosen_[model.users_.encode([user])].toarray()[0]
    expected = row @ model.weights_[:, model.items_.encode(top["item"])]
    np.testing.assert_allclose(top["score"], expected, rtol=1e-5)


def test_bad_settings_and_catalogues_too_large_say_what_to_do(monkeypatch):
    with pytest.raises(ValueError, match="l2 must be positive"):
        EASE(l2=0.0)
    monkeypatch.setattr(ease_module, "MAX_ITEMS", 5)
    with pytest.raises(ValueError, match="most-rated films"):
        EASE().fit(_table())
