"""Factorization machines on side information: the O(kn) identity, the feature rows, and a
fit that learns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from coursekit import data as ckd
from coursekit import metrics
from coursekit.data.movielens import MovieLens
from coursekit.data.splits import Split
from coursekit.models.checks import contract_split
from coursekit.models.fm import (
    BLOCKS,
    FactorizationMachine,
    FeatureBlocks,
    as_sparse_tensor,
    pairwise_interactions,
    pairwise_interactions_directly,
)


def test_the_linear_time_identity_equals_the_sum_over_pairs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 9)) * (rng.random((6, 9)) < 0.4)  # sparse-ish rows
    v = rng.normal(size=(9, 4))
    direct = pairwise_interactions_directly(x, v)
    dense = np.asarray(pairwise_interactions(x.astype(np.float32), v.astype(np.float32)))
    sparse = np.asarray(pairwise_interactions(as_sparse_tensor(sp.csr_matrix(x)),
                                              v.astype(np.float32)))
    np.testing.assert_allclose(dense, direct, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(sparse, direct, rtol=1e-4, atol=1e-4)
    # a row with a single feature has no pair, so no interaction
    lone = np.zeros((1, 9), dtype=np.float32)
    lone[0, 3] = 2.0
    assert float(np.asarray(pairwise_interactions(lone, v.astype(np.float32)))[0]) == 0.0


def test_each_pair_row_holds_its_blocks():
    split = contract_split()
    users = np.sort(split.train["user"].unique())
    items = np.sort(split.train["item"].unique())
    u = np.searchsorted(users, split.train["user"].to_numpy())
    i = np.searchsorted(items, split.train["item"].to_numpy())
    blocks = FeatureBlocks(split.dataset, users, items, u, i)
    assert tuple(blocks.columns) == BLOCKS
    row = blocks.rows(u[:1], i[:1]).toarray()[0]
    start, stop = blocks.columns["user"]
    assert row[start:stop].sum() == 1.0 and row[start + u[0]] == 1.0
    start, stop = blocks.columns["rated"]
    rated = row[start:stop]
    n = int((u == u[0]).sum())
    np.testing.assert_allclose(rated[rated > 0], 1 / np.sqrt(n), rtol=1e-6)
    assert (rated > 0).sum() == n
    # the user and film without a row in the dataset's tables get no demographic or genre
    last_user = np.array([len(users) - 1])
    start, stop = blocks.columns["age"]
    assert blocks.rows(last_user, i[:1]).toarray()[0, start] == 1.0  # code 0: unknown


def test_side_blocks_need_the_dataset_tables():
    split = contract_split()
    with pytest.raises(ValueError, match="users' and films' tables"):
        FeatureBlocks(None, np.arange(3), np.arange(3), np.zeros(1, int), np.zeros(1, int))
    with pytest.raises(ValueError, match="unknown feature blocks"):
        FeatureBlocks(split.dataset, np.arange(3), np.arange(3), np.zeros(1, int),
                      np.zeros(1, int), blocks=("user", "colour"))


def planted_split(seed: int = 0) -> Split:
    """Ratings that only a gender x genre interaction explains: 4 when a man rates a comedy or
    a woman anything else, 2 otherwise, plus a little noise."""
    rng = np.random.default_rng(seed)
    users = pd.DataFrame({"user": np.arange(1, 61), "age": rng.integers(18, 60, 60),
                          "gender": rng.choice(["M", "F"], 60), "occupation": "writer"})
    comedy = rng.random(40) < 0.5
    items = pd.DataFrame({"item": np.arange(1, 41), "title": [f"Film {i}" for i in range(40)],
                          "genres": [["Comedy"] if c else ["Drama"] for c in comedy],
                          "year": 1990})
    pairs = [(u, i) for u in range(60) for i in rng.choice(40, 20, replace=False)]
    user, item = np.array(pairs).T
    likes = (users["gender"].to_numpy()[user] == "M") == comedy[item]
    ratings = pd.DataFrame({"user": user + 1, "item": item + 1,
                            "rating": np.clip(np.where(likes, 4.0, 2.0)
                                              + rng.normal(0, 0.3, user.size), 1, 5),
                            "timestamp": 0})
    dataset = MovieLens(name="planted", ratings=ratings, rating_scale=(1.0, 5.0),
                        source="planted", users=users, items=items)
    return ckd.random_split(ratings, 0.2, seed, dataset=dataset, rating_scale=(1.0, 5.0))


def test_the_machine_learns_an_interaction_of_side_features():
    split = planted_split()
    model = FactorizationMachine(dim=4, epochs=30, learning_rate=0.02, batch_size=64,
                                 seed=0).fit(split)
    truth = split.test["rating"]
    error = metrics.rmse(truth, model.predict_frame(split.test))
    assert error < 0.6 * metrics.rmse(truth, np.full(len(truth), split.train["rating"].mean()))
    assert model.best_epoch_ >= 1 and len(model.history_) >= model.best_epoch_


def test_a_saved_machine_predicts_the_same_after_loading(tmp_path):
    split = planted_split()
    model = FactorizationMachine(dim=4, epochs=3, batch_size=64, seed=0).fit(split)
    before = model.predict_frame(split.test)
    loaded = FactorizationMachine.load(model.save(tmp_path / "fm"))
    np.testing.assert_allclose(loaded.predict_frame(split.test), before, rtol=1e-6)
