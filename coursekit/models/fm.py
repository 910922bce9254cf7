"""Factorization machines on side information (Rendle 2010): every (user, film) pair is a
sparse row of features, and the model scores it with a bias per feature plus a factorized
weight for every pair of features.

    model = FactorizationMachine().fit(split)   # ids, demographics, genres, year, rated films
    model.predict(users, items)

The row of a pair is made of blocks (:class:`FeatureBlocks`): the user's id, age group,
gender and occupation, the film's id, genres and period of release, and the films the user
rated in training, each weighted 1/sqrt(n) as in SVD++ (the implicit-feedback block).
:class:`FactorizationMachineNet` is the network. It computes the pairwise term in O(k n)
(:func:`pairwise_interactions`), and since a pair's row is its user's part plus its film's
part, it takes every sum over a row's features once per user and once per film, then
combines them for each pair of the batch (Rendle 2013, relational data).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import keras
import numpy as np
import pandas as pd
import scipy.sparse as sp

from coursekit.data.features import TowerFeatures
from coursekit.data.movielens import MovieLens

from .base import Recommender, _pairs
from .keras_base import PREDICT_BATCH, KerasRecommender, fit_arrays, index_pairs

BLOCKS = ("user", "age", "gender", "occupation", "item", "genres", "year", "rated",
          "rated_by")
USER_SIDE = ("user", "age", "gender", "occupation", "rated")


def pairwise_interactions(x, v, summed=None):
    """sum over pairs i < j of <v_i, v_j> x_i x_j, for each row of ``x``, in O(k n):
    half of (the square of the sum) minus (the sum of the squares), coordinate by coordinate,

        1/2 * sum_f [ (sum_i v_if x_i)^2 - sum_i v_if^2 x_i^2 ].

    ``x`` is a batch of rows (a dense array or a ``tf.SparseTensor``), ``v`` a
    (features x factors) table; ``summed``, the sums ``x v``, when they are already known."""
    import tensorflow as tf

    if isinstance(x, tf.SparseTensor):
        summed = tf.sparse.sparse_dense_matmul(x, v) if summed is None else summed
        squares = tf.sparse.sparse_dense_matmul(tf.sparse.map_values(tf.square, x), v * v)
    else:
        summed = tf.matmul(x, v) if summed is None else summed
        squares = tf.matmul(x * x, v * v)
    return 0.5 * tf.reduce_sum(summed * summed - squares, axis=1)


def pairwise_interactions_directly(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The same sum taken pair by pair, in O(k n^2): what the identity above must equal."""
    x, v = np.asarray(x, dtype=np.float64), np.asarray(v, dtype=np.float64)
    gram = v @ v.T  # <v_i, v_j> for every pair of features
    upper = np.triu(np.ones_like(gram), k=1)
    return np.einsum("ri,ij,rj->r", x, gram * upper, x)


def spread_by_field(x, field_of_column, n_fields: int):
    """The rows ``x`` (a ``tf.SparseTensor``) made ``n_fields`` times taller: row r's entries
    in field f move to row ``r * n_fields + f``. Built once for a set of rows, since only the
    factors change as a network trains."""
    import tensorflow as tf

    rows = x.indices[:, 0] * n_fields + tf.gather(field_of_column, x.indices[:, 1])
    return tf.SparseTensor(tf.stack([rows, x.indices[:, 1]], 1), x.values,
                           tf.stack([x.dense_shape[0] * n_fields, x.dense_shape[1]]))


def field_embeddings(spread, v, n_fields: int):
    """Each row's sum of ``x_i v_i`` within every field (block) of columns, as a (rows x
    fields x factors) tensor, from the rows ``spread`` by field: one sparse product, whose
    row ``r * n_fields + f`` is row r's sum over field f."""
    import tensorflow as tf

    return tf.reshape(tf.sparse.sparse_dense_matmul(spread, v), (-1, n_fields, v.shape[1]))


def on_both_sides(pairs, user_values, film_values):
    """The value of each (user, film) pair of ``pairs``: its user's plus its film's. This is
    how any sum over the features of a pair's row is taken, once per user and once per film
    (``user_values``, ``film_values``: one row for every row of a side's part) instead of
    once per pair."""
    import tensorflow as tf

    return tf.gather(user_values, pairs[:, 0]) + tf.gather(film_values, pairs[:, 1])


class FactorizationMachineNet(keras.Model):
    """A factorization machine of degree 2 over the columns of ``columns`` (block ->
    (start, stop)): ``w0 + sum_i w_i x_i + sum_{i<j} <v_i, v_j> x_i x_j``, with an L2 penalty
    ``l2`` on the weights of the features present in the batch (the rows' own columns).

    It reads batches of (user, film) index pairs. A pair's row is its user's part plus its
    film's part, two rows of ``sides`` (sparse matrices: every user's part, every film's), so
    the sums over a row's features are taken once per user and once per film, and the
    pairwise term splits into the pairs within each part and the pairs across the two.
    DeepFM's and DCN's networks extend it (:class:`FieldEmbeddingsNet`, ``interactions``)."""

    def __init__(self, columns: dict[str, tuple[int, int]], sides: Sequence[sp.csr_matrix],
                 dim: int, l2: float, offset: float,
                 name: str = "factorization_machine") -> None:
        super().__init__(name=name)
        self.l2 = l2
        n_features = max(stop for _, stop in columns.values())
        self.sides = tuple(as_sparse_tensor(side) for side in sides)
        self.w0 = self.add_weight(shape=(), initializer=keras.initializers.Constant(offset),
                                  name="w0")
        self.w = self.add_weight(shape=(n_features, 1), initializer="zeros", name="w")
        self.v = self.add_weight(shape=(n_features, dim), name="v",
                                 initializer=keras.initializers.RandomNormal(stddev=0.01))

    def call(self, pairs, training=False):
        return self.score(pairs, self.sides, training)

    def score(self, pairs, sides, training=False):
        """The scores of ``pairs``, rows of ``sides`` (the training sides, or for cold
        start, the parts of users and films built from their features)."""
        import tensorflow as tf

        if training and self.l2:
            self.penalise(pairs, sides)
        # one product per part: each row's sum of weights (column 0) and of factors (the rest)
        sums = [tf.sparse.sparse_dense_matmul(part, tf.concat([self.w, self.v], axis=1))
                for part in sides]
        linear = on_both_sides(pairs, sums[0][:, 0], sums[1][:, 0])
        factor_sums = [part_sums[:, 1:] for part_sums in sums]
        return self.w0 + linear + self.interactions(pairs, sides, factor_sums, training)

    def interactions(self, pairs, sides, factor_sums, training=False):
        """The pairwise term: the pairs within the user's part and within the film's part
        (the identity, once per user and per film), plus the pairs across the two parts,
        whose sum is the dot product of the parts' sums of factors (``factor_sums``)."""
        import tensorflow as tf

        within = on_both_sides(pairs, *(pairwise_interactions(part, self.v, summed)
                                        for part, summed in zip(sides, factor_sums,
                                                                strict=True)))
        across = (tf.gather(factor_sums[0], pairs[:, 0])
                  * tf.gather(factor_sums[1], pairs[:, 1]))
        return within + tf.reduce_sum(across, axis=1)

    def penalise(self, pairs, sides) -> None:
        """Add the L2 penalty of the weights of the features present in the batch."""
        import tensorflow as tf

        def squared_weights(part):
            present = tf.sparse.map_values(tf.ones_like, part)  # which features each row has
            return (tf.sparse.sparse_dense_matmul(present, self.w * self.w)[:, 0]
                    + tf.reduce_sum(tf.sparse.sparse_dense_matmul(present, self.v * self.v),
                                    axis=1))

        self.add_loss(self.l2 * tf.reduce_mean(
            on_both_sides(pairs, *(squared_weights(part) for part in sides))))


def perceptron(hidden_units: Sequence[int], dropout: float) -> keras.Sequential:
    """ReLU layers of ``hidden_units``, each followed by dropout, then one output unit that
    starts at zero (so a deep part adds nothing until it has learned something)."""
    return keras.Sequential(
        [layer for units in hidden_units
         for layer in (keras.layers.Dense(units, activation="relu"),
                       keras.layers.Dropout(dropout))]
        + [keras.layers.Dense(1, kernel_initializer="zeros")])


class FieldEmbeddingsNet(FactorizationMachineNet):
    """The factorization machine with its field embeddings: each pair's row's sum of factors
    within every field (block of columns), what DeepFM's and DCN's deep parts read. The
    training parts are spread by field once, when the network is built."""

    def __init__(self, columns: dict[str, tuple[int, int]], sides: Sequence[sp.csr_matrix],
                 dim: int, l2: float, offset: float, name: str) -> None:
        super().__init__(columns, sides, dim, l2, offset, name=name)
        self.n_fields = len(columns)
        field = np.zeros(self.w.shape[0], dtype=np.int64)  # one entry per feature
        for number, (start, stop) in enumerate(columns.values()):
            field[start:stop] = number
        self.field_of_column = field
        self.spread_sides = self.spread(self.sides)

    def spread(self, sides):
        """Each part of ``sides`` spread by field (:func:`spread_by_field`)."""
        return tuple(spread_by_field(part, self.field_of_column, self.n_fields)
                     for part in sides)

    def flat_field_embeddings(self, pairs, sides):
        """The field embeddings of each pair's row, concatenated: one (fields x factors) row
        each."""
        spread = self.spread_sides if sides is self.sides else self.spread(sides)
        fields = on_both_sides(pairs, *(field_embeddings(part, self.v, self.n_fields)
                                        for part in spread))
        return keras.ops.reshape(fields, (-1, self.n_fields * self.v.shape[1]))


class DeepFMNet(FieldEmbeddingsNet):
    """DeepFM (Guo et al. 2017): the factorization machine plus a multilayer perceptron over
    the concatenated field embeddings; both read the same factors ``v``."""

    def __init__(self, columns: dict[str, tuple[int, int]], sides: Sequence[sp.csr_matrix],
                 dim: int, l2: float, offset: float, hidden_units: Sequence[int] = (64, 32),
                 dropout: float = 0.2) -> None:
        super().__init__(columns, sides, dim, l2, offset, name="deepfm")
        self.deep = perceptron(hidden_units, dropout)

    def interactions(self, pairs, sides, factor_sums, training=False):
        flat = self.flat_field_embeddings(pairs, sides)
        return (super().interactions(pairs, sides, factor_sums, training)
                + self.deep(flat, training=training)[:, 0])


class DeepCrossNet(FieldEmbeddingsNet):
    """DCN-v2 (Wang et al. 2021): the concatenated field embeddings go through a stack of
    cross layers (``keras_rs.layers.FeatureCross``: ``x0 * (W x_i + b) + x_i``, explicit
    interactions of bounded degree) and a multilayer perceptron, one after the other; a dense
    layer reads the result. The cross stack replaces the factorization machine's pairwise
    term."""

    def __init__(self, columns: dict[str, tuple[int, int]], sides: Sequence[sp.csr_matrix],
                 dim: int, l2: float, offset: float, cross_layers: int = 2,
                 projection_dim: int | None = 32, hidden_units: Sequence[int] = (64, 32),
                 dropout: float = 0.2) -> None:
        import keras_rs

        super().__init__(columns, sides, dim, l2, offset, name="deep_cross_network")
        self.crosses = [keras_rs.layers.FeatureCross(projection_dim=projection_dim)
                        for _ in range(cross_layers)]
        self.deep = perceptron(hidden_units, dropout)

    def interactions(self, pairs, sides, factor_sums, training=False):
        x0 = self.flat_field_embeddings(pairs, sides)
        crossed = x0
        for cross in self.crosses:
            crossed = cross(x0, crossed)
        return self.deep(crossed, training=training)[:, 0]


class FeatureBlocks:
    """The sparse rows of (user, film) pairs, one column block per feature of ``blocks``.

    Built from the training ratings (the implicit-feedback blocks: ``rated``, each user's
    rated films, and ``rated_by``, each film's raters, 1/sqrt(n) each) and the dataset's users'
    and films' tables (demographics, genres, release period, through :class:`TowerFeatures`);
    ids follow the model's encoders. ``columns`` gives each block's (start, stop), ``sides``
    every user's part of the rows and every film's (a pair's row is the sum of the two). A
    user or film unseen in training (index -1) gets a part from its features alone
    (:meth:`side_rows`): no id and no implicit feedback, since training knows neither."""

    def __init__(self, dataset: MovieLens | None, user_ids: np.ndarray, item_ids: np.ndarray,
                 users: np.ndarray, items: np.ndarray, blocks: Sequence[str] = BLOCKS) -> None:
        unknown = set(blocks) - set(BLOCKS)
        if unknown:
            raise ValueError(f"unknown feature blocks {sorted(unknown)}; choose from {BLOCKS}")
        side = set(blocks) - {"user", "item", "rated", "rated_by"}
        if side and (dataset is None or dataset.users is None or dataset.items is None):
            raise ValueError(
                f"the blocks {sorted(side)} read the users' and films' tables of the split's "
                "dataset; fit on a Split made from a MovieLens dataset, or keep to "
                "blocks=('user', 'item', 'rated', 'rated_by').")
        self.blocks = tuple(blocks)
        self.features = TowerFeatures(dataset) if side else None
        n_users, n_items = len(user_ids), len(item_ids)
        shape = (n_users, n_items)
        self.implicit = {block: _normalised_rows(users, items, shape, block)
                         for block in ("rated", "rated_by") if block in self.blocks}
        widths = {"user": n_users, "item": n_items, "rated": n_items, "rated_by": n_users}
        if self.features is not None:
            widths |= {"genres": len(self.features.genres), **self.features.sizes}
        self.columns: dict[str, tuple[int, int]] = {}
        start = 0
        for block in self.blocks:
            self.columns[block] = (start, start + widths[block])
            start += widths[block]
        self.n_features = start
        # every user's part of the rows, and every film's: a pair's row is their sum
        self.sides = (self.side_rows("user", user_ids, np.arange(n_users)),
                      self.side_rows("item", item_ids, np.arange(n_items)))

    def side_rows(self, side: str, ids: np.ndarray, index: np.ndarray,
                  codes: dict[str, np.ndarray] | None = None) -> sp.csr_matrix:
        """One side's part of the rows (``side`` "user" or "item"; zeros in the other side's
        columns) for raw ``ids`` whose encoded ``index`` is -1 when unseen in training;
        ``codes`` replaces the features the dataset's tables give these ids."""
        own = USER_SIDE if side == "user" else tuple(b for b in BLOCKS if b not in USER_SIDE)
        index = np.asarray(index)
        seen = index >= 0
        if codes is None:
            codes = {}
            if self.features is not None:
                codes = (self.features.users(ids) if side == "user"
                         else self.features.items(ids))
        pieces = []
        for block in self.blocks:
            start, stop = self.columns[block]
            if block not in own:
                piece = sp.csr_matrix((index.size, stop - start), dtype=np.float32)
            elif block in ("user", "item"):
                piece = _one_hot(np.where(seen, index, -1), stop - start)
            elif block in self.implicit:
                piece = self.implicit[block][np.maximum(index, 0)]
                piece = sp.diags(seen.astype(np.float32)).dot(piece)  # unseen: nothing known
            elif block == "genres":
                piece = sp.csr_matrix(codes["genres"])
            else:
                piece = _one_hot(codes[block], stop - start)
            pieces.append(piece)
        return sp.hstack(pieces, format="csr", dtype=np.float32)

    def rows(self, users: np.ndarray, items: np.ndarray) -> sp.csr_matrix:
        """The rows of encoded (user, film) pairs."""
        return (self.sides[0][users] + self.sides[1][items]).tocsr()

    def side_matrix(self, side: str, rows: sp.csr_matrix | None = None
                    ) -> tuple[sp.csr_matrix, list[int]]:
        """One side's own columns (``side`` "user" or "item") of its rows (every encoded user
        or film by default), and the width of each of its blocks."""
        own = [b for b in self.blocks if (b in USER_SIDE) == (side == "user")]
        rows = self.sides[0 if side == "user" else 1] if rows is None else rows
        pieces = [rows[:, slice(*self.columns[b])] for b in own]
        return (sp.hstack(pieces, format="csr", dtype=np.float32),
                [self.columns[b][1] - self.columns[b][0] for b in own])



def _one_hot(codes: np.ndarray, width: int) -> sp.csr_matrix:
    """Rows with a 1 in column ``code`` (none where the code is -1)."""
    codes = np.asarray(codes)
    rows = np.flatnonzero(codes >= 0)
    return sp.csr_matrix((np.ones(rows.size, dtype=np.float32), (rows, codes[rows])),
                         shape=(codes.size, width))


def _normalised_rows(users: np.ndarray, items: np.ndarray, shape: tuple[int, int],
                     block: str) -> sp.csr_matrix:
    """The implicit-feedback rows: for "rated", each user's rated films, for "rated_by",
    each film's raters, every entry 1/sqrt(n) of its row's n (as in SVD++)."""
    rated = sp.csr_matrix((np.ones(users.size, dtype=np.float32), (users, items)), shape=shape)
    rated.data[:] = 1.0  # a film rated twice counts once
    if block == "rated_by":
        rated = rated.T.tocsr()
    counts = np.maximum(np.diff(rated.indptr), 1)
    return sp.diags((1.0 / np.sqrt(counts)).astype(np.float32)).dot(rated).tocsr()


def as_sparse_tensor(rows: sp.csr_matrix):
    """A SciPy CSR matrix as a ``tf.SparseTensor`` (for the network)."""
    import tensorflow as tf

    coo = rows.tocoo()
    return tf.sparse.reorder(tf.SparseTensor(
        np.stack([coo.row, coo.col], 1).astype(np.int64), coo.data.astype(np.float32),
        coo.shape))


class FactorizationMachine(KerasRecommender):
    """A factorization machine (Rendle 2010) on ratings, in Keras: :class:`FeatureBlocks`
    rows, squared error, Adam, early-stopped on the validation RMSE and refitted on all
    training ratings by the course's routine (through :class:`KerasRecommender`).

    ``task="click"`` trains on clicks instead (a rating of ``click_threshold`` or more) with
    log-loss; the model then scores pairs by the logit of a click (``click_probability``).

    Regularised by decoupled weight decay (``weight_decay``, AdamW) rather than the network's
    penalty on the features present (``l2``), as chosen on the RATING validation part with
    training seeds 0 and 1. The defaults reach a best validation RMSE of 0.8788 and 0.8901;
    the penalty in its place (``l2=1e-3``), 0.8837 and 0.8957; no weight averaging, 0.8821 and
    0.8913; no ``rated_by`` block, 0.8930 and 0.9048. A larger l2, 32 or 64 factors, Adagrad,
    or batches of 2048 or 4096 (with the learning rate scaled) did not help (these last trials
    ran when Keras fed the batches in the same order every epoch, see
    :func:`~coursekit.models.keras_base.epoch_batches`).
    """

    name = "factorization machine"

    def __init__(self, blocks: Sequence[str] = BLOCKS, dim: int = 16, l2: float = 0.0,
                 weight_decay: float = 0.7, epochs: int = 80, batch_size: int = 1024,
                 learning_rate: float = 1e-3, patience: int = 3,
                 validation_fraction: float = 0.1, refit: bool = True, seed: int = 0,
                 weight_averaging: float | None = 0.99,
                 task: Literal["rating", "click"] = "rating", click_threshold: float = 4.0,
                 network_class: type[keras.Model] = FactorizationMachineNet) -> None:
        super().__init__(network_class, epochs, batch_size, learning_rate, patience=patience,
                         validation_fraction=validation_fraction, refit=refit, seed=seed)
        if task not in ("rating", "click"):
            raise ValueError(f"task must be 'rating' or 'click', not {task!r}")
        if l2 < 0 or weight_decay < 0:
            raise ValueError(f"l2 and weight_decay must be 0 or more, not {l2} and "
                             f"{weight_decay}")
        self.blocks, self.dim, self.l2 = tuple(blocks), dim, l2
        self.weight_decay = weight_decay
        self.weight_averaging = weight_averaging
        self.task, self.click_threshold = task, click_threshold
        # the click task scores a pair by the logit of a click: no rating to predict
        self.predicts_ratings = self.scores_are_ratings = task == "rating"
        self.monitor = "val_rmse" if task == "rating" else "val_loss"

    def _loss_and_metrics(self) -> tuple:
        """Squared error and RMSE on ratings; on clicks, binary cross-entropy (log-loss) and
        AUC."""
        if self.task == "rating":
            return super()._loss_and_metrics()
        return (keras.losses.BinaryCrossentropy(from_logits=True),
                [keras.metrics.AUC(from_logits=True, name="auc")])

    def targets(self, ratings: np.ndarray) -> np.ndarray:
        """What the network learns: the ratings, or 1 for a click (a rating of
        ``click_threshold`` or more) and 0 otherwise."""
        if self.task == "rating":
            return ratings
        return (ratings >= self.click_threshold).astype(np.float32)

    def click_probability(self, users, items) -> np.ndarray:
        """The chance of a click on raw ``(user, item)`` pairs (the click task only)."""
        self._check_fitted()
        if self.task != "click":
            raise ValueError("click_probability needs a model trained with task='click'.")
        logits = self._scores_of_ids(*_pairs(users, items))  # unseen ones from features
        return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))

    def _predict_cold(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Without side features: the global mean rating, or the training click rate."""
        if self.task == "rating":
            return super()._predict_cold(users, items)
        return np.full(users.shape, self.start_mean_, dtype=np.float32)

    def _make_optimizer(self):
        """Adam; with ``weight_decay``, AdamW: every weight but ``w0`` also shrinks by
        ``learning_rate * weight_decay`` of itself at every step, whether its feature is in
        the batch or not (decoupled weight decay, Loshchilov and Hutter 2019). With
        ``weight_averaging`` (a momentum such as 0.99), the optimizer also keeps an
        exponential moving average of the weights, which the network predicts with."""
        averaging = ({} if self.weight_averaging is None else
                     {"use_ema": True, "ema_momentum": self.weight_averaging})
        if not self.weight_decay:
            return keras.optimizers.Adam(self.learning_rate, **averaging)
        optimizer = keras.optimizers.AdamW(self.learning_rate, weight_decay=self.weight_decay,
                                           **averaging)
        optimizer.exclude_from_weight_decay(var_names=["w0"])
        return optimizer

    def fit(self, data, verbose: int = 0, **options) -> FactorizationMachine:
        self.dataset_ = getattr(data, "dataset", None)
        return super().fit(data, verbose, **options)

    def build_network(self, n_users: int, n_items: int) -> keras.Model:
        """The network over the current rows' columns, its w0 starting at the ratings' mean
        (the users and films come in through the rows, not as counts)."""
        return self.network_class(self.features_.columns, self.features_.sides, self.dim,
                                  self.l2, self.start_mean_, **self.network_options())

    def network_options(self) -> dict:
        """What the network takes beyond the factorization machine's settings."""
        return {}

    def _train(self, data, validation, epochs: int, verbose: int):
        """A fresh network on encoded (users, items, ratings): its rows (the rated-films block
        from these ratings alone), early-stopped on ``validation`` when given."""
        users, items, ratings = data
        self.features_ = FeatureBlocks(self.dataset_, self.users_.ids_, self.items_.ids_,
                                       users, items, self.blocks)
        targets = self.targets(ratings)
        mean = float(targets.mean())  # w0 starts at the mean rating, or the click rate's logit
        self.start_mean_ = mean if self.task == "rating" else float(
            np.log(mean / max(1.0 - mean, 1e-6)) if 0.0 < mean < 1.0 else 0.0)
        pairs = index_pairs(users, items)
        network = self._compiled_network(pairs, targets)
        # validated and kept with the averaged weights (swapped in at each epoch's end)
        callbacks: list = ([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)]
                           if self.weight_averaging is not None else [])
        held = None
        if validation is not None:
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor=self.monitor,
                patience=self.patience, restore_best_weights=True))
            held = (index_pairs(validation[0], validation[1]), self.targets(validation[2]))
        fitted = fit_arrays(network, (pairs, targets), epochs=epochs,
                            batch_size=self.batch_size, seed=self.seed, validation=held,
                            callbacks=callbacks + self.callbacks, verbose=verbose)
        return network, fitted.history

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self._score_pairs(index_pairs(users, items))

    def _predict_unknown(self, users: np.ndarray, items: np.ndarray, user_ids: np.ndarray,
                         item_ids: np.ndarray) -> np.ndarray:
        """Cold start by features: an unseen user or film is scored from its side features
        (the id and implicit-feedback blocks stay empty); with only id blocks, the global
        mean."""
        if self.features_.features is None:
            return self._predict_cold(users, items)
        sides = (self.features_.side_rows("user", user_ids, users),
                 self.features_.side_rows("item", item_ids, items))
        return self._score_pairs(index_pairs(np.arange(users.size), np.arange(items.size)),
                                 sides)

    def recommend_new_user(self, age: int, gender: str, occupation: str, n: int = 10
                           ) -> pd.DataFrame:
        """The ``n`` films with the highest predicted rating for a user who has rated
        nothing, from their age, gender ("M" or "F") and occupation alone."""
        self._check_fitted()
        if self.features_.features is None or not {"age", "gender", "occupation"} & set(
                self.blocks):
            raise ValueError("a new user is known by their demographics: fit with the age, "
                             "gender or occupation blocks.")
        profile = pd.DataFrame({"age": [age], "gender": [gender], "occupation": [occupation]})
        codes = self.features_.features.code_users(profile)
        items = np.arange(len(self.items_))
        user_part = self.features_.side_rows("user", np.zeros(1), np.array([-1]), codes)
        scores = self._score_pairs(index_pairs(np.zeros(items.size, dtype=int), items),
                                   (user_part, self.features_.sides[1]))
        best = np.argsort(-scores, kind="stable")[:n]
        return self._table(self.items_.ids_[best], self._shown(scores[best]),
                           "features of a new user")

    def _score_pairs(self, pairs: np.ndarray,
                     sides: tuple[sp.csr_matrix, sp.csr_matrix] | None = None) -> np.ndarray:
        """The network's scores of index ``pairs`` into ``sides`` (the training sides by
        default)."""
        parts = (self.network_.sides if sides is None
                 else tuple(as_sparse_tensor(side) for side in sides))
        out = [np.asarray(self.network_.score(pairs[k:k + PREDICT_BATCH], parts))
               for k in range(0, len(pairs), PREDICT_BATCH)]
        return (np.concatenate(out) if out else np.zeros(0)).astype(np.float32)

    def _load_extra(self, folder: Path) -> None:
        self.callbacks = []
        self.network_ = self.build_network(len(self.users_), len(self.items_))
        self.network_(np.zeros((1, 2), dtype=np.int32))  # create the weights
        self.network_.load_weights(folder / "network.weights.h5")


class DeepFM(FactorizationMachine):
    """DeepFM (Guo et al. 2017) on ratings: :class:`DeepFMNet` on :class:`FeatureBlocks` rows,
    trained as :class:`FactorizationMachine` is.

    Its perceptron overfits within a dozen epochs; dropout 0.7 was chosen on the RATING
    validation part with training seeds 0 and 1 (best validation RMSE 0.8826 and 0.8966 with
    0.2; 0.8760 and 0.8882 with 0.7). Its learning rate is the factorization machine's. On the
    validation parts of the RATING split and of a split with seed 7 (training seeds 0 and 1),
    2e-3 did a little better alone (mean best validation RMSE 0.8822 against 0.8833), but as
    a member of the chapter's blend it split: the blend's RMSE cross-validated on its held-out
    tenth was 0.86823 against 0.86792 on the RATING split, 0.87919 against 0.87979 on the
    other. (With the batch order Keras used before, see
    :func:`~coursekit.models.keras_base.epoch_batches`, 2e-3 tied alone, 0.8828 against
    0.8830, and did a little worse in the blend; 3e-3, dropout 0.8, (32, 16) units and
    batches of 4096 did no better.)"""

    name = "DeepFM"

    def __init__(self, blocks: Sequence[str] = BLOCKS, dim: int = 16, l2: float = 0.0,
                 hidden_units: Sequence[int] = (64, 32), dropout: float = 0.7,
                 network_class: type[keras.Model] = DeepFMNet, **settings) -> None:
        super().__init__(blocks, dim, l2, network_class=network_class, **settings)
        self.hidden_units, self.dropout = tuple(hidden_units), dropout

    def network_options(self) -> dict:
        return {"hidden_units": self.hidden_units, "dropout": self.dropout}


class DeepCrossNetwork(FactorizationMachine):
    """DCN-v2 (Wang et al. 2021) on ratings: :class:`DeepCrossNet` on :class:`FeatureBlocks`
    rows, trained as :class:`FactorizationMachine` is; dropout 0.7 as DeepFM's (on the RATING
    validation part, training seeds 0 and 1: best validation RMSE 0.8972 and 0.9058 with 0.2,
    0.8930 and 0.9069 with 0.7). The learning rate was chosen on the validation parts of the
    RATING split and of a split with seed 7, training seeds 0 and 1: mean best validation
    RMSE 0.8998 at 3e-3, against 0.9052 at 2e-3 and 0.9110 at 1e-3. (The first trials ran
    when Keras fed the batches in the same order every epoch, see
    :func:`~coursekit.models.keras_base.epoch_batches`: 0.9010, 0.9043 and 0.9098; 4e-3, on
    the RATING split alone, was then level with 3e-3.)"""

    name = "DCN-v2"

    def __init__(self, blocks: Sequence[str] = BLOCKS, dim: int = 16, l2: float = 0.0,
                 cross_layers: int = 2, projection_dim: int | None = 32,
                 hidden_units: Sequence[int] = (64, 32), dropout: float = 0.7,
                 learning_rate: float = 3e-3,
                 network_class: type[keras.Model] = DeepCrossNet, **settings) -> None:
        super().__init__(blocks, dim, l2, learning_rate=learning_rate,
                         network_class=network_class, **settings)
        self.cross_layers, self.projection_dim = cross_layers, projection_dim
        self.hidden_units, self.dropout = tuple(hidden_units), dropout

    def network_options(self) -> dict:
        return {"cross_layers": self.cross_layers, "projection_dim": self.projection_dim,
                "hidden_units": self.hidden_units, "dropout": self.dropout}


def _myfm():
    try:
        import myfm
    except ImportError as error:
        raise ImportError(
            "The Bayesian factorization machine uses myFM: install it with `pip install myfm` "
            "(in Colab: `%pip install myfm`), then run this cell again.") from error
    return myfm


class BayesianFactorizationMachine(Recommender):
    """A Bayesian factorization machine (Rendle 2012; Gibbs sampling by myFM) on the same
    :class:`FeatureBlocks` rows: no learning rate, no penalty to tune (each block gets its own
    prior, sampled with the weights), and the prediction averages the last
    ``n_kept_samples`` of ``n_iter`` samples. The users' and films' parts of the rows go in
    as myFM's relation blocks, so each user's and film's row is stored and summed once."""

    name = "Bayesian FM (myFM)"

    def __init__(self, blocks: Sequence[str] = BLOCKS, rank: int = 10, n_iter: int = 200,
                 n_kept_samples: int = 150, seed: int = 0) -> None:
        super().__init__()
        if not 0 < n_kept_samples <= n_iter:
            raise ValueError(f"n_kept_samples must be between 1 and n_iter ({n_iter}), "
                             f"not {n_kept_samples}")
        self.blocks, self.rank, self.seed = tuple(blocks), rank, seed
        self.n_iter, self.n_kept_samples = n_iter, n_kept_samples

    def fit(self, data, verbose: int = 0, **options) -> BayesianFactorizationMachine:
        self.dataset_ = getattr(data, "dataset", None)
        return super().fit(data, verbose, **options)

    def _fit(self, users, items, ratings, validation, verbose) -> None:
        myfm = _myfm()
        if validation is not None:  # nothing to stop early: sample on every rating
            users, items, ratings = (np.concatenate([a, b]) for a, b in
                                     zip((users, items, ratings), validation, strict=True))
        self.features_ = FeatureBlocks(self.dataset_, self.users_.ids_, self.items_.ids_,
                                       users, items, self.blocks)
        (user_part, user_groups), (item_part, item_groups) = (
            self.features_.side_matrix("user"), self.features_.side_matrix("item"))
        self.parts_ = (user_part, item_part)  # every user's and film's own columns, once
        self.model_ = myfm.MyFMRegressor(rank=self.rank, random_seed=self.seed)
        self.model_.fit(sp.csr_matrix((users.size, 0), dtype=np.float32), ratings,
                        X_rel=[myfm.RelationBlock(users, user_part),
                               myfm.RelationBlock(items, item_part)],
                        n_iter=self.n_iter, n_kept_samples=self.n_kept_samples,
                        group_shapes=user_groups + item_groups)

    def _predict_rows(self, users, items, user_part, item_part) -> np.ndarray:
        myfm = _myfm()
        return self.model_.predict(
            sp.csr_matrix((users.size, 0), dtype=np.float32),
            X_rel=[myfm.RelationBlock(users, user_part),
                   myfm.RelationBlock(items, item_part)]).astype(np.float32)

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self._predict_rows(users, items, *self.parts_)

    def _predict_unknown(self, users: np.ndarray, items: np.ndarray, user_ids: np.ndarray,
                         item_ids: np.ndarray) -> np.ndarray:
        """Cold start by features, as :class:`FactorizationMachine` does it."""
        if self.features_.features is None:
            return self._predict_cold(users, items)
        user_part = self.features_.side_matrix(
            "user", self.features_.side_rows("user", user_ids, users))[0]
        item_part = self.features_.side_matrix(
            "item", self.features_.side_rows("item", item_ids, items))[0]
        pairs = np.arange(users.size)
        return self._predict_rows(pairs, pairs, user_part, item_part)
