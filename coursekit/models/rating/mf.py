"""Matrix factorization with biases in Keras 3 (chapter 3).

    r_hat(u, i) = low + (high - low) * sigmoid(c + p_u . q_i + b_u + b_i)

p_u and q_i are learned user and item vectors, b_u and b_i learned biases, and c a learned
offset. The sigmoid keeps every prediction inside [low, high], half a star beyond each end of
the rating scale so that its ends stay reachable. Each training example adds
l2 * (|p_u|^2 + |q_i|^2 + b_u^2 + b_i^2) to the loss: the classic per-rating penalty, which
leaves the embeddings of users and items outside the batch untouched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import keras
import numpy as np
from keras import ops

from coursekit.models.training.keras_base import KerasRecommender


# taught: ch-matrix-factorization
class MatrixFactorizationNet(keras.Model):
    """The MF network: a dot product of user and item vectors, two biases and an offset,
    squashed by a sigmoid into ``output_range``; the per-rating L2 penalty as a model loss."""

    def __init__(self, n_users: int, n_items: int, n_factors: int, l2: float,
                 output_range: tuple[float, float], global_mean: float,
                 seed: int = 0) -> None:
        super().__init__(name="matrix_factorization")
        self.l2, self.output_range = l2, output_range
        low, high = output_range
        init = keras.initializers.RandomNormal(stddev=0.01, seed=seed)
        self.user_factors = keras.layers.Embedding(n_users, n_factors,
                                                   embeddings_initializer=init)
        self.item_factors = keras.layers.Embedding(n_items, n_factors,
                                                   embeddings_initializer=init)
        self.user_bias = keras.layers.Embedding(n_users, 1, embeddings_initializer="zeros")
        self.item_bias = keras.layers.Embedding(n_items, 1, embeddings_initializer="zeros")
        start = (global_mean - low) / (high - low)  # begin at the mean rating
        self.offset = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(np.log(start / (1 - start))),
            name="offset")

    def call(self, inputs):
        low, high = self.output_range
        users, items = inputs[:, 0], inputs[:, 1]
        p, q = self.user_factors(users), self.item_factors(items)
        b_u = ops.squeeze(self.user_bias(users), 1)
        b_i = ops.squeeze(self.item_bias(items), 1)
        if self.l2:
            penalty = ops.sum(p * p, axis=1) + ops.sum(q * q, axis=1) + b_u**2 + b_i**2
            self.add_loss(self.l2 * ops.mean(penalty))
        dot = ops.sum(p * q, axis=1)  # one dot product per row: p_u . q_i
        return low + (high - low) * ops.sigmoid(self.offset + dot + b_u + b_i)


class MatrixFactorization(KerasRecommender):
    """Biased matrix factorization with a sigmoid-squashed output, trained by Adam."""

    name = "matrix factorization"

    def __init__(
        self,
        n_factors: int = 128,
        l2: float = 0.03,
        epochs: int = 60,
        batch_size: int = 128,
        learning_rate: float = 0.0005,
        optimizer: Literal["adam", "sgd"] = "adam",
        momentum: float = 0.9,
        patience: int = 3,
        validation_fraction: float = 0.1,
        refit: bool = True,
        seed: int = 0,
        tensorboard_dir: str | Path | None = None,
        callbacks: list | tuple = (),
        network_class: type[keras.Model] = MatrixFactorizationNet,
    ) -> None:
        super().__init__(network_class, epochs=epochs, batch_size=batch_size,
                         learning_rate=learning_rate, optimizer=optimizer, momentum=momentum,
                         patience=patience, validation_fraction=validation_fraction,
                         refit=refit, seed=seed, tensorboard_dir=tensorboard_dir,
                         callbacks=callbacks)
        self.n_factors, self.l2 = n_factors, l2

    def build_network(self, n_users: int, n_items: int):
        low, high = self.rating_scale
        return self.network_class(n_users, n_items, self.n_factors, self.l2,
                                  (low - 0.5, high + 0.5), self.global_mean_, self.seed)

    def embeddings(self) -> tuple[np.ndarray, np.ndarray]:
        """The learned user and item vectors (rows in encoder order)."""
        self._check_fitted()
        return (np.asarray(self.network_.user_factors.embeddings),
                np.asarray(self.network_.item_factors.embeddings))

    def _predict_cold(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Unknown user or item: the network's output with that side's factors and bias 0."""
        net = self.network_
        logit = np.full(users.shape, float(net.offset.numpy()), dtype=np.float32)
        if (users >= 0).any():
            logit[users >= 0] += np.asarray(net.user_bias.embeddings)[users[users >= 0], 0]
        if (items >= 0).any():
            logit[items >= 0] += np.asarray(net.item_bias.embeddings)[items[items >= 0], 0]
        low, high = self.rating_scale[0] - 0.5, self.rating_scale[1] + 0.5
        return (low + (high - low) * np.asarray(ops.sigmoid(logit))).astype(np.float32)
