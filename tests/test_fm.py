"""Factorization machines on side information: the O(kn) identity, the feature rows, and a
fit that learns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from coursekit import data as ckd
from coursekit.data.movielens import MovieLens
from coursekit.data.splits import Split
from coursekit.errors import RatingsNotPredictedError
from coursekit.evaluation import metrics
from coursekit.models import (
    BayesianFactorizationMachine,
    BiasBaseline,
    DeepCrossNetwork,
    DeepFM,
    FactorizationMachine,
)
from coursekit.models.checks import contract_split
from coursekit.models.rating.blend import LinearBlend, blend_weights
from coursekit.models.rating.feature_rows import BLOCKS, FeatureBlocks
from coursekit.models.rating.fm_networks import (
    DeepCrossNet,
    DeepFMNet,
    FactorizationMachineNet,
    as_sparse_tensor,
    field_embeddings,
    pairwise_interactions,
    pairwise_interactions_directly,
    spread_by_field,
)
from coursekit.models.training.refit import holdout_mask


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


@pytest.fixture(scope="module")
def planted_machine() -> tuple[Split, FactorizationMachine]:
    """The planted split and a factorization machine fitted on it, shared by the tests that
    only read the fitted machine."""
    split = planted_split()
    return split, FactorizationMachine(dim=4, epochs=30, learning_rate=0.02, batch_size=64,
                                       seed=0).fit(split)


def test_the_machine_learns_an_interaction_of_side_features(planted_machine):
    split, model = planted_machine
    truth = split.test["rating"]
    error = metrics.rmse(truth, model.predict_frame(split.test))
    assert error < 0.6 * metrics.rmse(truth, np.full(len(truth), split.train["rating"].mean()))
    assert model.best_epoch_ >= 1 and len(model.history_) >= model.best_epoch_


def test_weight_decay_shrinks_the_weights_of_features_absent_from_the_batch():
    """The penalty reaches only the features present in a batch; decoupled weight decay
    shrinks every weight but w0 at every step."""
    import keras

    columns = {"user": (0, 2), "item": (2, 4)}
    sides = (sp.csr_matrix(np.eye(2, 4, dtype=np.float32)),  # users: columns 0 and 1
             sp.csr_matrix(np.eye(2, 4, 2, dtype=np.float32)))  # films: columns 2 and 3
    batch = np.array([[0, 0]], np.int32)  # the first user and the first film
    target = np.array([4.0], np.float32)
    absent = [1, 3]  # the second user and the second film are not in the batch
    after = {}
    for label, settings in {"penalty": {"l2": 1e-2, "weight_decay": 0.0},
                            "weight decay": {"l2": 0.0, "weight_decay": 0.5}}.items():
        model = FactorizationMachine(weight_averaging=None, learning_rate=0.1, **settings)
        keras.utils.set_random_seed(0)
        network = FactorizationMachineNet(columns, sides, 3, settings["l2"], 3.5)
        network(batch)
        network.w.assign(np.ones((4, 1), np.float32))
        before_v = np.asarray(network.v)[absent].copy()
        network.compile(optimizer=model._make_optimizer(), loss="mse")
        network.fit(batch, target, epochs=1, verbose=0)
        after[label] = (np.asarray(network.w)[absent, 0], np.asarray(network.v)[absent],
                        before_v, float(np.asarray(network.w0)))
    w, v, v0, w0 = after["penalty"]
    np.testing.assert_allclose(w, 1.0)  # untouched: not in the batch
    np.testing.assert_allclose(v, v0)
    np.testing.assert_allclose(w0, 3.4, atol=1e-4)
    w, v, v0, w0 = after["weight decay"]
    np.testing.assert_allclose(w, 1.0 - 0.1 * 0.5, rtol=1e-5)  # shrunk by lr * decay
    np.testing.assert_allclose(v, v0 * (1.0 - 0.1 * 0.5), rtol=1e-5)
    # w0: Adam's first step (0.1) towards the rating, and no decay towards zero
    np.testing.assert_allclose(w0, 3.4, atol=1e-4)


@pytest.mark.parametrize("network_class", [FactorizationMachineNet, DeepFMNet, DeepCrossNet])
def test_pairs_score_as_the_sum_of_their_users_and_films_parts(network_class):
    """A network reads (user, film) index pairs; each score must equal the one of the pair's
    whole row (the user's part plus the film's), for the training sides and for others."""
    import keras

    rng = np.random.default_rng(2)
    columns = {"user": (0, 3), "age": (3, 5), "item": (5, 9), "rated_by": (9, 12)}
    users = rng.random((3, 12)) * (rng.random((3, 12)) < 0.7) * (np.arange(12) < 5)
    films = rng.random((4, 12)) * (rng.random((4, 12)) < 0.7) * (np.arange(12) >= 5)
    sides = (sp.csr_matrix(users, dtype=np.float32), sp.csr_matrix(films, dtype=np.float32))
    keras.utils.set_random_seed(0)
    network = network_class(columns, sides, 4, 0.0, 3.0)
    pairs = np.array([[0, 0], [0, 3], [2, 1], [1, 2], [2, 2]], np.int32)
    network(pairs)  # creates the weights
    network.w.assign(rng.normal(size=(12, 1)).astype(np.float32))  # not zero, as trained
    network.v.assign(rng.normal(size=(12, 4)).astype(np.float32))
    scores = np.asarray(network(pairs))
    rows = users[pairs[:, 0]] + films[pairs[:, 1]]
    whole = network.score(np.stack([np.arange(5), np.arange(5)], 1).astype(np.int32),
                          (as_sparse_tensor(sp.csr_matrix(rows * (np.arange(12) < 5))),
                           as_sparse_tensor(sp.csr_matrix(rows * (np.arange(12) >= 5)))))
    np.testing.assert_allclose(scores, np.asarray(whole), rtol=1e-5, atol=1e-5)
    if network_class is FactorizationMachineNet:  # the machine's formula on the whole rows
        w, v = np.asarray(network.w), np.asarray(network.v)
        direct = 3.0 + rows @ w[:, 0] + pairwise_interactions_directly(rows, v)
        np.testing.assert_allclose(scores, direct, rtol=1e-4, atol=1e-4)
    else:  # the deep part reads each pair's own field embeddings
        fields = np.stack([rows[:, a:b] @ np.asarray(network.v)[a:b]
                           for a, b in columns.values()], axis=1).reshape(5, -1)
        np.testing.assert_allclose(network.flat_field_embeddings(pairs, network.sides),
                                   fields, rtol=1e-5, atol=1e-5)


def test_negative_regularisation_is_refused():
    with pytest.raises(ValueError, match="weight_decay"):
        FactorizationMachine(weight_decay=-0.1)


def test_field_embeddings_sum_each_block_of_a_row():
    rng = np.random.default_rng(1)
    columns = {"a": (0, 3), "b": (3, 7), "c": (7, 9)}
    x = rng.random((5, 9)) * (rng.random((5, 9)) < 0.6)
    v = rng.normal(size=(9, 4)).astype(np.float32)
    net = DeepFMNet(columns, (sp.csr_matrix((1, 9)),) * 2, 4, 0.0, 0.0)
    spread = spread_by_field(as_sparse_tensor(sp.csr_matrix(x)), net.field_of_column,
                             net.n_fields)
    fields = np.asarray(field_embeddings(spread, v, net.n_fields))
    expected = np.stack([x[:, a:b] @ v[a:b] for a, b in columns.values()], axis=1)
    np.testing.assert_allclose(fields, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", [DeepFM, DeepCrossNetwork])
def test_deep_variants_learn_the_planted_interaction(kind):
    split = planted_split()
    # their output starts near zero from small factors: a plateau of a few epochs comes first;
    # eight hidden units are too few for the chapter's dropout of 0.7
    model = kind(dim=4, epochs=30, learning_rate=0.02, batch_size=64, hidden_units=(8,),
                 dropout=0.2, patience=10, seed=0).fit(split)
    truth = split.test["rating"]
    error = metrics.rmse(truth, model.predict_frame(split.test))
    assert error < 0.6 * metrics.rmse(truth, np.full(len(truth), split.train["rating"].mean()))


def without_films(split: Split, films: list[int]) -> Split:
    """``split`` with every training rating of ``films`` moved to its test part."""
    gone = split.train["item"].isin(films)
    test = pd.concat([split.test, split.train[gone]], ignore_index=True)
    return Split(split.train[~gone].reset_index(drop=True), test, dataset=split.dataset,
                 rating_scale=split.rating_scale)


def test_an_unseen_film_is_predicted_from_its_features():
    split = planted_split()
    comedy = split.dataset.items.set_index("item")["genres"].map(lambda g: g == ["Comedy"])
    films = [int(comedy[comedy].index[0]), int(comedy[~comedy].index[0])]
    cold = without_films(split, films)
    model = FactorizationMachine(dim=4, epochs=30, learning_rate=0.02, batch_size=64,
                                 seed=0).fit(cold)
    men = split.dataset.users.loc[split.dataset.users["gender"] == "M", "user"].to_numpy()[:5]
    for film, men_like_it in zip(films, (True, False), strict=True):
        for_men = model.predict(men, np.full(men.size, film), unknown="fallback")
        assert ((for_men > 3) == men_like_it).all()  # the features decide, not the mean
    rows = cold.test[cold.test["item"].isin(films)]
    truth = rows["rating"].to_numpy()
    assert metrics.rmse(truth, model.predict_frame(rows)) < 0.6 * metrics.rmse(
        truth, np.full(truth.size, cold.train["rating"].mean()))


def test_a_new_user_gets_a_list_from_demographics(planted_machine):
    split, model = planted_machine
    genres = split.dataset.items.set_index("item")["genres"]
    for gender, genre in (("M", ["Comedy"]), ("F", ["Drama"])):
        top = model.recommend_new_user(30, gender, "writer", n=5)
        assert (top["item"].map(genres).map(lambda g, genre=genre: g == genre)).all()
        assert list(top.index) == [1, 2, 3, 4, 5] and top["score"].is_monotonic_decreasing
    with pytest.raises(ValueError, match="demographics"):
        FactorizationMachine(blocks=("user", "item"), epochs=1).fit(split).recommend_new_user(
            30, "M", "writer")


def test_the_click_task_scores_clicks_and_refuses_ratings():
    split = planted_split()
    model = FactorizationMachine(dim=4, epochs=30, learning_rate=0.02, batch_size=64, seed=0,
                                 task="click", click_threshold=3.0).fit(split)
    clicked = (split.test["rating"] >= 3).to_numpy()
    chance = model.click_probability(split.test["user"], split.test["item"])
    assert ((chance > 0) & (chance < 1)).all()
    assert metrics.auc(clicked, chance) > 0.95
    constant = metrics.log_loss(clicked, np.full(clicked.size, clicked.mean()))
    assert metrics.log_loss(clicked, chance) < 0.5 * constant
    unseen = model.click_probability([1, 1], [999, 1])  # a film never seen: its features
    assert ((unseen > 0) & (unseen < 1)).all()
    with pytest.raises(RatingsNotPredictedError):
        model.predict(split.test["user"][:2], split.test["item"][:2])
    with pytest.raises(ValueError, match="task"):
        FactorizationMachine(task="clicks")


def test_log_loss_and_auc_match_their_definitions():
    from sklearn.metrics import log_loss, roc_auc_score

    rng = np.random.default_rng(0)
    clicked = rng.random(200) < 0.4
    scores = np.round(rng.random(200), 1)  # with ties
    assert metrics.auc(clicked, scores) == pytest.approx(roc_auc_score(clicked, scores))
    assert metrics.log_loss(clicked, scores) == pytest.approx(
        log_loss(clicked, np.clip(scores, 1e-7, 1 - 1e-7)))
    with pytest.raises(ValueError, match="both clicks and non-clicks"):
        metrics.auc(np.ones(3, bool), np.arange(3))


def test_blend_weights_recover_a_known_combination():
    rng = np.random.default_rng(0)
    predictions = rng.normal(size=(500, 3))
    ratings = 0.5 + predictions @ np.array([0.6, 0.3, 0.0])
    weights, intercept = blend_weights(predictions, ratings, ridge=1e-6)
    np.testing.assert_allclose(weights, [0.6, 0.3, 0.0], atol=1e-4)
    assert intercept == pytest.approx(0.5, abs=1e-4)


def test_a_blend_fits_its_weights_on_ratings_its_members_never_saw():
    split = planted_split()
    settings = {"dim": 4, "epochs": 20, "learning_rate": 0.02, "batch_size": 64}
    blend = LinearBlend({"FM": FactorizationMachine(**settings),
                         "biases": BiasBaseline()}).fit(split)
    assert list(blend.weights_.index) == ["FM", "biases"]
    held = blend.held_predictions_
    # the blend is at least as good as its best member on the part its weights came from
    fitted = held.to_numpy() @ blend.weights_.to_numpy() + blend.intercept_
    assert metrics.rmse(blend.held_ratings_, fitted) <= min(
        metrics.rmse(blend.held_ratings_, held[name]) for name in held) + 1e-9
    # the held-out predictions come from models that never learned from those ratings
    mask = holdout_mask(len(split.train), 0.1, seed=0)
    rest, held_out = split.train[~mask], split.train[mask]
    np.testing.assert_array_equal(blend.held_ratings_, held_out["rating"])
    alone = Split(rest, held_out, validation=held_out, dataset=split.dataset)
    np.testing.assert_allclose(held["biases"], BiasBaseline().fit(alone).predict_frame(held_out),
                               rtol=1e-6)
    fm_alone = FactorizationMachine(**settings, refit=False).fit(alone)
    np.testing.assert_allclose(held["FM"], fm_alone.predict_frame(held_out), atol=1e-3)
    # and then every member was fitted on all the training ratings
    fm, biases = blend.members.values()
    assert fm.epochs_trained_ > fm.best_epoch_  # the refit after early stopping
    assert biases.seen_.sum() == len(split.train)
    assert not np.allclose(biases.predict_frame(held_out), held["biases"])
    truth = split.test["rating"]
    assert metrics.rmse(truth, blend.predict_frame(split.test)) < 0.6 * metrics.rmse(
        truth, np.full(len(truth), split.train["rating"].mean()))


def test_a_blend_uses_a_member_already_fitted_on_the_same_ratings():
    split = planted_split()
    fm = FactorizationMachine(dim=4, epochs=20, learning_rate=0.02, batch_size=64).fit(split)
    network = fm.network_
    blend = LinearBlend({"FM": fm, "biases": BiasBaseline()}).fit(split)
    assert blend.members["FM"].network_ is network  # not fitted again
    np.testing.assert_array_equal(blend.held_predictions_["FM"],
                                  fm.validation_predictions_["prediction"])
    # another held-out part (another seed) does not match: the member is fitted again
    LinearBlend({"FM": fm}, seed=1).fit(split)
    assert fm.network_ is not network


def test_the_bayesian_machine_learns_the_interaction_and_reads_features_cold():
    pytest.importorskip("myfm")
    split = planted_split()
    comedy = split.dataset.items.set_index("item")["genres"].map(lambda g: g == ["Comedy"])
    film = int(comedy[comedy].index[0])
    cold = without_films(split, [film])
    model = BayesianFactorizationMachine(rank=4, n_iter=60, n_kept_samples=40).fit(cold)
    truth = cold.test["rating"]
    assert metrics.rmse(truth, model.predict_frame(cold.test)) < 0.6 * metrics.rmse(
        truth, np.full(len(truth), cold.train["rating"].mean()))
    men = split.dataset.users.loc[split.dataset.users["gender"] == "M", "user"].to_numpy()[:5]
    assert (model.predict(men, np.full(men.size, film), unknown="fallback") > 3).all()
    with pytest.raises(ValueError, match="n_kept_samples"):
        BayesianFactorizationMachine(n_iter=10, n_kept_samples=20)
