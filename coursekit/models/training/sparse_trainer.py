"""Training AutoRec on matrices whose rows are long (chapters 5 and 15): updates touch only
the weight rows of the columns a batch holds, with row-wise Adagrad."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from coursekit.data.pipelines import SparseRows
from coursekit.data.sparse import rating_bounded_batches
from coursekit.models.training.rowwise import rowwise_adagrad_update


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
