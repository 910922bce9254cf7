"""Chapter 3's matrix factorization, trained fast (chapter 14).

The network, its prediction and its loss are chapter 3's. What changes is how ``fit`` spends
its time: a plain Keras ``fit`` with Adam and batches of 128 pays, per step, for Python and
graph overhead, for an optimizer update of *every* row of both embedding tables (Adam's
dense update), and for automatic differentiation through the gathers. Here a custom
``train_step``

- takes large batches (4,096 ratings on ml-100k, 262,144 at 20M), so per-step overhead is
  spread over many ratings;
- computes the gradient in closed form (it is short: the sigmoid's slope times the error),
  summed per touched row (``tf.unique`` finds the rows);
- updates only the touched rows, with row-wise Adagrad (:mod:`coursekit.models.training.rowwise`);
- compiles the arithmetic and the updates with XLA into one fused kernel;
- shuffles the ratings once and then the order of the batches each epoch.

It is still a Keras model trained by ``fit``, so callbacks, early stopping, validation and
``evaluate`` work as before, and every method of :class:`MatrixFactorization` applies.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from coursekit.models.rating.mf import MatrixFactorization, MatrixFactorizationNet
from coursekit.models.training.rowwise import (
    INITIAL_ACCUMULATOR,
    raw_variable,
    rowwise_adagrad_update,
)


# taught: ch-scaling-up
def mf_gradients(network, users, items, ratings, user_slot, item_slot, n_users, n_items):
    """Closed-form gradients of the MF loss, *summed* over the batch (squared error plus
    the per-rating L2 penalty of both vectors and biases), one row per touched user and item.

    Rating ``j`` adds to slot ``user_slot[j]`` of the user gradients (``n_users`` slots)
    and to slot ``item_slot[j]`` of the item gradients. Returns the predictions and the
    gradients of the user factors, item factors, user biases, item biases and the offset.
    Summed, not averaged: a row's gradient then does not shrink as the batch grows.
    """
    low, high = network.output_range
    p = tf.gather(raw_variable(network.user_factors.embeddings), users)
    q = tf.gather(raw_variable(network.item_factors.embeddings), items)
    b_u = tf.gather(raw_variable(network.user_bias.embeddings), users)[:, 0]
    b_i = tf.gather(raw_variable(network.item_bias.embeddings), items)[:, 0]
    squashed = tf.sigmoid(raw_variable(network.offset) + tf.reduce_sum(p * q, 1) + b_u + b_i)
    predictions = low + (high - low) * squashed
    # d(squared error)/d(logit) of each rating, and d(penalty)/d(weight) = 2 * l2 * weight
    dlogit = 2.0 * (predictions - ratings) * (high - low) * squashed * (1.0 - squashed)
    decay = 2.0 * network.l2
    grads = (
        tf.math.unsorted_segment_sum(dlogit[:, None] * q + decay * p, user_slot, n_users),
        tf.math.unsorted_segment_sum(dlogit[:, None] * p + decay * q, item_slot, n_items),
        tf.math.unsorted_segment_sum(dlogit + decay * b_u, user_slot, n_users)[:, None],
        tf.math.unsorted_segment_sum(dlogit + decay * b_i, item_slot, n_items)[:, None],
        tf.reduce_sum(dlogit),
    )
    return predictions, grads


def padded_rows(rows, batch):
    """``rows`` padded with zeros to the next power of two, at most ``batch``: XLA then
    compiles a few shapes only (a padded row gets a zero gradient and is left as it was)."""
    count = tf.size(rows)
    log2 = tf.math.log(tf.cast(count, tf.float32)) / tf.math.log(2.0)
    length = tf.cast(2.0 ** tf.math.ceil(log2), tf.int32)
    length = tf.maximum(tf.minimum(length, batch), count)
    return tf.pad(rows, [[0, length - count]])


# taught: ch-scaling-up
class FastMatrixFactorizationNet(MatrixFactorizationNet):
    """The MF network with the fast ``train_step``: closed-form gradients of the touched
    rows, row-wise Adagrad, one XLA-compiled kernel for the arithmetic and the updates."""

    def __init__(self, *args, learning_rate: float = 0.02, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.supports_jit = False  # Keras must not compile the step whole (tf.unique)
        self.learning_rate = learning_rate
        for table in (self.user_factors, self.item_factors, self.user_bias,
                      self.item_bias):
            table.build()  # the train step reads the tables before any call
        fill = keras.initializers.Constant(INITIAL_ACCUMULATOR)
        self.accumulators = [
            self.add_weight(shape=(table.input_dim,), initializer=fill, trainable=False,
                            name=f"{table.name}_accumulator")
            for table in (self.user_factors, self.item_factors, self.user_bias,
                          self.item_bias)
        ] + [self.add_weight(shape=(), initializer=fill, trainable=False,
                             name="offset_accumulator")]

    def train_step(self, data):
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:
            raise NotImplementedError(
                f"The fast trainer updates its weights in place on one device; under a "
                f"tf.distribute strategy with {replicas} replicas each replica would "
                "update the shared rows on its own. Train it outside the strategy's "
                "scope, or use MatrixFactorization, whose plain fit Keras distributes.")
        x, y = data[0], data[1]
        x = tf.cast(x, tf.int32)
        users, items = x[:, 0], x[:, 1]
        ratings = tf.cast(tf.reshape(y, [-1]), tf.float32)
        # tf.unique has no XLA kernel: find the touched rows here, then hand a padded
        # list of them to the compiled step.
        batch = tf.size(users)
        user_rows, user_slot = tf.unique(users)
        item_rows, item_slot = tf.unique(items)
        predictions = self._compiled_step(users, items, ratings, padded_rows(user_rows, batch),
                                          user_slot, padded_rows(item_rows, batch), item_slot)
        loss = tf.reduce_mean(tf.square(predictions - ratings))
        self._loss_tracker.update_state(loss, sample_weight=batch)
        return self.compute_metrics(x, ratings, predictions)

    @tf.function(jit_compile=True)
    def _compiled_step(self, users, items, ratings, user_rows, user_slot, item_rows,
                       item_slot):
        predictions, grads = mf_gradients(self, users, items, ratings, user_slot, item_slot,
                                          tf.size(user_rows), tf.size(item_rows))
        lr = tf.constant(self.learning_rate, tf.float32)
        tables = (self.user_factors, self.item_factors, self.user_bias, self.item_bias)
        for table, accumulator, rows, grad in zip(
                tables, self.accumulators[:4], (user_rows, item_rows) * 2, grads[:4],
                strict=True):
            rowwise_adagrad_update(table.embeddings, accumulator, rows, grad, lr)
        offset_acc = raw_variable(self.accumulators[-1])
        offset_acc.assign_add(tf.square(grads[4]))
        raw_variable(self.offset).assign_sub(lr * grads[4] / tf.sqrt(offset_acc))
        return predictions


class FastMatrixFactorization(MatrixFactorization):
    """Chapter 3's model trained by a fast ``train_step``: large batches, closed-form
    gradients of the touched rows, row-wise Adagrad. Same predictions, save/load and
    embeddings as :class:`MatrixFactorization`; ``learning_rate`` is Adagrad's."""

    name = "matrix factorization (fast)"
    # Shuffling every rating every epoch costs a gather of the whole training set, seconds
    # at 20M ratings: the ratings are shuffled once, and each epoch then draws a new order
    # of the batches (:func:`coursekit.models.training.keras_base.epoch_batches`).
    shuffle = "batch"

    def __init__(
        self,
        n_factors: int = 128,
        l2: float = 0.03,
        epochs: int = 100,
        batch_size: int = 4096,
        learning_rate: float = 0.02,
        patience: int = 3,
        validation_fraction: float = 0.1,
        refit: bool = True,
        seed: int = 0,
        tensorboard_dir: str | Path | None = None,
        callbacks: list | tuple = (),
        network_class: type[keras.Model] = FastMatrixFactorizationNet,
    ) -> None:
        super().__init__(n_factors=n_factors, l2=l2, epochs=epochs, batch_size=batch_size,
                         learning_rate=learning_rate, patience=patience,
                         validation_fraction=validation_fraction, refit=refit, seed=seed,
                         tensorboard_dir=tensorboard_dir, callbacks=callbacks,
                         network_class=network_class)

    def _fit(self, users, items, ratings, validation, verbose) -> None:
        order = np.random.default_rng(self.seed).permutation(len(ratings))
        super()._fit(users[order].astype(np.int32), items[order].astype(np.int32),
                     ratings[order], validation, verbose)

    def build_network(self, n_users: int, n_items: int):
        low, high = self.rating_scale
        return self.network_class(
            n_users, n_items, self.n_factors, self.l2, (low - 0.5, high + 0.5),
            self.global_mean_, self.seed, learning_rate=self.learning_rate)
