"""Autoencoders over sparse rating rows: AutoRec (chapter 5) and the deep autoencoder
(chapter 6), behind coursekit's model interface.

Nothing here makes the full matrix dense: training and scoring go through sparse rows (see
:mod:`coursekit.data.sparse`) and the network of :mod:`.autoencoder_network`; memory is
bounded by the weights, their optimizer state and one batch. Predictions for given
(row, column) pairs evaluate only those outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import keras
import numpy as np
import pandas as pd
import scipy.sparse as sp
import tensorflow as tf

from coursekit.data.pipelines import SparseRows
from coursekit.data.sparse import check_rating_matrix, rows_by_ratings
from coursekit.models.base import Recommender
from coursekit.models.rating.autoencoder_network import (
    DENSE_BATCH_LIMIT,
    HeldOutRMSE,
    RefeedingAutoencoder,
    SparseAutoencoder,
)
from coursekit.models.training.keras_base import (
    STEPS_PER_EXECUTION,
    EpochProgress,
    TrainedNetwork,
    build_training_state,
)
from coursekit.models.training.sparse_trainer import SparseRowwiseTrainer

Orientation = Literal["item", "user"]


class AutoRec(TrainedNetwork, Recommender):
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
    keeps_validation_predictions = True

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
        network_class: type[SparseAutoencoder] = SparseAutoencoder,
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
        self.network_class = network_class  # the chapter's network, or an edited copy

    # network options that subclasses change
    code_dropout: float = 0.0
    mean_loss: bool = False

    @property
    def label(self) -> str:
        """A short name for tables, e.g. ``I-AutoRec`` or ``deep U-AutoRec``."""
        deep = "deep " if len(self.hidden_units) > 1 else ""
        return f"{deep}{self.orientation[0].upper()}-AutoRec"

    # --- rows and columns ------------------------------------------------------------------
    def _matrix_shape(self) -> tuple[int, int]:
        return ((len(self.items_), len(self.users_)) if self.orientation == "item"
                else (len(self.users_), len(self.items_)))

    def _matrix(self, users, items, ratings) -> sp.csr_matrix:
        """The training matrix with one row per item (I-AutoRec) or per user (U-AutoRec)."""
        rows, cols = (items, users) if self.orientation == "item" else (users, items)
        shape = self._matrix_shape()
        matrix = sp.csr_matrix((ratings.astype(np.float32), (rows, cols)), shape=shape)
        check_rating_matrix(matrix, self.rating_scale)
        return matrix

    def _dense_batches(self, n_columns: int) -> bool:
        if self.dense_batches is not None:
            return bool(self.dense_batches)
        return self.batch_size * n_columns <= DENSE_BATCH_LIMIT

    def _pairs(self, users, items):
        return (items, users) if self.orientation == "item" else (users, items)

    def _network(self, n_rows: int, n_columns: int):
        keras.utils.set_random_seed(self.seed)
        network = self.network_class(
            n_columns, self.hidden_units, self.activation, self.output_activation, self.l2,
            n_rows, self.input_dropout, self.hidden_dropout, self.code_dropout, self.mean_loss,
            self.rating_scale, self.seed, self._dense_batches(n_columns))
        # the callbacks here look at whole epochs, so several steps per call change nothing
        network.compile(optimizer=keras.optimizers.Adam(self.learning_rate),
                        steps_per_execution=STEPS_PER_EXECUTION)
        return network

    def _row_batches(self, n_rows: int, rows: np.ndarray | None = None, shuffle: bool = True):
        rows = np.arange(n_rows, dtype=np.int32) if rows is None else rows.astype(np.int32)
        data = tf.data.Dataset.from_tensor_slices(rows)
        if shuffle:
            data = data.shuffle(len(rows), seed=self.seed, reshuffle_each_iteration=True)
        return data.batch(self.batch_size)

    def _train(self, matrix: sp.csr_matrix, epochs: int, validation: sp.csr_matrix | None,
               verbose: int):
        network = self._network(*matrix.shape)
        evaluation = None if validation is None else SparseRows(validation)
        network.set_rows(SparseRows(matrix), evaluation)
        build_training_state(network, np.zeros(1, dtype=np.int32))  # from the first row
        callbacks: list = []
        if evaluation is not None:
            rated = np.flatnonzero(np.diff(validation.indptr) > 0).astype(np.int32)
            callbacks.append(HeldOutRMSE(network, rated, np.diff(matrix.indptr)))
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor="val_rmse", mode="min", patience=self.patience,
                restore_best_weights=True))
        if verbose:
            callbacks.append(EpochProgress(self.label))
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
        def train(data, held, epochs: int):
            self.matrix_ = self._matrix(*data)  # the last one trained on is kept
            if held is None:
                return self._train(self.matrix_, epochs, None, 0)
            self.empty_rows_ = int((np.diff(self.matrix_.indptr) == 0).sum())
            return self._train(self.matrix_, epochs, self._matrix(*held), verbose)

        self._run_routine(train, (users, items, ratings), validation,
                          validation_fraction=self.validation_fraction,
                          examples=lambda data: self._matrix_shape()[0],  # an epoch: the rows
                          on_stopped=self._stopped)
        self._fill_means()

    def _stopped(self, network, validation) -> None:
        """The early-stopped network's predictions of the validation ratings (for blends)."""
        self.network_ = network
        self._fill_means()
        self._keep_validation_predictions(validation)

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
        self._check_fitted()
        if self.orientation != "user":
            raise ValueError(
                "Only a user-based AutoRec (orientation='user') reads a new user's ratings as "
                "its input. An item-based AutoRec has no weights for a user it never saw: "
                "fit it again with those users' visible ratings in the training data.")
        profiles = self._checked_profiles(profiles, pairs)
        new_users = np.unique(np.concatenate([profiles["user"], pairs["user"]]))
        row_of = pd.Index(new_users)
        items = self.items_.encode(profiles["item"].to_numpy(), unknown="mask")
        known = items >= 0
        matrix = sp.csr_matrix(
            (profiles["rating"].to_numpy(np.float32)[known],
             (row_of.get_indexer(profiles["user"].to_numpy()[known]), items[known])),
            shape=(new_users.size, len(self.items_)))
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
    def _save_extra(self, folder: Path) -> None:
        self.network_(tf.constant([0], tf.int32))  # builds the middle layers' bookkeeping
        self.network_.built = True
        super()._save_extra(folder)

    def _restored_network(self) -> keras.Model:
        network = self._network(*self.matrix_.shape)
        network.set_rows(SparseRows(self.matrix_))
        network(tf.constant([0], tf.int32))  # create the weights
        network.built = True
        return network


class DeepAutoencoder(AutoRec):
    """The deep autoencoder of Kuchaiev and Ginsburg (2017), item-based by default.

    SELU layers on both sides of a code layer with dropout, a SELU output, the masked mean
    squared error, and dense re-feeding: each batch's dense output is passed through the
    network again and must reproduce itself, which teaches the network about the ratings a
    row does not have.
    """

    name = "deep autoencoder"
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
        network_class: type[SparseAutoencoder] | None = None,
    ) -> None:
        if network_class is None:  # re-feeding is the network's: choose it by `refeed`
            network_class = RefeedingAutoencoder if refeed else SparseAutoencoder
        super().__init__(orientation, hidden_units, activation, output_activation, l2,
                         input_dropout, 0.0, epochs, batch_size, learning_rate, patience,
                         validation_fraction, refit, seed, dense_batches, network_class)
        self.code_dropout, self.refeed = code_dropout, refeed

    @property
    def label(self) -> str:
        return "deep autoencoder" + ("" if self.refeed else " (no re-feeding)")
