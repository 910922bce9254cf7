"""Factorization machines on side information (Rendle 2010): every (user, film) pair is a
sparse row of features, and the model scores it with a bias per feature plus a factorized
weight for every pair of features.

    model = FactorizationMachine().fit(split)   # ids, demographics, genres, year, rated films
    model.predict(users, items)

The row of a pair is made of blocks (:class:`FeatureBlocks`): the user's id, age group,
gender and occupation, the film's id, genres and period of release, and the films the user
rated in training, each weighted 1/sqrt(n) as in SVD++ (the implicit-feedback block).
:class:`FactorizationMachineNet` is the network; it reads a batch of rows as a sparse tensor
and computes the pairwise term in O(k n) (:func:`pairwise_interactions`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import scipy.sparse as sp

from coursekit.data.features import TowerFeatures
from coursekit.data.movielens import MovieLens

from .keras_base import KerasRecommender

BLOCKS = ("user", "age", "gender", "occupation", "item", "genres", "year", "rated")
USER_SIDE = ("user", "age", "gender", "occupation", "rated")
PREDICT_BATCH = 65_536  # rows scored per step


def pairwise_interactions(x, v):
    """sum over pairs i < j of <v_i, v_j> x_i x_j, for each row of ``x``, in O(k n):
    half of (the square of the sum) minus (the sum of the squares), coordinate by coordinate,

        1/2 * sum_f [ (sum_i v_if x_i)^2 - sum_i v_if^2 x_i^2 ].

    ``x`` is a batch of rows (a dense array or a ``tf.SparseTensor``), ``v`` a
    (features x factors) table."""
    import tensorflow as tf

    if isinstance(x, tf.SparseTensor):
        summed = tf.sparse.sparse_dense_matmul(x, v)
        squares = tf.sparse.sparse_dense_matmul(tf.sparse.map_values(tf.square, x), v * v)
    else:
        summed, squares = tf.matmul(x, v), tf.matmul(x * x, v * v)
    return 0.5 * tf.reduce_sum(summed * summed - squares, axis=1)


def pairwise_interactions_directly(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The same sum taken pair by pair, in O(k n^2): what the identity above must equal."""
    x, v = np.asarray(x, dtype=np.float64), np.asarray(v, dtype=np.float64)
    gram = v @ v.T  # <v_i, v_j> for every pair of features
    upper = np.triu(np.ones_like(gram), k=1)
    return np.einsum("ri,ij,rj->r", x, gram * upper, x)


class FactorizationMachineNet(keras.Model):
    """A factorization machine of degree 2 over ``n_features`` columns:
    ``w0 + sum_i w_i x_i + sum_{i<j} <v_i, v_j> x_i x_j``, with an L2 penalty ``l2`` on the
    weights of the features present in the batch (the rows' own columns)."""

    def __init__(self, n_features: int, dim: int, l2: float, offset: float) -> None:
        super().__init__(name="factorization_machine")
        self.l2 = l2
        self.w0 = self.add_weight(shape=(), initializer=keras.initializers.Constant(offset),
                                  name="w0")
        self.w = self.add_weight(shape=(n_features, 1), initializer="zeros", name="w")
        self.v = self.add_weight(shape=(n_features, dim), name="v",
                                 initializer=keras.initializers.RandomNormal(stddev=0.01))

    def call(self, x, training=False):
        import tensorflow as tf

        linear = tf.sparse.sparse_dense_matmul(x, self.w)[:, 0]
        if training and self.l2:
            present = tf.sparse.map_values(tf.ones_like, x)  # which features each row has
            penalty = (tf.sparse.sparse_dense_matmul(present, self.w * self.w)[:, 0]
                       + tf.reduce_sum(tf.sparse.sparse_dense_matmul(present, self.v * self.v),
                                       axis=1))
            self.add_loss(self.l2 * tf.reduce_mean(penalty))
        return self.w0 + linear + pairwise_interactions(x, self.v)


class FeatureBlocks:
    """The sparse rows of (user, film) pairs, one column block per feature of ``blocks``.

    Built from the training ratings (the ``rated`` block: each user's rated films, 1/sqrt(n)
    each) and the dataset's users' and films' tables (demographics, genres, release period,
    through :class:`TowerFeatures`); ids and codes follow the model's encoders. ``columns``
    gives each block's (start, stop)."""

    def __init__(self, dataset: MovieLens | None, user_ids: np.ndarray, item_ids: np.ndarray,
                 users: np.ndarray, items: np.ndarray, blocks: Sequence[str] = BLOCKS) -> None:
        unknown = set(blocks) - set(BLOCKS)
        if unknown:
            raise ValueError(f"unknown feature blocks {sorted(unknown)}; choose from {BLOCKS}")
        side = set(blocks) - {"user", "item", "rated"}
        if side and (dataset is None or dataset.users is None or dataset.items is None):
            raise ValueError(
                f"the blocks {sorted(side)} read the users' and films' tables of the split's "
                "dataset; fit on a Split made from a MovieLens dataset, or keep to "
                "blocks=('user', 'item', 'rated').")
        self.blocks = tuple(blocks)
        n_users, n_items = len(user_ids), len(item_ids)
        features = TowerFeatures(dataset) if side else None
        user_codes = features.users(user_ids) if features else {}
        item_codes = features.items(item_ids) if features else {}
        parts: dict[str, sp.csr_matrix] = {}
        for block in self.blocks:
            if block == "user":
                parts[block] = sp.identity(n_users, format="csr", dtype=np.float32)
            elif block == "item":
                parts[block] = sp.identity(n_items, format="csr", dtype=np.float32)
            elif block == "rated":
                rated = sp.csr_matrix((np.ones(users.size, dtype=np.float32), (users, items)),
                                      shape=(n_users, n_items))
                rated.data[:] = 1.0  # a film rated twice counts once
                counts = np.maximum(np.diff(rated.indptr), 1)
                parts[block] = sp.diags(1.0 / np.sqrt(counts)).dot(rated).tocsr()
            elif block == "genres":
                parts[block] = sp.csr_matrix(item_codes["genres"])
            else:
                codes = user_codes[block] if block in user_codes else item_codes[block]
                parts[block] = sp.csr_matrix(
                    (np.ones(codes.size, dtype=np.float32), (np.arange(codes.size), codes)),
                    shape=(codes.size, features.sizes[block]))
        self.columns: dict[str, tuple[int, int]] = {}
        start = 0
        for block in self.blocks:
            self.columns[block] = (start, start + parts[block].shape[1])
            start += parts[block].shape[1]
        self.n_features = start
        width = {block: parts[block].shape[1] for block in self.blocks}
        self._user_side = self._stack(parts, USER_SIDE, n_users, width)
        self._item_side = self._stack(parts, tuple(b for b in BLOCKS if b not in USER_SIDE),
                                      n_items, width)

    def _stack(self, parts, side, n_rows, width) -> sp.csr_matrix:
        """The rows of one side, with zeros in the other side's columns."""
        pieces = [parts[b] if b in side else sp.csr_matrix((n_rows, width[b]), dtype=np.float32)
                  for b in self.blocks]
        return sp.hstack(pieces, format="csr", dtype=np.float32)

    def rows(self, users: np.ndarray, items: np.ndarray) -> sp.csr_matrix:
        """The rows of encoded (user, film) pairs."""
        return (self._user_side[users] + self._item_side[items]).tocsr()


def as_sparse_tensor(rows: sp.csr_matrix):
    """A SciPy CSR matrix as a ``tf.SparseTensor`` (for the network)."""
    import tensorflow as tf

    coo = rows.tocoo()
    return tf.sparse.reorder(tf.SparseTensor(
        np.stack([coo.row, coo.col], 1).astype(np.int64), coo.data.astype(np.float32),
        coo.shape))


def row_batches(rows: sp.csr_matrix, targets: np.ndarray | None, batch_size: int,
                seed: int | None):
    """Sparse rows (and targets) as a tf.data pipeline of batches, shuffled in a new seeded
    order every epoch when ``seed`` is given."""
    import tensorflow as tf

    parts = (as_sparse_tensor(rows),) if targets is None else (
        as_sparse_tensor(rows), np.asarray(targets, dtype=np.float32))
    data = tf.data.Dataset.from_tensor_slices(parts if len(parts) > 1 else parts[0])
    if seed is not None:
        data = data.shuffle(rows.shape[0], seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(2)


class FactorizationMachine(KerasRecommender):
    """A factorization machine (Rendle 2010) on ratings, in Keras: :class:`FeatureBlocks`
    rows, squared error, Adam, early-stopped on the validation RMSE and refitted on all
    training ratings by the course's routine (through :class:`KerasRecommender`).

    Not yet tuned. On RATING with training seed 0, the defaults reached a best validation
    RMSE of 0.8995 after 25 epochs, against 0.921 with the id blocks alone; an l2 of 0.003 or
    0.01, or 32 factors at a learning rate of 0.002, stayed between 0.900 and 0.901.
    """

    name = "factorization machine"

    def __init__(self, blocks: Sequence[str] = BLOCKS, dim: int = 16, l2: float = 1e-3,
                 epochs: int = 40, batch_size: int = 1024, learning_rate: float = 1e-3,
                 patience: int = 3, validation_fraction: float = 0.1, refit: bool = True,
                 seed: int = 0, network_class: type[keras.Model] = FactorizationMachineNet
                 ) -> None:
        super().__init__(network_class, epochs, batch_size, learning_rate, patience=patience,
                         validation_fraction=validation_fraction, refit=refit, seed=seed)
        self.blocks, self.dim, self.l2 = tuple(blocks), dim, l2

    def fit(self, data, verbose: int = 0, **options) -> FactorizationMachine:
        self.dataset_ = getattr(data, "dataset", None)
        return super().fit(data, verbose, **options)

    def build_network(self, n_users: int, n_items: int) -> keras.Model:
        """The network over the current rows' columns, its w0 starting at the ratings' mean
        (the users and films come in through the rows, not as counts)."""
        return self.network_class(self.features_.n_features, self.dim, self.l2,
                                  self.start_mean_)

    def _train(self, data, validation, epochs: int, verbose: int):
        """A fresh network on encoded (users, items, ratings): its rows (the rated-films block
        from these ratings alone), early-stopped on ``validation`` when given."""
        users, items, ratings = data
        self.features_ = FeatureBlocks(self.dataset_, self.users_.ids_, self.items_.ids_,
                                       users, items, self.blocks)
        self.start_mean_ = float(ratings.mean())
        network = self._compiled_network()
        callbacks: list = []
        options: dict = {}
        if validation is not None:
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor="val_rmse", patience=self.patience, restore_best_weights=True))
            options["validation_data"] = row_batches(
                self.features_.rows(validation[0], validation[1]), validation[2],
                PREDICT_BATCH, None)
        fitted = network.fit(
            row_batches(self.features_.rows(users, items), ratings, self.batch_size, self.seed),
            epochs=epochs, shuffle=False, verbose=verbose, callbacks=callbacks + self.callbacks,
            **options)
        return network, fitted.history

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        batches = row_batches(self.features_.rows(users, items), None, PREDICT_BATCH, None)
        out = [np.asarray(self.network_(batch)) for batch in batches]
        return (np.concatenate(out) if out else np.zeros(0)).astype(np.float32)

    def _load_extra(self, folder: Path) -> None:
        self.callbacks = []
        self.network_ = self.build_network(len(self.users_), len(self.items_))
        self.network_(as_sparse_tensor(self.features_.rows(np.zeros(1, int), np.zeros(1, int))))
        self.network_.load_weights(folder / "network.weights.h5")
