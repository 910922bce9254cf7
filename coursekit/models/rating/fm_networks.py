"""The factorization machine, DeepFM and DCN-v2 as Keras networks, the code the side
information chapter teaches: the O(k n) pairwise term, the field embeddings and the
networks over a batch of sparse feature rows (Rendle 2010; Guo et al. 2017; Wang et al. 2021)."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import scipy.sparse as sp


def as_sparse_tensor(rows: sp.csr_matrix):
    """A SciPy CSR matrix as a ``tf.SparseTensor`` (for the network)."""
    import tensorflow as tf

    coo = rows.tocoo()
    return tf.sparse.reorder(tf.SparseTensor(
        np.stack([coo.row, coo.col], 1).astype(np.int64), coo.data.astype(np.float32),
        coo.shape))


# taught: ch-side-information
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


# taught: ch-side-information
def spread_by_field(x, field_of_column, n_fields: int):
    """The rows ``x`` (a ``tf.SparseTensor``) made ``n_fields`` times taller: row r's entries
    in field f move to row ``r * n_fields + f``. Built once for a set of rows, since only the
    factors change as a network trains."""
    import tensorflow as tf

    rows = x.indices[:, 0] * n_fields + tf.gather(field_of_column, x.indices[:, 1])
    return tf.SparseTensor(tf.stack([rows, x.indices[:, 1]], 1), x.values,
                           tf.stack([x.dense_shape[0] * n_fields, x.dense_shape[1]]))


# taught: ch-side-information
def field_embeddings(spread, v, n_fields: int):
    """Each row's sum of ``x_i v_i`` within every field (block) of columns, as a (rows x
    fields x factors) tensor, from the rows ``spread`` by field: one sparse product, whose
    row ``r * n_fields + f`` is row r's sum over field f."""
    import tensorflow as tf

    return tf.reshape(tf.sparse.sparse_dense_matmul(spread, v), (-1, n_fields, v.shape[1]))


# taught: ch-side-information
def on_both_sides(pairs, user_values, film_values):
    """The value of each (user, film) pair of ``pairs``: its user's plus its film's. This is
    how any sum over the features of a pair's row is taken, once per user and once per film
    (``user_values``, ``film_values``: one row for every row of a side's part) instead of
    once per pair."""
    import tensorflow as tf

    return tf.gather(user_values, pairs[:, 0]) + tf.gather(film_values, pairs[:, 1])


# taught: ch-side-information
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


# taught: ch-side-information
def perceptron(hidden_units: Sequence[int], dropout: float) -> keras.Sequential:
    """ReLU layers of ``hidden_units``, each followed by dropout, then one output unit that
    starts at zero (so a deep part adds nothing until it has learned something)."""
    return keras.Sequential(
        [layer for units in hidden_units
         for layer in (keras.layers.Dense(units, activation="relu"),
                       keras.layers.Dropout(dropout))]
        + [keras.layers.Dense(1, kernel_initializer="zeros")])


# taught: ch-side-information
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


# taught: ch-side-information
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


# taught: ch-side-information
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
