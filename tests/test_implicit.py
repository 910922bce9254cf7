"""The implicit-feedback models of chapter 9: negative sampling, BPR as cross-entropy on a
difference, implicit ALS against the direct sum, the sampled hit rate against a hand
computation, and clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from coursekit.data.splits import Split
from coursekit.evaluation.topn import sampled_hit_rate
from coursekit.models.ranking.implicit import (
    BPRMF,
    DotProductNet,
    ImplicitALS,
    ImplicitMF,
    NeuMF,
    NeuMFNet,
    PairwiseDifference,
    als_solve,
    chosen_codes,
    is_chosen,
    sample_negatives,
)

SCALE = (1.0, 5.0)


def test_negatives_are_never_chosen_films_and_follow_the_weights():
    rng = np.random.default_rng(0)
    n_items = 50
    users = np.repeat(np.arange(20), 10)
    items = np.concatenate([rng.choice(n_items, 10, replace=False) for _ in range(20)])
    keys = chosen_codes(users, items, n_items)
    drawn_for = np.repeat(np.arange(20), 500)
    uniform = sample_negatives(drawn_for, keys, n_items, rng)
    assert not is_chosen(drawn_for.astype(np.int64) * n_items + uniform, keys).any()
    # every film a user did not choose can be drawn for them
    for user in range(3):
        unchosen = set(range(n_items)) - set(items[users == user].tolist())
        assert set(uniform[drawn_for == user].tolist()) == unchosen
    weights = np.ones(n_items)
    weights[:5] = 100.0  # five popular films
    popular = sample_negatives(drawn_for, keys, n_items, rng, weights=weights)
    assert not is_chosen(drawn_for.astype(np.int64) * n_items + popular, keys).any()
    assert (popular < 5).mean() > 5 * (uniform < 5).mean()


def test_is_chosen_matches_a_set():
    keys = np.array([3, 8, 15, 42])
    asked = np.array([0, 3, 4, 8, 42, 43, 100])
    assert is_chosen(asked, keys).tolist() == [k in {3, 8, 15, 42} for k in asked]


def test_bpr_is_cross_entropy_on_the_difference_of_two_logits():
    import keras

    keras.utils.set_random_seed(0)
    scorer = DotProductNet(4, 6, 3, 0.0)
    triples = np.array([[0, 1, 2], [3, 5, 4], [2, 0, 1]], dtype=np.int32)
    difference = np.asarray(PairwiseDifference(scorer)(triples))
    chosen = np.asarray(scorer(triples[:, [0, 1]]))
    sampled = np.asarray(scorer(triples[:, [0, 2]]))
    np.testing.assert_allclose(difference, chosen - sampled, atol=1e-6)
    bce = keras.losses.BinaryCrossentropy(from_logits=True, reduction=None)
    np.testing.assert_allclose(np.asarray(bce(np.ones((3, 1)), difference[:, None])),
                               np.log1p(np.exp(-difference)), atol=1e-5)


@pytest.mark.parametrize("towers", [("gmf", "mlp"), ("mlp",), ("gmf",)])
def test_neumf_towers_score_pairs(towers):
    network = NeuMFNet(5, 7, 4, 0.0, (8, 4), towers)
    scores = np.asarray(network(np.array([[0, 1], [4, 6]], dtype=np.int32)))
    assert scores.shape == (2,)
    assert len(network.embeddings) == 2 * len(towers)


def test_als_solve_equals_the_direct_sum_over_every_film():
    rng = np.random.default_rng(1)
    fixed = rng.normal(size=(12, 3))
    chosen = sp.csr_matrix((rng.random((4, 12)) < 0.3).astype(float))
    alpha, l2 = 4.0, 0.5
    shortcut = als_solve(fixed, chosen, alpha, l2)
    for row in range(4):
        p = chosen[row].toarray()[0]
        c = np.diag(1 + alpha * p)
        direct = np.linalg.solve(fixed.T @ c @ fixed + l2 * np.eye(3), fixed.T @ c @ p)
        np.testing.assert_allclose(shortcut[row], direct, atol=1e-10)


def _two_tastes(n_users: int = 40, block: int = 5, chosen: int = 4) -> pd.DataFrame:
    """The first half of the users choose among films 0..block-1, the others among the next
    ``block`` films; each chooses ``chosen`` films of their block: all but film
    ``user % block`` of it when ``chosen`` is one short of the block, else drawn at random."""
    rng = np.random.default_rng(0)
    rows = []
    for user in range(n_users):
        first = 0 if user < n_users // 2 else block
        if chosen == block - 1:
            films = [first + f for f in range(block) if f != user % block]
        else:
            films = rng.permutation(block)[:chosen] + first
        rows += [(user, int(film), 4.0, k) for k, film in enumerate(films)]
    return pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])


def test_implicit_als_recommends_the_missing_film_of_the_users_taste():
    ratings = _two_tastes()
    model = ImplicitALS(dim=4, iterations=10).fit(ratings, rating_scale=SCALE)
    for user in (0, 3, 21, 39):
        block = range(5) if user < 20 else range(5, 10)
        assert int(model.recommend(user, n=1)["item"].iloc[0]) == list(block)[user % 5]


def test_bpr_learns_two_tastes():
    """With 30 films to a taste and 12 chosen, the validation HR@10 is not reached by chance
    in the first epoch, and BPR has to learn which half of the catalogue each user likes."""
    ratings = _two_tastes(n_users=60, block=30, chosen=12)
    model = BPRMF(dim=8, epochs=30, batch_size=64, learning_rate=0.02, patience=30).fit(
        ratings, rating_scale=SCALE)
    lists = model.recommend_all(n=1)
    first_half = lists["user"] < 30
    assert (lists.loc[first_half, "item"] < 30).mean() >= 0.9
    assert (lists.loc[~first_half, "item"] >= 30).mean() >= 0.9


def test_without_a_validation_part_one_film_of_each_user_validates():
    ratings = _two_tastes()
    model = ImplicitMF(dim=4, epochs=2, batch_size=64).fit(ratings, rating_scale=SCALE)
    assert len(model.history_) == 2 and "val_hr@10" in model.history_


def test_clear_errors():
    with pytest.raises(ValueError, match="loss must be"):
        ImplicitMF().__class__.__bases__[0](loss="mse")
    with pytest.raises(ValueError, match="n_negatives"):
        BPRMF(n_negatives=0)
    with pytest.raises(ValueError, match="sampling"):
        ImplicitMF(sampling="hard")
    with pytest.raises(ValueError, match="towers"):
        NeuMF(towers=("gmf", "cnn"))
    with pytest.raises(ValueError, match="alpha"):
        ImplicitALS(alpha=-1.0)
    every_film = pd.DataFrame({"user": [0, 0, 1, 1], "item": [0, 1, 0, 1],
                               "rating": [4.0] * 4, "timestamp": [1, 2, 3, 4]})
    with pytest.raises(ValueError, match="Every user chose every film"):
        ImplicitMF(epochs=1).fit(every_film, rating_scale=SCALE)


def test_sampled_hit_rate_against_a_hand_computation():
    """A model whose score is the film id: the held-out film (id 5) beats the sampled films
    below 5 only, so it is in the top 2 exactly when at most one sampled film is above 5."""

    class ById(ImplicitALS):
        def _rank_scores(self, users, items):
            return self.items_.decode(items).astype(float)

    train = pd.DataFrame({"user": np.repeat([0, 1], 2), "item": [0, 1, 0, 2],
                          "rating": 4.0, "timestamp": [1, 2, 3, 4]})
    films = pd.DataFrame({"user": 9, "item": np.arange(12), "rating": 3.0, "timestamp": 0})
    test = pd.DataFrame({"user": [0, 1], "item": [5, 5], "rating": 4.0, "timestamp": [9, 9]})
    split = Split(train=pd.concat([train, films]), test=test, name="toy")
    model = ById(dim=2, iterations=1).fit(split, rating_scale=SCALE)
    rng = np.random.default_rng(3)
    expected = []
    for rated in ({0, 1, 5}, {0, 2, 5}):  # users 0 and 1, test film included
        unrated = np.setdiff1d(np.arange(12), sorted(rated))
        sampled = rng.choice(unrated, 3, replace=False)
        expected.append((sampled > 5).sum() < 2)
    assert sampled_hit_rate(model, split, n_sampled=3, k=2, seed=3) == np.mean(expected)


def test_sampling_more_films_than_a_user_left_unrated_is_a_clear_error():
    train = pd.DataFrame({"user": [0, 0, 1], "item": [0, 1, 2], "rating": [4.0, 3.0, 5.0],
                          "timestamp": [1, 2, 3]})
    test = pd.DataFrame({"user": [0], "item": [2], "rating": 4.0, "timestamp": [9]})
    split = Split(train=train, test=test, name="toy")
    model = ImplicitALS(dim=2, iterations=1).fit(split, rating_scale=SCALE)
    with pytest.raises(ValueError, match="sample at most 0 films"):
        sampled_hit_rate(model, split, n_sampled=1)
