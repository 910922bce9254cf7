"""AutoRec and the deep autoencoder: sparse batches, the masked loss, bad input, cold start."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from coursekit import data as ckd
from coursekit.data.pipelines import SparseRows
from coursekit.data.sparse import check_rating_matrix
from coursekit.errors import InvalidRatingsError, UnknownIdError
from coursekit.models.rating.autoencoders import AutoRec, DeepAutoencoder


@pytest.fixture(scope="module")
def small_split():
    data = ckd.synthetic_movielens(scale=0.0005, seed=3)
    return ckd.random_split(data.ratings, 0.2, 0, dataset=data)


def quick(cls=AutoRec, **kwargs):
    options = dict(hidden_units=(16,), epochs=4, batch_size=32, patience=2, seed=0)
    options.update(kwargs)
    return cls(**options)


def test_sparse_rows_gather_matches_scipy_including_an_empty_row():
    rng = np.random.default_rng(0)
    dense = np.where(rng.random((6, 9)) < 0.3, rng.integers(1, 6, (6, 9)), 0).astype(np.float32)
    dense[2] = 0  # an empty row
    matrix = sp.csr_matrix(dense)
    position, columns, values = SparseRows(matrix).gather(np.array([4, 2, 0], np.int32))
    rebuilt = np.zeros((3, 9), np.float32)
    rebuilt[position.numpy(), columns.numpy()] = values.numpy()
    np.testing.assert_array_equal(rebuilt, dense[[4, 2, 0]])


@pytest.mark.parametrize("values, message", [
    ([np.nan, 3.0], "NaN"), ([0.0, 3.0], "outside the rating scale"),
    ([3.0, 6.5], "outside the rating scale"),
])
def test_bad_stored_values_are_refused_with_a_hint(values, message):
    matrix = sp.csr_matrix(np.array([[1.0, 0.0, 2.0], [0.0, 4.0, 0.0]], np.float32))
    matrix.data[:2] = values
    with pytest.raises(InvalidRatingsError, match=message):
        check_rating_matrix(matrix, (0.5, 5.0))


def test_sparse_and_dense_batches_train_the_same_function(small_split):
    sparse = quick(dense_batches=False, refit=False).fit(small_split)
    dense = quick(dense_batches=True, refit=False).fit(small_split)
    np.testing.assert_allclose(sparse.history_["val_rmse"], dense.history_["val_rmse"],
                               atol=1e-4)
    pairs = small_split.test.head(200)
    np.testing.assert_allclose(sparse.predict_frame(pairs), dense.predict_frame(pairs),
                               atol=1e-3)


def test_training_never_makes_a_scipy_matrix_dense(small_split, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a whole rating matrix was made dense")

    for name in ("toarray", "todense", "__array__"):
        monkeypatch.setattr(sp.csr_matrix, name, refuse, raising=False)
    model = quick(dense_batches=False).fit(small_split)
    assert np.isfinite(model.predict_frame(small_split.test)).all()


@pytest.mark.parametrize("cls", [AutoRec, DeepAutoencoder])
def test_batches_of_empty_rows_give_a_finite_loss(cls, small_split):
    import tensorflow as tf

    model = quick(cls, refit=False).fit(small_split)
    network = model.network_
    matrix = sp.csr_matrix(model.matrix_.shape, dtype=np.float32)  # no rating at all
    network.set_rows(SparseRows(matrix))
    logs = network.train_on_batch(tf.constant(np.arange(8, dtype=np.int32)), return_dict=True)
    assert np.isfinite(logs["loss"])
    assert all(np.isfinite(w.numpy()).all() for w in network.trainable_variables)


def test_autorec_learns_beyond_the_global_mean(small_split):
    from coursekit.evaluation.metrics import rmse

    model = AutoRec(hidden_units=(64,), epochs=40, batch_size=32, seed=0).fit(small_split)
    test = small_split.test
    learned = rmse(test["rating"], model.predict_frame(test))
    flat = rmse(test["rating"], np.full(len(test), model.global_mean_))
    assert learned < flat - 0.05
    assert model.history_["loss"].notna().all()


def test_cold_start_answers_use_the_known_side(small_split):
    model = quick().fit(small_split)
    film = int(small_split.train["item"].iloc[0])
    user = int(small_split.train["user"].iloc[0])
    film_mean = small_split.train.loc[small_split.train["item"] == film, "rating"].mean()
    user_mean = small_split.train.loc[small_split.train["user"] == user, "rating"].mean()
    with pytest.warns(UserWarning):
        new_user = model.predict([10**9], [film])
    assert new_user[0] == pytest.approx(film_mean, abs=1e-4)
    with pytest.raises(UnknownIdError, match="not in the training data"):
        model.predict([user], [10**9])
    new_film = model.predict([user], [10**9], unknown="fallback")
    assert new_film[0] == pytest.approx(user_mean, abs=1e-4)


def test_user_based_autorec_reads_new_users_profiles(small_split):
    by_users = ckd.user_holdout_split(small_split.train, test_users=0.2, seed=0)
    visible, hidden = ckd.hide_ratings(by_users.test, fraction=0.3, seed=0)
    model = quick(orientation="user").fit(by_users)
    predicted = model.predict_from_profiles(visible, hidden)
    assert predicted.shape == (len(hidden),)
    assert np.isfinite(predicted).all()
    assert (predicted >= 0.5).all() and (predicted <= 5.0).all()
    # a profile changes the answer: the same pairs with an emptied profile differ
    without = model.predict_from_profiles(visible.iloc[:0], hidden)
    assert not np.allclose(predicted, without)
    with pytest.raises(ValueError, match="user-based"):
        quick(orientation="item").fit(by_users).predict_from_profiles(visible, hidden)


def test_recommendations_exclude_seen_films_and_are_sorted(small_split):
    model = quick().fit(small_split)
    user = int(small_split.train["user"].iloc[0])
    top = model.recommend(user, n=5)
    seen = set(small_split.train.loc[small_split.train["user"] == user, "item"])
    assert not seen & set(top["item"])
    assert top["score"].is_monotonic_decreasing


def test_invalid_options_are_refused():
    with pytest.raises(ValueError, match="orientation"):
        AutoRec(orientation="film")
    with pytest.raises(ValueError, match="hidden_units"):
        AutoRec(hidden_units=())


def test_labels_say_what_was_trained():
    assert AutoRec().label == "I-AutoRec"
    assert AutoRec(orientation="user", hidden_units=(8, 4, 8)).label == "deep U-AutoRec"
    assert DeepAutoencoder(refeed=False).label == "deep autoencoder (no re-feeding)"


def test_rating_bounded_batches_cover_every_row_once_within_the_bound():
    from coursekit.data.sparse import rating_bounded_batches

    counts = np.array([5, 0, 120, 7, 7, 30, 1, 64, 0, 3])
    batches = rating_bounded_batches(counts, max_ratings=64, seed=1)
    rows = np.concatenate(batches)
    assert sorted(rows.tolist()) == list(range(counts.size))
    for batch in batches:
        assert counts[batch].sum() <= 64 or batch.size == 1


def test_sparse_adagrad_trainer_learns_with_empty_rows(small_split):
    model = quick(hidden_units=(32,), refit=False).fit(small_split)
    matrix = model.matrix_.tolil()
    matrix[0, :] = 0  # an empty row
    matrix = matrix.tocsr()
    matrix.eliminate_zeros()
    trainer = quick(hidden_units=(32,), l2=1.0).sparse_trainer(matrix, max_ratings=500)
    logs = [trainer.train_epoch() for _ in range(4)]
    assert all(np.isfinite(log["loss"]) for log in logs)
    assert logs[-1]["rmse"] < logs[0]["rmse"]
    assert logs[0]["batches"] > 1


def test_scoring_chunks_are_bounded_by_training_ratings():
    from coursekit.data.sparse import rows_by_ratings

    counts = np.array([5, 1, 7, 2, 2, 9, 0])
    rows = np.array([0, 1, 2, 3, 4, 5, 6])
    chunks = rows_by_ratings(rows, counts, max_ratings=8)
    assert [c.tolist() for c in chunks] == [[0, 1], [2], [3, 4], [5], [6]]
    assert np.concatenate(chunks).tolist() == rows.tolist()  # every row once, in order
    assert all(counts[c].sum() <= 8 or c.size == 1 for c in chunks)
