"""TensorFlow pipelines from ratings: tf.data batches of (user, item) pairs for the Keras
models, and sparse rating rows kept in TensorFlow for the autoencoders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
import tensorflow as tf

from coursekit.data.encoding import IdEncoder
from coursekit.data.sparse import check_rating_matrix


def interaction_dataset(
    ratings: pd.DataFrame,
    users: IdEncoder,
    items: IdEncoder,
    batch_size: int = 1024,
    shuffle: bool = True,
    seed: int = 0,
    offset: float = 0.0,
) -> "tf.data.Dataset":
    """A tf.data pipeline of ``({"user": idx, "item": idx}, rating - offset)`` batches.

    Indices come from the encoders (fitted on training data); an unknown id raises
    :class:`coursekit.errors.UnknownIdError`. ``offset`` lets a model train on centred ratings.
    """
    features = {
        "user": users.encode(ratings["user"].to_numpy()).astype(np.int32),
        "item": items.encode(ratings["item"].to_numpy()).astype(np.int32),
    }
    target = (ratings["rating"].to_numpy(dtype=np.float32) - np.float32(offset))
    data = tf.data.Dataset.from_tensor_slices((features, target))
    if shuffle:
        data = data.shuffle(len(target), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


class SparseRows:
    """A CSR matrix kept in TensorFlow; ``gather(rows)`` returns the nonzeros of some rows.

    ``gather`` gives three flat tensors: the position of each rating's row within the batch,
    its column and its value. An empty row simply contributes no triple.
    """

    def __init__(self, matrix: sp.spmatrix) -> None:
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
        columns = tf.gather(self._columns, rows)
        values = tf.gather(self._values, rows)
        position = tf.cast(columns.value_rowids(), tf.int32)
        return position, columns.flat_values, values.flat_values
