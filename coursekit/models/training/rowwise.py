"""Row-wise Adagrad: the optimizer of large embedding tables (chapters 5 and 15).

A batch touches a few rows of a table (the users and items it holds); their gradient is zero
everywhere else. Adam keeps two moments per weight and, in Keras, updates every row on every
step. Row-wise Adagrad keeps one number per *row* (the running sum of the row's mean squared
gradient) and updates the touched rows alone:

    acc[r] += mean_j g[r, j]^2          w[r] -= lr * g[r] / (sqrt(acc[r]) + eps)

so a step costs what the batch touches, not what the table holds, and the optimizer state is
one column instead of two tables.
"""

from __future__ import annotations

import keras
import tensorflow as tf

INITIAL_ACCUMULATOR = 0.1
EPSILON = 1e-7


def raw_variable(variable):
    """The ``tf.Variable`` behind a Keras 3 variable (scatter updates need it); a
    ``tf.Variable`` is returned as it is."""
    return variable.value if isinstance(variable, keras.Variable) else variable


# taught: ch-scaling-up
def rowwise_adagrad_update(variable, accumulator, rows, grad, learning_rate) -> None:
    """Apply one row-wise Adagrad step to ``variable[rows]``: ``grad`` holds one row per
    entry of ``rows``. A row listed twice must have a zero gradient in all but one of its
    places (padding): the updates are added, so zeros change nothing."""
    variable, accumulator = raw_variable(variable), raw_variable(accumulator)
    accumulator.scatter_add(tf.IndexedSlices(tf.reduce_mean(tf.square(grad), 1), rows))
    scale = learning_rate / (tf.sqrt(tf.gather(accumulator, rows)) + EPSILON)
    variable.scatter_sub(tf.IndexedSlices(grad * scale[:, None], rows))
