"""The Keras network behind AutoRec (chapter 5) and the deep autoencoder (chapter 6).

An item-based autoencoder reads one item's row of the item x user rating matrix, squeezes it
through hidden layers and rebuilds the whole row; the rebuilt values at users who did not rate
the item are its predictions. Only observed ratings enter the loss:

    loss = sum over observed (i, u) of (r_iu - h(r_i)_u)^2  +  l2/2 * sum of squared weights

(AutoRec, Sedhain et al. 2015). A batch is a list of row numbers;
:class:`~coursekit.data.pipelines.SparseRows` gathers those rows' ratings. The first layer
multiplies them with the encoder's weights as a sparse x dense product, which reads only the
weight rows of the columns present; the batch's output is dense (batch x columns) and scored
where ratings exist. The deep autoencoder's network re-feeds a batch's dense output (Kuchaiev
and Ginsburg 2017).
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from coursekit.data.pipelines import SparseRows
from coursekit.data.sparse import rows_by_ratings

DENSE_BATCH_LIMIT = 2**24  # values in one dense batch (64 MB of float32) before going sparse


# taught: ch-autorec
class SparseAutoencoder(keras.Model):
    """The Keras model behind :class:`AutoRec` and :class:`DeepAutoencoder`.

    ``fit`` runs on a dataset of row-number batches; ``set_rows(train, evaluation)`` says
    which sparse matrices those numbers index (``evaluation`` holds the ratings that
    ``evaluate`` and the ``val_rmse`` of ``fit`` score). With ``dense_batches`` each batch of
    rows is made dense for training (fast for short rows); without, training touches only
    the weights of observed ratings (for long rows, such as 138,493 users per film).
    """

    kernel_initializer = keras.initializers.GlorotUniform  # of every kernel, given a seed

    def __init__(
        self,
        n_columns: int,
        hidden_units: tuple[int, ...],
        activation: str,
        output_activation: str | None,
        l2: float,
        n_rows: int,
        input_dropout: float,
        hidden_dropout: float,
        code_dropout: float,
        mean_loss: bool,
        output_range: tuple[float, float],
        seed: int,
        dense_batches: bool,
    ) -> None:
        super().__init__(name="autoencoder")
        self.n_columns, self.n_layers, self.n_rows = n_columns, len(hidden_units), n_rows
        self.l2, self.input_dropout = l2, input_dropout
        self.hidden_dropout, self.code_dropout = hidden_dropout, code_dropout
        self.mean_loss, self.dense_batches = mean_loss, dense_batches
        self.low, self.high = output_range
        kernel_init = self.kernel_initializer
        first, last = hidden_units[0], hidden_units[-1]
        self.encoder_kernel = self.add_weight(
            shape=(n_columns, first), initializer=kernel_init(seed), name="encoder_kernel")
        self.encoder_bias = self.add_weight(shape=(first,), initializer="zeros",
                                            name="encoder_bias")
        self.middle = [keras.layers.Dense(units, activation=activation,
                                          kernel_initializer=kernel_init(seed + 1 + k))
                       for k, units in enumerate(hidden_units[1:])]
        # The decoder's weights are stored one row per column (n_columns x last), so the
        # weights of one output are a row that tf.gather can pick.
        self.decoder_kernel = self.add_weight(
            shape=(n_columns, last), initializer=kernel_init(seed + 99), name="decoder_kernel")
        self.decoder_bias = self.add_weight(shape=(n_columns,), initializer="zeros",
                                            name="decoder_bias")
        self.activation = keras.activations.get(activation)
        self.output_activation = keras.activations.get(output_activation)
        self.seeds = keras.random.SeedGenerator(seed)
        self.rmse = keras.metrics.RootMeanSquaredError(name="rmse")
        self.loss_mean = keras.metrics.Mean(name="loss")
        self.train_rows: SparseRows | None = None
        self.eval_rows: SparseRows | None = None

    def set_rows(self, train: SparseRows, evaluation: SparseRows | None = None) -> None:
        self.train_rows, self.eval_rows = train, evaluation

    @property
    def metrics(self):
        return [self.loss_mean, self.rmse]

    # --- the layers ---------------------------------------------------------------
    def _dropout(self, x, rate: float, training: bool):
        if training and rate:
            return keras.random.dropout(x, rate, seed=self.seeds)
        return x

    def _deep(self, pre_activation, training: bool):
        """The hidden layers after the first pre-activation; the code layer (the middle
        one) gets ``code_dropout`` when it is set, every other ``hidden_dropout``."""
        h = self.activation(pre_activation)
        for k in range(self.n_layers):
            if k:
                h = self.middle[k - 1](h)
            code = k == self.n_layers // 2 and self.code_dropout
            h = self._dropout(h, self.code_dropout if code else self.hidden_dropout, training)
        return h

    def encode_sparse(self, position, columns, values, batch, training: bool):
        """Hidden code of a batch of sparse rows: a sparse x dense matrix product, which
        touches only the weight rows of the columns present and never makes a row dense."""
        index = tf.cast(tf.stack([position, columns], axis=1), tf.int64)
        rows = tf.sparse.SparseTensor(index, values, tf.cast([batch, self.n_columns], tf.int64))
        summed = tf.sparse.sparse_dense_matmul(rows, self.encoder_kernel)
        return self._deep(summed + self.encoder_bias, training)

    def encode_dense(self, rows_dense, training: bool):
        return self._deep(rows_dense @ self.encoder_kernel + self.encoder_bias, training)

    def decode_at(self, code, position, columns):
        """Outputs only where ratings are observed."""
        w = tf.gather(self.decoder_kernel, columns)
        out = tf.reduce_sum(tf.gather(code, position) * w, axis=1)
        return self.output_activation(out + tf.gather(self.decoder_bias, columns))

    def decode_dense(self, code):
        out = tf.matmul(code, self.decoder_kernel, transpose_b=True) + self.decoder_bias
        return self.output_activation(out)

    def call(self, rows, training: bool = False):
        """Dense reconstructed rows for a batch of row numbers (for scoring a few rows)."""
        position, columns, values = self.train_rows.gather(rows)
        code = self.encode_sparse(position, columns, values, tf.shape(rows)[0], training)
        return self.decode_dense(code)

    # --- training -----------------------------------------------------------------
    def _penalty(self):
        kernels = [self.encoder_kernel, self.decoder_kernel] + [
            layer.kernel for layer in self.middle]
        return self.l2 * tf.add_n([tf.nn.l2_loss(k) for k in kernels])  # l2/2 * sum of squares

    def _outputs_at_ratings(self, rows, position, columns, values, training: bool):
        """(outputs where ratings are observed, code, dense outputs) for a batch.

        The input is read sparsely (``dense_batches=False``) or made dense for the batch
        (faster for short rows, such as ml-100k's 943 users); the output of the batch is
        dense either way, batch x columns, and scored only where ratings exist."""
        batch = tf.shape(rows)[0]
        index = tf.stack([position, columns], axis=1)
        if training and self.input_dropout:  # denoising: hide some inputs, score them all
            keep = keras.random.uniform(tf.shape(values), seed=self.seeds) >= self.input_dropout
            values = tf.where(keep, values, 0.0)
        if self.dense_batches:
            code = self.encode_dense(tf.scatter_nd(index, values, [batch, self.n_columns]),
                                     training)
        else:
            code = self.encode_sparse(position, columns, values, batch, training)
        dense_out = self.decode_dense(code)
        return tf.gather_nd(dense_out, index), code, dense_out

    def train_step(self, rows):
        rows = row_numbers(rows)
        batch = tf.shape(rows)[0]
        position, columns, values = self.train_rows.gather(rows)
        n = tf.maximum(tf.cast(tf.size(values), tf.float32), 1.0)
        with tf.GradientTape() as tape:
            predicted, code, dense_out = self._outputs_at_ratings(
                rows, position, columns, values, True)
            squared = tf.reduce_sum(tf.square(values - predicted))
            loss = squared / n if self.mean_loss else squared
            if self.l2:  # the full penalty once per epoch: a batch carries its share of rows
                loss += self._penalty() * tf.cast(batch, tf.float32) / self.n_rows
            loss += self.extra_loss(dense_out)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables, strict=True))
        self.loss_mean.update_state(loss)
        self.rmse.update_state(values, tf.clip_by_value(predicted, self.low, self.high))
        return {"loss": self.loss_mean.result(), "rmse": self.rmse.result()}

    def extra_loss(self, dense_out):
        """More loss from a batch's dense output: none here (see RefeedingAutoencoder)."""
        return 0.0

    def test_step(self, rows):
        rows = row_numbers(rows)
        predicted, actual = self.heldout_predictions(rows)
        self.rmse.update_state(actual, predicted)
        return {"rmse": self.rmse.result()}

    def heldout_predictions(self, rows):
        """(clipped predictions, ratings) for the evaluation ratings of ``rows``."""
        code = self.encode_rows(rows)
        e_position, e_columns, e_values = self.eval_rows.gather(rows)
        predicted = tf.clip_by_value(self.decode_at(code, e_position, e_columns), self.low,
                                     self.high)
        return predicted, e_values

    def scores_at(self, rows, columns):
        """Outputs for (row, column) pairs: each distinct row is encoded once."""
        unique_rows, position = tf.unique(rows)
        code = self.encode_rows(unique_rows)
        return self.decode_at(code, position, columns)

    def encode_rows(self, rows):
        return self.encode_from(self.train_rows, rows)

    def encode_from(self, sparse_rows: SparseRows, rows):
        """Hidden codes of ``rows`` of any matrix with the training matrix's columns."""
        # Always from the sparse rows: scoring may ask for many rows at once, and a dense
        # batch of all of them would be the whole matrix.
        position, columns, values = sparse_rows.gather(rows)
        return self.encode_sparse(position, columns, values, tf.shape(rows)[0], False)


# taught: ch-deep-autoencoder
class RefeedingAutoencoder(SparseAutoencoder):
    """The deep autoencoder's network: each batch's dense output goes through
    the network a second time and must come back unchanged (dense re-feeding)."""

    def extra_loss(self, dense_out):
        # The model's own dense output is a new input whose every entry is a target (and a
        # constant: no gradient flows into it).
        target = tf.stop_gradient(dense_out)
        again = self.decode_dense(self.encode_dense(target, True))
        return tf.reduce_mean(tf.square(target - again))


# taught: ch-deep-autoencoder
class SelfNormalizingAutoencoder(RefeedingAutoencoder):
    """The re-feeding network built for SELU's self-normalisation (Klambauer et al. 2017):
    LeCun-normal initial kernels, and alpha dropout, which sets dropped units to SELU's
    negative saturation and rescales so that mean and variance are kept."""

    kernel_initializer = keras.initializers.LecunNormal

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # LeCun-normal means variance 1 / fan-in. The decoder's kernel is stored one row per
        # output column, so its fan-in is its second axis (the code's width), not its first.
        rows, width = self.decoder_kernel.shape
        self.decoder_kernel.assign(self.decoder_kernel * (rows / width) ** 0.5)

    def _dropout(self, x, rate: float, training: bool):
        if not (training and rate):
            return x
        saturation = -1.0507009873554805 * 1.6732632423543772  # SELU's limit at -infinity
        keep = keras.random.uniform(tf.shape(x), seed=self.seeds) >= rate
        scale = ((1 - rate) * (1 + rate * saturation**2)) ** -0.5
        shift = -scale * saturation * rate
        return scale * tf.where(keep, x, saturation) + shift


class HeldOutRMSE(keras.callbacks.Callback):
    """A Keras callback that puts ``val_rmse`` (RMSE on the held-out ratings) in each epoch's
    logs, in one compiled call per chunk of rows: much cheaper than Keras's validation loop
    for the few milliseconds a pass over ml-100k takes."""

    def __init__(self, network: SparseAutoencoder, rows: np.ndarray,
                 row_counts: np.ndarray) -> None:
        super().__init__()
        spec = [tf.TensorSpec([None], tf.int32)]
        self.predict = tf.function(network.heldout_predictions, input_signature=spec)
        self.chunks = [tf.constant(part, tf.int32)
                       for part in rows_by_ratings(rows, row_counts)]

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        squared, count = 0.0, 0
        for part in self.chunks:
            predicted, actual = self.predict(part)
            squared += float(tf.reduce_sum(tf.square(predicted - actual)))
            count += int(tf.size(actual))
        if logs is not None:
            logs["val_rmse"] = math.sqrt(squared / max(count, 1))


def row_numbers(data):
    """The row numbers of a batch, whether Keras passes them alone or as ``(x, None, None)``."""
    if isinstance(data, tuple | list):
        data = data[0]
    return tf.reshape(tf.cast(data, tf.int32), [-1])
