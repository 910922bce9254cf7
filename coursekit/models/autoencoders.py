"""Autoencoders over sparse rating rows: AutoRec (chapter 5) and the deep autoencoder (chapter 6).

An item-based autoencoder reads one item's row of the item x user rating matrix, squeezes it
through hidden layers and rebuilds the whole row; the rebuilt values at users who did not rate
the item are its predictions. Only observed ratings enter the loss:

    loss = sum over observed (i, u) of (r_iu - h(r_i)_u)^2  +  l2/2 * sum of squared weights

(AutoRec, Sedhain et al. 2015). Nothing here makes the full matrix dense. A batch is a list of
row numbers; :class:`SparseRows` gathers those rows' ratings from a CSR matrix held in
TensorFlow as flat (position, column, rating) triples. The first layer multiplies them with
the encoder's weights as a sparse x dense product, which reads only the weight rows of the
columns present; the batch's output is dense (batch x columns) and scored where ratings
exist. Memory is bounded by the weights, their optimizer state and one batch, whatever the
number of rows. Predictions for given (row, column) pairs evaluate only those outputs.
The deep autoencoder re-feeds a batch's dense output (Kuchaiev and Ginsburg 2017).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import InvalidRatingsError
from .base import Recommender, holdout_mask
from .keras_base import EpochLine
from .rowwise import rowwise_adagrad_update

Orientation = Literal["item", "user"]
PREDICT_RATINGS = 2**18  # training ratings encoded at once when scoring
DENSE_BATCH_LIMIT = 2**24  # values in one dense batch (64 MB of float32) before going sparse


def check_rating_matrix(matrix: sp.spmatrix, scale: tuple[float, float] | None = None) -> None:
    """Raise :class:`InvalidRatingsError` unless every stored value is a finite rating.

    A stored value outside ``scale`` (an explicit zero included: zero means "missing" to many
    autoencoder recipes) would be learned as a real rating.
    """
    data = np.asarray(matrix.data)
    bad = ~np.isfinite(data)
    if bad.any():
        raise InvalidRatingsError(
            f"The rating matrix stores {int(bad.sum())} NaN or infinite value(s); drop those "
            "ratings (or fill them from the source data) before training.")
    if scale is not None and data.size:
        low, high = scale
        outside = (data < low) | (data > high)
        if outside.any():
            raise InvalidRatingsError(
                f"{int(outside.sum())} stored value(s) fall outside the rating scale "
                f"{low:g}-{high:g} (e.g. {data[outside][:3].tolist()}); explicit zeros count, "
                "since every stored value is read as an observed rating. Remove them, or "
                "call matrix.eliminate_zeros() if zeros mean 'not rated'.")


class SparseRows:
    """A CSR matrix kept in TensorFlow; ``gather(rows)`` returns the nonzeros of some rows.

    ``gather`` gives three flat tensors: the position of each rating's row within the batch,
    its column and its value. An empty row simply contributes no triple.
    """

    def __init__(self, matrix: sp.spmatrix) -> None:
        import tensorflow as tf

        matrix = sp.csr_matrix(matrix, dtype=np.float32)
        matrix.sort_indices()
        check_rating_matrix(matrix)
        self.shape = matrix.shape
        self.nnz = int(matrix.nnz)
        splits = tf.constant(matrix.indptr.astype(np.int64))
        self._columns = tf.RaggedTensor.from_row_splits(
            tf.constant(matrix.indices.astype(np.int32)), splits, validate=False)
        self._values = tf.RaggedTensor.from_row_splits(
            tf.constant(matrix.data), splits, validate=False)

    def gather(self, rows):
        """(position in batch, column, value) of every rating in ``rows`` (int32 tensor)."""
        import tensorflow as tf

        columns = tf.gather(self._columns, rows)
        values = tf.gather(self._values, rows)
        position = tf.cast(columns.value_rowids(), tf.int32)
        return position, columns.flat_values, values.flat_values


def build_autoencoder_network(
    n_columns: int,
    hidden_units: tuple[int, ...],
    activation: str,
    output_activation: str | None,
    l2: float,
    n_rows: int,
    input_dropout: float,
    hidden_dropout: float,
    code_dropout: float,
    refeed: bool,
    mean_loss: bool,
    output_range: tuple[float, float],
    seed: int,
    dense_batches: bool,
):
    """The Keras model behind :class:`AutoRec` and :class:`DeepAutoencoder`.

    ``fit`` runs on a dataset of row-number batches; ``set_rows(train, evaluation)`` says
    which sparse matrices those numbers index (``evaluation`` holds the ratings that
    ``evaluate`` and the ``val_rmse`` of ``fit`` score). With ``dense_batches`` each batch of
    rows is made dense for training (fast for short rows); without, training touches only
    the weights of observed ratings (for long rows, such as 138,493 users per film).
    """
    import keras
    import tensorflow as tf

    glorot = keras.initializers.GlorotUniform
    low, high = output_range

    class SparseAutoencoder(keras.Model):
        def __init__(self) -> None:
            super().__init__(name="autoencoder")
            first, last = hidden_units[0], hidden_units[-1]
            self.encoder_kernel = self.add_weight(
                shape=(n_columns, first), initializer=glorot(seed), name="encoder_kernel")
            self.encoder_bias = self.add_weight(shape=(first,), initializer="zeros",
                                                name="encoder_bias")
            self.middle = [keras.layers.Dense(units, activation=activation,
                                              kernel_initializer=glorot(seed + 1 + k))
                           for k, units in enumerate(hidden_units[1:])]
            # The decoder's weights are stored one row per column (n_columns x last), so the
            # weights of one output are a row that tf.gather can pick.
            self.decoder_kernel = self.add_weight(
                shape=(n_columns, last), initializer=glorot(seed + 99), name="decoder_kernel")
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
            for k in range(len(hidden_units)):
                if k:
                    h = self.middle[k - 1](h)
                code = k == len(hidden_units) // 2 and code_dropout
                h = self._dropout(h, code_dropout if code else hidden_dropout, training)
            return h

        def encode_sparse(self, position, columns, values, batch, training: bool):
            """Hidden code of a batch of sparse rows: a sparse x dense matrix product, which
            touches only the weight rows of the columns present and never makes a row dense."""
            index = tf.cast(tf.stack([position, columns], axis=1), tf.int64)
            rows = tf.sparse.SparseTensor(index, values, tf.cast([batch, n_columns], tf.int64))
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
            return l2 * tf.add_n([tf.nn.l2_loss(k) for k in kernels])  # l2/2 * sum of squares

        def _outputs_at_ratings(self, rows, position, columns, values, training: bool):
            """(outputs where ratings are observed, code, dense outputs) for a batch.

            The input is read sparsely (``dense_batches=False``) or made dense for the batch
            (faster for short rows, such as ml-100k's 943 users); the output of the batch is
            dense either way, batch x columns, and scored only where ratings exist."""
            batch = tf.shape(rows)[0]
            index = tf.stack([position, columns], axis=1)
            if training and input_dropout:  # denoising: hide some inputs, score them all
                keep = keras.random.uniform(tf.shape(values), seed=self.seeds) >= input_dropout
                values = tf.where(keep, values, 0.0)
            if dense_batches:
                code = self.encode_dense(tf.scatter_nd(index, values, [batch, n_columns]),
                                         training)
            else:
                code = self.encode_sparse(position, columns, values, batch, training)
            dense_out = self.decode_dense(code)
            return tf.gather_nd(dense_out, index), code, dense_out

        def train_step(self, rows):
            rows = _row_numbers(rows)
            batch = tf.shape(rows)[0]
            position, columns, values = self.train_rows.gather(rows)
            n = tf.maximum(tf.cast(tf.size(values), tf.float32), 1.0)
            with tf.GradientTape() as tape:
                predicted, code, dense_out = self._outputs_at_ratings(
                    rows, position, columns, values, True)
                squared = tf.reduce_sum(tf.square(values - predicted))
                loss = squared / n if mean_loss else squared
                if l2:  # the full penalty once per epoch: a batch carries its share of rows
                    loss += self._penalty() * tf.cast(batch, tf.float32) / n_rows
                if refeed:
                    # Dense re-feeding: the model's own dense output is a new input whose
                    # every entry is a target (and a constant: no gradient flows into it).
                    target = tf.stop_gradient(dense_out)
                    again = self.decode_dense(self.encode_dense(target, True))
                    loss += tf.reduce_mean(tf.square(target - again))
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables, strict=True))
            self.loss_mean.update_state(loss)
            self.rmse.update_state(values, tf.clip_by_value(predicted, low, high))
            return {"loss": self.loss_mean.result(), "rmse": self.rmse.result()}

        def test_step(self, rows):
            rows = _row_numbers(rows)
            predicted, actual = self.heldout_predictions(rows)
            self.rmse.update_state(actual, predicted)
            return {"rmse": self.rmse.result()}

        def heldout_predictions(self, rows):
            """(clipped predictions, ratings) for the evaluation ratings of ``rows``."""
            code = self.encode_rows(rows)
            e_position, e_columns, e_values = self.eval_rows.gather(rows)
            predicted = tf.clip_by_value(self.decode_at(code, e_position, e_columns), low, high)
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

    return SparseAutoencoder()


class HeldOutRMSE:
    """A Keras callback that puts ``val_rmse`` (RMSE on the held-out ratings) in each epoch's
    logs, in one compiled call per chunk of rows: much cheaper than Keras's validation loop
    for the few milliseconds a pass over ml-100k takes."""

    def __new__(cls, network, rows: np.ndarray, row_counts: np.ndarray):
        import keras
        import tensorflow as tf

        spec = [tf.TensorSpec([None], tf.int32)]
        predict = tf.function(network.heldout_predictions, input_signature=spec)
        chunks = [tf.constant(part, tf.int32) for part in rows_by_ratings(rows, row_counts)]

        class _HeldOutRMSE(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                squared, count = 0.0, 0
                for part in chunks:
                    predicted, actual = predict(part)
                    squared += float(tf.reduce_sum(tf.square(predicted - actual)))
                    count += int(tf.size(actual))
                if logs is not None:
                    logs["val_rmse"] = math.sqrt(squared / max(count, 1))

        return _HeldOutRMSE()


def _row_numbers(data):
    """The row numbers of a batch, whether Keras passes them alone or as ``(x, None, None)``."""
    import tensorflow as tf

    if isinstance(data, tuple | list):
        data = data[0]
    return tf.reshape(tf.cast(data, tf.int32), [-1])


def rows_by_ratings(rows: np.ndarray, row_counts: np.ndarray,
                    max_ratings: int = PREDICT_RATINGS) -> list[np.ndarray]:
    """``rows`` in order, cut into chunks whose rows hold at most ``max_ratings`` training
    ratings together (a longer row is a chunk of its own). Encoding a chunk costs memory in
    proportion to its ratings times the first layer's width, so scoring many rows at once
    must be cut like this, or it would take as much memory as the whole matrix."""
    rows = np.asarray(rows)
    cumulative = np.cumsum(np.asarray(row_counts)[rows])
    chunks, start = [], 0
    while start < rows.size:
        limit = (cumulative[start - 1] if start else 0) + max_ratings
        stop = max(int(np.searchsorted(cumulative, limit, side="right")), start + 1)
        chunks.append(rows[start:stop])
        start = stop
    return chunks


def rating_bounded_batches(row_counts: np.ndarray, max_ratings: int, seed: int) -> list[np.ndarray]:
    """Shuffled row numbers cut into batches of at most ``max_ratings`` ratings each (a row
    with more ratings than that is a batch of its own)."""
    order = np.random.default_rng(seed).permutation(row_counts.size).astype(np.int32)
    return rows_by_ratings(order, row_counts, max_ratings)


class SparseRowwiseTrainer:
    """Trains an AutoRec network with updates to the weight rows of the columns a batch
    touches only, for matrices whose rows are long (ml-20m films: 138,493 users).

    Each batch holds at most ``max_ratings`` ratings. The first layer gathers the encoder rows
    of the columns present, the output is evaluated only where ratings exist, and the L2
    penalty covers the rows the batch touches (as matrix factorization's per-rating penalty
    does), so every gradient of a column-indexed weight is sparse. The two large kernels are
    updated by row-wise Adagrad, the optimizer of large embedding tables: one accumulator per
    weight *row* (the running sum of the row's mean squared gradient) scales the row's step.
    Memory is then the weights and one batch; Adam would keep two more copies of the weights
    (its moments) and need dense gradients. The small weights use plain Adagrad.
    """

    def __init__(self, network, rows: SparseRows, row_counts: np.ndarray, l2: float,
                 learning_rate: float = 0.05, max_ratings: int = 65_536,
                 output_range: tuple[float, float] = (0.5, 5.0), seed: int = 0) -> None:
        import tensorflow as tf

        self.network, self.rows, self.row_counts = network, rows, np.asarray(row_counts)
        self.max_ratings, self.seed, self.epoch = max_ratings, seed, 0
        self.sparse = [network.encoder_kernel, network.decoder_kernel, network.decoder_bias]
        self.dense = [v for v in network.trainable_variables
                      if all(v is not w for w in self.sparse)]
        rowwise = [(v.shape[0],) if len(v.shape) == 2 else v.shape for v in self.sparse]
        self.accumulators = [tf.Variable(tf.fill(shape, 0.1), trainable=False)
                             for shape in rowwise + [v.shape for v in self.dense]]
        self.learning_rate = tf.constant(learning_rate, tf.float32)
        low, high = output_range
        n_rows = float(rows.shape[0])

        def step(batch_rows):
            position, columns, values = rows.gather(batch_rows)
            unique_columns, column_slot = tf.unique(columns)
            variables = [v.value if hasattr(v, "value") else v for v in self.sparse]
            with tf.GradientTape() as tape:
                # gathered copies stand in for the weights, so gradients stay per touched row
                enc = tf.gather(self.sparse[0], unique_columns)
                dec = tf.gather(self.sparse[1], unique_columns)
                bias = tf.gather(self.sparse[2], unique_columns)
                tape.watch([enc, dec, bias])
                weighted = tf.gather(enc, column_slot) * values[:, None]
                batch = tf.shape(batch_rows)[0]
                code = network._deep(tf.math.unsorted_segment_sum(weighted, position, batch)
                                     + network.encoder_bias, True)
                out = tf.reduce_sum(tf.gather(code, position) * tf.gather(dec, column_slot), 1)
                predicted = network.output_activation(out + tf.gather(bias, column_slot))
                squared = tf.reduce_sum(tf.square(values - predicted))
                share = tf.cast(batch, tf.float32) / n_rows
                loss = squared + l2 * share * (tf.nn.l2_loss(enc) + tf.nn.l2_loss(dec))
            grads = tape.gradient(loss, [enc, dec, bias] + self.dense)
            for variable, accumulator, grad in zip(variables, self.accumulators[:3], grads[:3],
                                                   strict=True):
                if len(grad.shape) == 2:  # row-wise Adagrad on a kernel's touched rows
                    rowwise_adagrad_update(variable, accumulator, unique_columns, grad,
                                           self.learning_rate)
                else:
                    tf.raw_ops.ResourceSparseApplyAdagradV2(
                        var=variable.handle, accum=accumulator.handle, lr=self.learning_rate,
                        epsilon=tf.constant(1e-7), grad=grad, indices=unique_columns)
            for variable, accumulator, grad in zip(self.dense, self.accumulators[3:],
                                                   grads[3:], strict=True):
                variable = variable.value if hasattr(variable, "value") else variable
                tf.raw_ops.ResourceApplyAdagradV2(
                    var=variable.handle, accum=accumulator.handle, lr=self.learning_rate,
                    epsilon=tf.constant(1e-7), grad=grad)
            clipped = tf.clip_by_value(predicted, low, high)
            return squared, tf.reduce_sum(tf.square(values - clipped)), tf.size(values)

        self._step = tf.function(step, input_signature=[tf.TensorSpec([None], tf.int32)])

    def train_epoch(self, progress: bool = False) -> dict[str, float]:
        """One pass over every row; returns the epoch's loss (mean squared error on the
        training ratings) and RMSE with predictions clipped to the scale."""
        from tqdm.auto import tqdm

        batches = rating_bounded_batches(self.row_counts, self.max_ratings,
                                         self.seed + self.epoch)
        squared = clipped = 0.0
        count = 0
        for batch in tqdm(batches, desc=f"epoch {self.epoch + 1}", disable=not progress):
            s, c, n = self._step(batch)
            squared, clipped, count = squared + float(s), clipped + float(c), count + int(n)
        self.epoch += 1
        return {"loss": squared / max(count, 1), "rmse": math.sqrt(clipped / max(count, 1)),
                "batches": len(batches)}


class AutoRec(Recommender):
    """AutoRec (Sedhain et al. 2015): item-based (``orientation="item"``, I-AutoRec) or
    user-based (U-AutoRec); more than one entry in ``hidden_units`` makes a deep AutoRec.

    Trained with Adam on the masked squared error plus ``l2/2`` times the squared weights.
    ``input_dropout`` hides that share of each input row's ratings during training while the
    loss still scores all of them (a denoising autoencoder); it fights the overfitting that
    500 hidden units on a few thousand rows bring. The number of epochs is chosen by early
    stopping on a validation part, and with ``refit=True`` a fresh network then trains on all
    training ratings for that many epochs. ``dense_batches`` (default: when a batch holds at
    most 2**24 values) trains on dense batches of rows instead of the sparse ratings alone.
    """

    name = "AutoRec"

    def __init__(
        self,
        orientation: Orientation = "item",
        hidden_units: tuple[int, ...] = (500,),
        activation: str = "sigmoid",
        output_activation: str | None = None,
        l2: float = 150.0,
        input_dropout: float = 0.2,
        hidden_dropout: float = 0.0,
        epochs: int = 300,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        patience: int = 10,
        validation_fraction: float = 0.1,
        refit: bool = True,
        seed: int = 0,
        dense_batches: bool | None = None,
    ) -> None:
        super().__init__()
        if orientation not in ("item", "user"):
            raise ValueError(f"orientation must be 'item' or 'user', not {orientation!r}")
        if not hidden_units or min(hidden_units) < 1:
            raise ValueError(f"hidden_units must be positive layer sizes, not {hidden_units!r}")
        self.orientation, self.hidden_units = orientation, tuple(hidden_units)
        self.activation, self.output_activation = activation, output_activation
        self.l2, self.input_dropout, self.hidden_dropout = l2, input_dropout, hidden_dropout
        self.epochs, self.batch_size, self.learning_rate = epochs, batch_size, learning_rate
        self.patience, self.validation_fraction = patience, validation_fraction
        self.refit, self.seed, self.dense_batches = refit, seed, dense_batches

    # network options that subclasses change
    code_dropout: float = 0.0
    refeed: bool = False
    mean_loss: bool = False

    @property
    def label(self) -> str:
        """A short name for tables, e.g. ``I-AutoRec`` or ``deep U-AutoRec``."""
        deep = "deep " if len(self.hidden_units) > 1 else ""
        return f"{deep}{self.orientation[0].upper()}-AutoRec"

    # --- rows and columns ------------------------------------------------------------------
    def _matrix(self, users, items, ratings) -> sp.csr_matrix:
        """The training matrix with one row per item (I-AutoRec) or per user (U-AutoRec)."""
        rows, cols = (items, users) if self.orientation == "item" else (users, items)
        shape = ((len(self.items_), len(self.users_)) if self.orientation == "item"
                 else (len(self.users_), len(self.items_)))
        matrix = sp.csr_matrix((ratings.astype(np.float32), (rows, cols)), shape=shape)
        matrix.sum_duplicates()
        check_rating_matrix(matrix, self.rating_scale)
        return matrix

    def _dense_batches(self, n_columns: int) -> bool:
        if self.dense_batches is not None:
            return bool(self.dense_batches)
        return self.batch_size * n_columns <= DENSE_BATCH_LIMIT

    def _pairs(self, users, items):
        return (items, users) if self.orientation == "item" else (users, items)

    def _network(self, n_rows: int, n_columns: int):
        import keras

        keras.utils.set_random_seed(self.seed)
        network = build_autoencoder_network(
            n_columns, self.hidden_units, self.activation, self.output_activation, self.l2,
            n_rows, self.input_dropout, self.hidden_dropout, self.code_dropout, self.refeed,
            self.mean_loss, self.rating_scale, self.seed, self._dense_batches(n_columns))
        network.compile(optimizer=keras.optimizers.Adam(self.learning_rate))
        return network

    def _row_batches(self, n_rows: int, rows: np.ndarray | None = None, shuffle: bool = True):
        import tensorflow as tf

        rows = np.arange(n_rows, dtype=np.int32) if rows is None else rows.astype(np.int32)
        data = tf.data.Dataset.from_tensor_slices(rows)
        if shuffle:
            data = data.shuffle(len(rows), seed=self.seed, reshuffle_each_iteration=True)
        return data.batch(self.batch_size)

    def _train(self, matrix: sp.csr_matrix, epochs: int, validation: sp.csr_matrix | None,
               verbose: int):
        import keras

        network = self._network(*matrix.shape)
        evaluation = None if validation is None else SparseRows(validation)
        network.set_rows(SparseRows(matrix), evaluation)
        callbacks: list = []
        if evaluation is not None:
            rated = np.flatnonzero(np.diff(validation.indptr) > 0).astype(np.int32)
            callbacks.append(HeldOutRMSE(network, rated, np.diff(matrix.indptr)))
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor="val_rmse", mode="min", patience=self.patience,
                restore_best_weights=True))
        if verbose:
            callbacks.append(EpochLine(self.label))
        fitted = network.fit(self._row_batches(matrix.shape[0]), epochs=epochs, verbose=0,
                             shuffle=False, callbacks=callbacks)
        return network, fitted.history

    def sparse_trainer(self, matrix: sp.spmatrix, max_ratings: int = 65_536,
                       learning_rate: float = 0.05,
                       rating_scale: tuple[float, float] = (0.5, 5.0)) -> SparseRowwiseTrainer:
        """A :class:`SparseRowwiseTrainer` of a fresh network for a sparse matrix whose rows
        are this model's rows (films for I-AutoRec): for data too large for ``fit``'s Adam.
        Call its ``train_epoch()``; ``predict`` still needs ``fit``."""
        self.rating_scale = tuple(float(x) for x in rating_scale)
        matrix = sp.csr_matrix(matrix, dtype=np.float32)
        check_rating_matrix(matrix, self.rating_scale)
        self.network_ = self._network(*matrix.shape)
        return SparseRowwiseTrainer(self.network_, SparseRows(matrix), np.diff(matrix.indptr),
                                    l2=self.l2, learning_rate=learning_rate,
                                    max_ratings=max_ratings, output_range=self.rating_scale,
                                    seed=self.seed)

    def _fit(self, users, items, ratings, validation, verbose) -> None:
        if validation is None:
            held = holdout_mask(len(ratings), self.validation_fraction, self.seed)
            validation = (users[held], items[held], ratings[held])
            users, items, ratings = users[~held], items[~held], ratings[~held]
        train = self._matrix(users, items, ratings)
        held_out = self._matrix(*validation)
        self.empty_rows_ = int((np.diff(train.indptr) == 0).sum())
        self.network_, history = self._train(train, self.epochs, held_out, verbose)
        self.history_ = pd.DataFrame(history, index=pd.RangeIndex(
            1, len(history["loss"]) + 1, name="epoch"))
        self.best_epoch_ = int(self.history_["val_rmse"].idxmin())
        self.epochs_trained_ = self.best_epoch_
        self.matrix_ = train
        if self.refit:
            self.matrix_ = self._matrix(np.concatenate([users, validation[0]]),
                                        np.concatenate([items, validation[1]]),
                                        np.concatenate([ratings, validation[2]]))
            self.network_, _ = self._train(self.matrix_, self.epochs_trained_, None, 0)
        self._fill_means()

    def _fill_means(self) -> None:
        """Per-row and per-column training means, for the cold-start answers."""
        m = self.matrix_
        count_rows, count_cols = np.diff(m.indptr), np.bincount(m.indices, minlength=m.shape[1])
        sums_rows = np.asarray(m.sum(axis=1)).ravel()
        sums_cols = np.asarray(m.sum(axis=0)).ravel()
        with np.errstate(invalid="ignore", divide="ignore"):
            self.row_means_ = np.where(count_rows > 0, sums_rows / count_rows, self.global_mean_)
            self.column_means_ = np.where(count_cols > 0, sums_cols / count_cols,
                                          self.global_mean_)

    # --- predicting --------------------------------------------------------------------------
    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        rows, cols = self._pairs(users, items)
        out = np.empty(rows.size, dtype=np.float32)
        order = np.argsort(rows, kind="stable")  # each chunk of rows is one slice of pairs
        sorted_rows = rows[order]
        for part_rows in rows_by_ratings(np.unique(rows), np.diff(self.matrix_.indptr)):
            start = np.searchsorted(sorted_rows, part_rows[0], side="left")
            stop = np.searchsorted(sorted_rows, part_rows[-1], side="right")
            part = order[start:stop]
            out[part] = self.network_.scores_at(
                tf.constant(rows[part], tf.int32), tf.constant(cols[part], tf.int32)).numpy()
        return out

    def _predict_cold(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """A known item for an unknown user gets the item's mean rating, a known user with an
        unknown item the user's mean; when neither is known, the global mean."""
        out = np.full(users.shape, self.global_mean_, dtype=np.float32)
        item_means = self.row_means_ if self.orientation == "item" else self.column_means_
        user_means = self.column_means_ if self.orientation == "item" else self.row_means_
        only_item, only_user = (users < 0) & (items >= 0), (items < 0) & (users >= 0)
        out[only_item] = item_means[items[only_item]]
        out[only_user] = user_means[users[only_user]]
        return out

    def predict_from_profiles(self, profiles: pd.DataFrame, pairs: pd.DataFrame) -> np.ndarray:
        """Predicted ratings of ``pairs`` for users absent from training, read from the
        ratings in ``profiles`` (user, item, rating) without retraining: U-AutoRec only.

        Items the model never saw are left out of the input; a pair with such an item, or
        with a user who has no rating in ``profiles``, gets the item's or the global mean.
        """
        import tensorflow as tf

        self._check_fitted()
        if self.orientation != "user":
            raise ValueError(
                "Only a user-based AutoRec (orientation='user') reads a new user's ratings as "
                "its input. An item-based AutoRec has no weights for a user it never saw: "
                "fit it again with those users' visible ratings in the training data.")
        for name, frame in (("profiles", profiles), ("pairs", pairs)):
            missing = {"user", "item"} - set(frame.columns)
            if missing:
                raise ValueError(f"{name} lacks the column(s) {sorted(missing)}")
        new_users = np.unique(np.concatenate([profiles["user"], pairs["user"]]))
        row_of = pd.Index(new_users)
        items = self.items_.encode(profiles["item"].to_numpy(), unknown="mask")
        known = items >= 0
        matrix = sp.csr_matrix(
            (profiles["rating"].to_numpy(np.float32)[known],
             (row_of.get_indexer(profiles["user"].to_numpy()[known]), items[known])),
            shape=(new_users.size, len(self.items_)))
        matrix.sum_duplicates()
        check_rating_matrix(matrix, self.rating_scale)
        rows = SparseRows(matrix)
        code = self.network_.encode_from(rows, tf.range(new_users.size, dtype=tf.int32))
        user_rows = row_of.get_indexer(pairs["user"].to_numpy())
        pair_items = self.items_.encode(pairs["item"].to_numpy(), unknown="mask")
        out = np.full(len(pairs), self.global_mean_, dtype=np.float32)
        usable = (pair_items >= 0) & (np.diff(matrix.indptr)[user_rows] > 0)
        if usable.any():
            out[usable] = self.network_.decode_at(
                code, tf.constant(user_rows[usable], tf.int32),
                tf.constant(pair_items[usable], tf.int32)).numpy()
        no_profile = (pair_items >= 0) & ~usable
        out[no_profile] = self.column_means_[pair_items[no_profile]]
        return np.clip(out, *self.rating_scale)

    # --- persistence -----------------------------------------------------------------------
    def _unpicklable(self) -> set[str]:
        return {"network_"}

    def _save_extra(self, folder: Path) -> None:
        import tensorflow as tf

        self.network_(tf.constant([0], tf.int32))  # builds the middle layers' bookkeeping
        self.network_.built = True
        self.network_.save_weights(folder / "network.weights.h5")

    def _load_extra(self, folder: Path) -> None:
        import tensorflow as tf

        self.network_ = self._network(*self.matrix_.shape)
        self.network_.set_rows(SparseRows(self.matrix_))
        self.network_(tf.constant([0], tf.int32))  # create the weights
        self.network_.built = True
        with warnings.catch_warnings():  # the optimizer's state is not needed to predict
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            self.network_.load_weights(folder / "network.weights.h5")


class DeepAutoencoder(AutoRec):
    """The deep autoencoder of Kuchaiev and Ginsburg (2017), item-based by default.

    SELU layers on both sides of a code layer with dropout, a SELU output, the masked mean
    squared error, and dense re-feeding: each batch's dense output is passed through the
    network again and must reproduce itself, which teaches the network about the ratings a
    row does not have.
    """

    name = "deep autoencoder"
    refeed = True
    mean_loss = True

    def __init__(
        self,
        orientation: Orientation = "item",
        hidden_units: tuple[int, ...] = (128, 64, 128),
        activation: str = "selu",
        output_activation: str | None = "selu",
        l2: float = 0.0,
        code_dropout: float = 0.5,
        input_dropout: float = 0.0,
        epochs: int = 200,
        batch_size: int = 64,
        learning_rate: float = 1e-3,
        patience: int = 10,
        validation_fraction: float = 0.1,
        refit: bool = True,
        seed: int = 0,
        refeed: bool = True,
        dense_batches: bool | None = None,
    ) -> None:
        super().__init__(orientation, hidden_units, activation, output_activation, l2,
                         input_dropout, 0.0, epochs, batch_size, learning_rate, patience,
                         validation_fraction, refit, seed, dense_batches)
        self.code_dropout, self.refeed = code_dropout, refeed

    @property
    def label(self) -> str:
        return "deep autoencoder" + ("" if self.refeed else " (no re-feeding)")


def dense_size_gb(n_rows: int, n_columns: int, bytes_per_value: int = 4) -> float:
    """Gigabytes a dense ``n_rows x n_columns`` matrix would take (float32 by default)."""
    return n_rows * n_columns * bytes_per_value / 1e9

