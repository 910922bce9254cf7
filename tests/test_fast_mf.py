"""The fast matrix factorization trainer of chapter 14 and its row-wise Adagrad."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coursekit import data as ckd
from coursekit.evaluation import metrics
from coursekit.models.rating.fast_mf import (
    FastMatrixFactorization,
    FastMatrixFactorizationNet,
    mf_gradients,
)


def _network(n_users=7, n_items=5, n_factors=4, l2=0.03):
    import keras

    keras.utils.set_random_seed(0)
    net = FastMatrixFactorizationNet(n_users, n_items, n_factors, l2, (0.5, 5.5), 3.5, 0)
    for table in (net.user_factors, net.item_factors):  # away from the tiny initial values
        table.embeddings.assign(np.random.default_rng(1).normal(0, 0.5, table.embeddings.shape))
    for table in (net.user_bias, net.item_bias):
        table.embeddings.assign(np.random.default_rng(2).normal(0, 0.3, table.embeddings.shape))
    return net


def test_closed_form_gradients_match_automatic_differentiation():
    import tensorflow as tf

    net = _network()
    users = tf.constant([0, 3, 3, 6, 0, 2], tf.int32)
    items = tf.constant([1, 1, 4, 0, 2, 1], tf.int32)
    ratings = tf.constant([4.0, 2.0, 5.0, 1.0, 3.5, 4.5])
    user_rows, user_slot = tf.unique(users)
    item_rows, item_slot = tf.unique(items)
    predictions, grads = mf_gradients(net, users, items, ratings, user_slot, item_slot,
                                      tf.size(user_rows), tf.size(item_rows))
    tables = [net.user_factors.embeddings, net.item_factors.embeddings,
              net.user_bias.embeddings, net.item_bias.embeddings, net.offset]
    with tf.GradientTape() as tape:
        out = net(tf.stack([users, items], 1))
        # the summed loss: the batch size times chapter 3's mean loss
        loss = 6.0 * (tf.reduce_mean(tf.square(out - ratings)) + tf.add_n(net.losses))
    expected = [tf.convert_to_tensor(g) for g in tape.gradient(loss, [t.value for t in tables])]
    np.testing.assert_allclose(predictions, out, rtol=1e-6)
    for got, want, rows in zip(grads[:4], expected[:4], (user_rows, item_rows) * 2,
                               strict=True):
        np.testing.assert_allclose(np.reshape(got, (len(rows), -1)),
                                   tf.gather(want, rows), rtol=1e-5, atol=1e-7)
    # rows the batch does not touch get no gradient at all
    untouched = np.setdiff1d(np.arange(7), user_rows.numpy())
    assert np.all(np.asarray(expected[0])[untouched] == 0)
    np.testing.assert_allclose(grads[4], expected[4], rtol=1e-5)


def test_a_train_step_moves_only_the_rows_of_the_batch():
    import tensorflow as tf

    net = _network()
    net.compile(optimizer="adam", loss="mse", metrics=["mse"])
    before = [t.embeddings.numpy() for t in (net.user_factors, net.item_factors)]
    # three users: the compiled step pads their rows to four with row 0, which must not move
    x = tf.constant([[1, 2], [4, 2], [1, 3], [5, 3]], tf.int32)
    net.fit(x, tf.constant([5.0, 1.0, 3.0, 2.0]), batch_size=4, epochs=1, verbose=0)
    after = [t.embeddings.numpy() for t in (net.user_factors, net.item_factors)]
    moved_users = np.flatnonzero(np.any(before[0] != after[0], axis=1))
    moved_items = np.flatnonzero(np.any(before[1] != after[1], axis=1))
    assert moved_users.tolist() == [1, 4, 5] and moved_items.tolist() == [2, 3]
    accumulator = net.accumulators[0].numpy()
    assert np.all(accumulator[[1, 4, 5]] > 0.1)
    assert np.all(np.delete(accumulator, [1, 4, 5]) == np.float32(0.1))


def test_fast_trainer_learns_and_keeps_the_model_interface(ml100k, tmp_path):
    split = ckd.rating_protocol(ml100k)
    model = FastMatrixFactorization(n_factors=16, epochs=4, refit=False, seed=0).fit(split)
    history = model.history_
    assert history["rmse"].iloc[-1] < history["rmse"].iloc[0]
    scores = metrics.compare({"fast": model}, split.test)
    assert scores.loc["fast", "RMSE"] < 1.0  # four epochs: far below the global mean (1.12)
    top = model.recommend(int(split.train["user"].iloc[0]), n=5)
    assert len(top) == 5
    again = FastMatrixFactorization.load(model.save(tmp_path / "fast"))
    pairs = split.test.head(50)
    np.testing.assert_allclose(again.predict_frame(pairs), model.predict_frame(pairs),
                               rtol=1e-6)


def test_top_k_accuracy_counts_pairs_within_the_first_k():
    lists = pd.DataFrame({"user": [1, 1, 1, 2, 2, 2], "item": [10, 11, 12, 10, 13, 14],
                          "rank": [1, 2, 3, 1, 2, 3]})
    pairs = pd.DataFrame({"user": [1, 1, 2, 3], "item": [11, 13, 14, 10]})
    result = metrics.top_k_accuracy(pairs, lists, ks=(1, 2, 3))
    assert result == {"top-1": 0.0, "top-2": 0.25, "top-3": 0.5}
    with pytest.raises(ValueError, match="no \\(user, item\\) pairs"):
        metrics.top_k_accuracy(pairs.head(0), lists)
