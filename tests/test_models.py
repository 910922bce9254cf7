"""The model interface every coursekit model shares, and its behaviour on bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from coursekit import data as ckd
from coursekit.errors import UnknownIdError
from coursekit.evaluation import metrics
from coursekit.models import (
    BiasBaseline,
    GlobalMean,
    MatrixFactorization,
    NeuralCF,
    NotFittedError,
    Popularity,
    Recommender,
    SurpriseRecommender,
    TimeAwareBiases,
)


@pytest.fixture(scope="module")
def split(ml100k):
    return ckd.rating_protocol(ml100k)


@pytest.fixture(scope="module")
def small_mf(split):
    return MatrixFactorization(n_factors=16, epochs=2, refit=False, seed=1).fit(split)


def test_global_mean_predicts_the_training_mean(split):
    model = GlobalMean().fit(split)
    assert np.allclose(model.predict([1, 2], [1, 2]), split.train["rating"].mean())


def test_bias_baseline_matches_a_direct_least_squares_solution():
    ratings = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": [1, 2, 1, 2, 1],
                            "rating": [5.0, 3.0, 4.0, 2.0, 3.0], "timestamp": range(5)})
    split = ckd.Split(ratings, ratings.head(1), rating_scale=(1, 5))
    model = BiasBaseline(reg_user=0.5, reg_item=0.5, n_iter=200).fit(split)
    # The same objective solved as one ridge regression on indicator features.
    users, items = model._encode(ratings)[:2]
    features = np.hstack([np.eye(3)[users], np.eye(2)[items]])
    target = ratings["rating"].to_numpy() - ratings["rating"].mean()
    solution = np.linalg.solve(features.T @ features + 0.5 * np.eye(5), features.T @ target)
    assert np.allclose(np.concatenate([model.user_bias_, model.item_bias_]), solution, atol=1e-6)


def test_bias_baseline_folds_in_a_new_user_without_retraining():
    ratings = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": [1, 2, 1, 2, 1],
                            "rating": [5.0, 3.0, 4.0, 2.0, 3.0], "timestamp": range(5)})
    model = BiasBaseline(reg_user=2.0, reg_item=0.5).fit(
        ckd.Split(ratings, ratings.head(1), rating_scale=(1, 5)))
    # user 9 rated film 1 one star above its fitted score, and a film the model never saw
    liked = model.mu_ + model.item_bias_[model.items_.encode(np.array([1]))[0]] + 1.0
    profiles = pd.DataFrame({"user": [9, 9], "item": [1, 77], "rating": [liked, model.mu_]})
    pairs = pd.DataFrame({"user": [9, 9, 10], "item": [2, 78, 2]})
    predicted = model.predict_from_profiles(profiles, pairs)
    bias_2 = model.item_bias_[model.items_.encode(np.array([2]))[0]]
    folded = 1.0 / (2.0 + 2)  # residuals 1 and 0, shrunk by reg_user + n
    assert np.allclose(predicted, [model.mu_ + folded + bias_2, model.mu_ + folded,
                                   model.mu_ + bias_2])  # no profile: no user bias
    with pytest.raises(Exception, match="item"):
        model.predict_from_profiles(profiles, pairs.rename(columns={"item": "film"}))


def test_bias_baseline_beats_the_global_mean_on_rating(split):
    scores = metrics.compare({"mean": GlobalMean().fit(split),
                              "bias": BiasBaseline().fit(split)}, split.test)
    assert scores.loc["bias", "RMSE"] < scores.loc["mean", "RMSE"] - 0.15


def test_popularity_lists_respect_their_thresholds(split):
    popularity = Popularity().fit(split.train)
    counts = split.train.groupby("item")["rating"].agg(["size", "mean"])
    highest = popularity.highest_rated(10, min_count=100)
    assert (counts.loc[highest["item"], "size"] > 100).all()
    assert highest["mean"].is_monotonic_decreasing
    most = popularity.most_rated(10, min_mean=4.0)
    assert (counts.loc[most["item"], "mean"] > 4.0).all()
    assert most["count"].is_monotonic_decreasing
    eligible = counts[counts["mean"] > 4.0]
    assert most["count"].iloc[0] == eligible["size"].max()


@pytest.mark.parametrize("model_factory", [GlobalMean, BiasBaseline])
def test_model_used_before_fit_says_so(model_factory):
    with pytest.raises(NotFittedError, match="fit"):
        model_factory().predict([1], [1])
    with pytest.raises(NotFittedError):
        model_factory().recommend(1)


def test_unknown_item_is_a_clear_error_and_fallback_is_explicit(split):
    model = BiasBaseline().fit(split)
    with pytest.raises(UnknownIdError, match="unknown='fallback'"):
        model.predict([1], [999_999])
    fallback = model.predict([1], [999_999], unknown="fallback")
    assert np.isclose(fallback[0], model.mu_ + model.user_bias_[model.users_.encode([1])[0]])


def test_unknown_user_gets_popularity_with_a_warning(split, small_mf):
    for model in (BiasBaseline().fit(split), small_mf):
        with pytest.warns(UserWarning, match="cold-start fallback"):
            top = model.recommend(123_456, n=5)
        expected = model.popularity_.highest_rated(5)["item"].tolist()
        assert top["item"].tolist() == expected
        assert top.attrs["source"] == "popularity"
        with pytest.warns(UserWarning, match="users not seen"):
            model.predict([123_456], [50])


def test_recommend_excludes_seen_items_and_sorts_by_score(split, small_mf):
    user = 42
    top = small_mf.recommend(user, n=20)
    seen = set(split.train.loc[split.train["user"] == user, "item"])
    assert len(top) == 20 and not (set(top["item"]) & seen)
    assert top["score"].is_monotonic_decreasing
    assert top["title"].str.len().gt(0).all() and "?" not in top["title"].tolist()
    direct = small_mf.predict([user] * 20, top["item"].to_numpy())
    assert np.allclose(direct, top["score"], atol=1e-5)


def test_predictions_stay_inside_the_rating_scale(split, small_mf):
    for model in (BiasBaseline(reg_user=0, reg_item=0).fit(split), small_mf):
        users = np.repeat(split.train["user"].unique()[:30], 60)
        items = np.tile(split.train["item"].unique()[:60], 30)
        predicted = model.predict(users, items)
        assert predicted.min() >= 1.0 and predicted.max() <= 5.0


def test_mf_row_wise_dot_product_matches_numpy(small_mf):
    user_vectors, item_vectors = small_mf.embeddings()
    net = small_mf.network_
    u, i = np.array([0, 5, 9]), np.array([3, 3, 700])
    user_bias = np.asarray(net.user_bias.embeddings)[:, 0]
    item_bias = np.asarray(net.item_bias.embeddings)[:, 0]
    logit = (float(net.offset.numpy()) + np.sum(user_vectors[u] * item_vectors[i], axis=1)
             + user_bias[u] + item_bias[i])
    expected = 0.5 + 5.0 / (1.0 + np.exp(-logit))
    assert np.allclose(small_mf._predict_known(u, i), expected, atol=1e-5)


def test_save_and_load_give_identical_predictions(split, small_mf, tmp_path):
    for model in (small_mf, BiasBaseline().fit(split)):
        folder = model.save(tmp_path / type(model).__name__)
        again = Recommender.load(folder)
        pairs = split.test.head(50)
        assert np.array_equal(model.predict_frame(pairs), again.predict_frame(pairs))
        assert again.recommend(7, 5)["item"].tolist() == model.recommend(7, 5)["item"].tolist()
    with pytest.raises(TypeError, match="holds a MatrixFactorization"):
        BiasBaseline.load(tmp_path / "MatrixFactorization")


def test_keras_training_is_reproducible(split):
    runs = [MatrixFactorization(n_factors=8, epochs=2, refit=False, seed=3).fit(split)
            for _ in range(2)]
    pairs = split.test.head(100)
    assert np.array_equal(runs[0].predict_frame(pairs), runs[1].predict_frame(pairs))


def test_ncf_trains_on_centred_ratings(split):
    model = NeuralCF(n_factors=8, hidden_units=(32,), epochs=2, refit=False, seed=0).fit(split)
    assert model.offset_ == pytest.approx(split.train["rating"].mean(), abs=0.01)
    assert np.isfinite(model.predict_frame(split.test.head(100))).all()


def test_surprise_wrapper_reports_with_the_same_metrics(split):
    import surprise

    model = SurpriseRecommender(surprise.SVD(n_epochs=5, random_state=0), name="SVD").fit(split)
    assert model.name == "Surprise SVD"
    scores = metrics.evaluate_ratings(model, split.test)
    assert 0.9 < scores["RMSE"] < 1.0 and scores["cold-start"] == 34
    # Surprise is asked about our encoded ids: check it agrees with its own raw-id lookup.
    row = split.test.iloc[0]
    ours = model.predict([row["user"]], [row["item"]], unknown="fallback")[0]
    u, i = model.users_.encode([row["user"]])[0], model.items_.encode([row["item"]])[0]
    assert np.isclose(ours, np.clip(model.algorithm.predict(u, i).est, 1, 5), atol=1e-5)


def test_metrics_reject_nan_and_empty_input():
    with pytest.raises(ValueError, match="NaN"):
        metrics.rmse([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(ValueError, match="empty"):
        metrics.mae([], [])
    assert metrics.rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(np.sqrt(4 / 3))
    assert metrics.mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)
    assert metrics.mape([2, 4], [1, 5]) == pytest.approx(37.5)


def test_no_warning_for_a_known_user(split, small_mf):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small_mf.recommend(1, 3)
        small_mf.predict([1], [1])


def test_surprise_is_tuned_on_a_validation_part_of_the_training_ratings(split):
    import surprise

    from coursekit.models import tune_surprise

    grid = {"reg_all": [0.02, 0.5], "n_epochs": [2, 8]}
    small = ckd.Split(split.train.sample(8_000, random_state=0), split.test, name="small")
    model, table = tune_surprise(surprise.SVD, grid, small, random_state=0, progress=False)
    assert len(table) == 4 and table["validation RMSE"].is_monotonic_increasing
    assert model.tuned_settings_ == {key: table.loc[0, key].item() for key in grid}
    assert model.name == "Surprise SVD (tuned)" and model.fitted_
    assert len(model.users_) == small.train["user"].nunique()  # refitted on all of train
    # the test part plays no part: test ratings turned upside down leave the table unchanged
    flipped = small.test.assign(rating=6 - small.test["rating"])
    again = tune_surprise(surprise.SVD, grid, ckd.Split(small.train, flipped, name="flipped"),
                          random_state=0, progress=False)[1]
    pd.testing.assert_frame_equal(again, table)


def _epochs_of(data, steps: int, epochs: int) -> list[list[tuple]]:
    batches = iter(data)
    return [[next(batches) for _ in range(steps)] for _ in range(epochs)]


@pytest.mark.parametrize("shuffle", [True, "batch", False])
def test_epoch_batches_cover_every_example_once_per_epoch(shuffle):
    from coursekit.models.training.keras_base import epoch_batches

    x, y = np.arange(10, dtype=np.int32) * 10, np.arange(10, dtype=np.float32)
    data, steps = epoch_batches((x, y), batch_size=4, seed=0, shuffle=shuffle)
    assert steps == 3
    epochs = _epochs_of(data, steps, 3)
    for batches in epochs:
        assert [len(b[0]) for b in batches if len(b[0]) < 4] == [2]  # one partial batch
        xs = np.concatenate([b[0].numpy() for b in batches])
        assert np.array_equal(np.concatenate([b[1].numpy() for b in batches]) * 10, xs)
        assert sorted(xs.tolist()) == x.tolist()
    orders = [tuple(np.concatenate([b[0].numpy() for b in batches])) for batches in epochs]
    assert (len(set(orders)) == 1) == (shuffle is False)  # a new order every epoch
    if shuffle == "batch":  # the batches themselves stay whole
        for batches in epochs:
            assert sorted(tuple(b[0].numpy()) for b in batches) == [(0, 10, 20, 30),
                                                                    (40, 50, 60, 70), (80, 90)]


def test_epoch_batches_are_the_same_for_the_same_seed_and_differ_across_seeds():
    from coursekit.models.training.keras_base import epoch_batches

    x = np.arange(50, dtype=np.int32)

    def order(seed):
        data, steps = epoch_batches((x,), batch_size=8, seed=seed)
        return [np.concatenate([b[0].numpy() for b in epoch])
                for epoch in _epochs_of(data, steps, 2)]

    assert all(np.array_equal(a, b) for a, b in zip(order(3), order(3), strict=True))
    assert not np.array_equal(order(3)[0], order(4)[0])


def test_fixed_batches_keep_the_order_and_the_last_partial_batch():
    from coursekit.models.training.keras_base import fixed_batches

    x = np.arange(10, dtype=np.int32).reshape(5, 2)
    batches = [b[0].numpy() for b in fixed_batches((x,), batch_size=2)]
    assert [len(b) for b in batches] == [2, 2, 1]
    assert np.array_equal(np.concatenate(batches), x)
    assert [len(b[0]) for b in fixed_batches((x,), batch_size=8)] == [5]


def test_fit_arrays_needs_one_step_or_one_epoch_per_call():
    import keras

    from coursekit.models.training.keras_base import fit_arrays

    x, y = np.zeros((10, 2), np.float32), np.zeros(10, np.float32)
    network = keras.Sequential([keras.layers.Dense(1)])
    network.compile("adam", "mse", steps_per_execution=2)
    with pytest.raises(ValueError, match="epoch's 3 batches"):
        fit_arrays(network, (x, y), epochs=1, batch_size=4, seed=0)
    network.compile("adam", "mse", steps_per_execution=3)
    history = fit_arrays(network, (x, y), epochs=2, batch_size=4, seed=0, validation=(x, y))
    assert len(history.history["val_loss"]) == 2



def moody_table(seed: int = 0) -> pd.DataFrame:
    """30 users rating 20 films over three days each, every user in a mood of their own on
    each day (-1, 0 or +1 on the ratings), with a little noise."""
    rng = np.random.default_rng(seed)
    users, items = np.nonzero(rng.random((30, 20)) < 0.6)
    days = rng.integers(0, 3, users.size)
    mood = rng.integers(-1, 2, (30, 3)).astype(float)
    quality = rng.normal(0, 0.5, 20)
    ratings = 3 + quality[items] + mood[users, days] + rng.normal(0, 0.1, users.size)
    return pd.DataFrame({"user": users + 1, "item": items + 1, "rating": ratings,
                         "timestamp": days * 86_400 + rng.integers(0, 86_400, users.size)})


def test_time_aware_biases_match_a_direct_least_squares_solution():
    table = moody_table().head(80)
    model = TimeAwareBiases(reg_user=0.5, reg_item=1.0, reg_day=2.0, n_iter=2000).fit(
        table, rating_scale=(0, 6))
    # the same objective as one ridge regression on indicators of user, film and user-day
    users, items = model._encode(table)[:2]
    user_days = pd.MultiIndex.from_arrays([users, table["timestamp"].to_numpy() // 86_400])
    user_day = model.user_days_.get_indexer(user_days)
    assert (user_day >= 0).all()
    sizes = [len(model.users_), len(model.items_), len(model.user_days_)]
    features = np.hstack([np.eye(size)[index] for size, index in
                          zip(sizes, (users, items, user_day), strict=True)])
    penalty = np.repeat([0.5, 1.0, 2.0], sizes)
    target = table["rating"].to_numpy() - table["rating"].mean()
    solution = np.linalg.solve(features.T @ features + np.diag(penalty), features.T @ target)
    fitted = np.concatenate([model.user_bias_, model.item_bias_, model.day_bias_])
    np.testing.assert_allclose(fitted, solution, atol=1e-6)


def test_time_aware_biases_follow_each_users_day():
    split = ckd.random_split(moody_table(), 0.2, seed=0)
    timed = TimeAwareBiases().fit(split)
    truth = split.test["rating"]
    with_time = metrics.rmse(truth, timed.predict_frame(split.test))
    plain = metrics.rmse(truth, BiasBaseline().fit(split).predict_frame(split.test))
    assert with_time < 0.7 * plain
    # without the time, or on a day the user never rated on, the day adds nothing
    users, items = split.test["user"].to_numpy(), split.test["item"].to_numpy()
    without = timed.predict(users, items, "fallback")
    np.testing.assert_allclose(
        timed.predict(users, items, "fallback", timestamps=np.full(users.size, 10**9)), without)
    assert not np.allclose(timed.predict_frame(split.test), without)
    untimed = split.test.drop(columns="timestamp")
    np.testing.assert_allclose(timed.predict_frame(untimed), without)


def test_the_time_of_a_rating_goes_only_where_it_is_read(split):
    model = BiasBaseline().fit(split)
    with pytest.raises(TypeError, match="does not read the time"):
        model.predict([1], [1], timestamps=[0])
    timed = TimeAwareBiases().fit(split)
    with pytest.raises(ValueError, match="one time per"):
        timed.predict([1, 2], [1, 1], timestamps=[0])


def test_a_blend_passes_the_time_to_the_members_that_read_it():
    from coursekit.models.rating.blend import LinearBlend

    split = ckd.random_split(moody_table(), 0.2, seed=0)
    blend = LinearBlend({"biases": BiasBaseline(), "timed": TimeAwareBiases()}).fit(split)
    assert blend.weights_["timed"] > 0.5  # the day's bias is most of what there is to learn
    # its held-out part was predicted at each rating's time too: the weights saw the days
    held = blend.held_predictions_
    assert metrics.rmse(blend.held_ratings_, held["timed"]) < 0.7 * metrics.rmse(
        blend.held_ratings_, held["biases"])
    members = np.column_stack([member.predict_frame(split.test)
                               for member in blend.members.values()])
    expected = np.clip(members @ blend.weights_.to_numpy() + blend.intercept_,
                       *blend.rating_scale)
    np.testing.assert_allclose(blend.predict_frame(split.test), expected, rtol=1e-5)
    without = blend.predict(split.test["user"], split.test["item"], "fallback")
    truth = split.test["rating"]
    assert metrics.rmse(truth, blend.predict_frame(split.test)) < 0.7 * metrics.rmse(truth, without)


def test_times_may_be_datetimes_but_not_missing():
    table = moody_table()
    as_dates = table.assign(timestamp=pd.to_datetime(table["timestamp"], unit="s"))
    validated = ckd.validate_ratings(as_dates)
    np.testing.assert_array_equal(validated["timestamp"], table["timestamp"])  # in seconds
    model = TimeAwareBiases().fit(table)
    users, items = table["user"].head(5), table["item"].head(5)
    np.testing.assert_allclose(
        model.predict(users, items, timestamps=as_dates["timestamp"].head(5)),
        model.predict(users, items, timestamps=table["timestamp"].head(5)))
    with pytest.raises(ValueError, match="missing"):
        model.predict(users, items, timestamps=[0, 1, np.nan, 3, 4])


def test_verbose_training_shows_a_progress_bar_instead_of_a_line_per_epoch(split, capsys):
    model = MatrixFactorization(n_factors=4, epochs=3, batch_size=4096, refit=False, seed=0)
    model.fit(split, verbose=1)
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing on the page
    assert f"{model.name}:" in captured.err and "3/3" in captured.err  # the bar, in stderr
    assert "val_rmse=" in captured.err
