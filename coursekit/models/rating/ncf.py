"""Neural collaborative filtering (chapter 4): concatenated user and item embeddings fed
through a multi-layer perceptron, trained on centred ratings.

    r_hat(u, i) = mu + MLP([p_u, q_i])

Unlike matrix factorization, nothing forces the model to compare p_u and q_i by a dot
product: the MLP has to learn how to combine them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import keras
from keras import ops

from coursekit.models.training.keras_base import KerasRecommender


# taught: ch-neural-collaborative-filtering
class NeuralCFNet(keras.Model):
    """Neural CF's network: user and item embeddings side by side into an MLP."""

    def __init__(self, n_users: int, n_items: int, n_factors: int, hidden_units: Sequence[int],
                 dropout: float, l2: float, seed: int = 0) -> None:
        super().__init__(name="neural_cf")
        self.l2 = l2
        init = keras.initializers.RandomNormal(stddev=0.05, seed=seed)
        self.user_factors = keras.layers.Embedding(n_users, n_factors,
                                                   embeddings_initializer=init)
        self.item_factors = keras.layers.Embedding(n_items, n_factors,
                                                   embeddings_initializer=init)
        self.concat = keras.layers.Concatenate()
        self.hidden = [keras.layers.Dense(width, activation="relu",
                                          kernel_initializer=keras.initializers.HeNormal(
                                              seed=seed + k + 1))
                       for k, width in enumerate(hidden_units)]
        self.dropout = keras.layers.Dropout(dropout, seed=seed)
        self.out = keras.layers.Dense(1)

    def call(self, inputs, training=False):
        p = self.user_factors(inputs[:, 0])
        q = self.item_factors(inputs[:, 1])
        if self.l2:
            self.add_loss(self.l2 * ops.mean(ops.sum(p * p, axis=1) + ops.sum(q * q, axis=1)))
        x = self.concat([p, q])
        for layer in self.hidden:
            x = self.dropout(layer(x), training=training)
        return ops.squeeze(self.out(x), 1)


class NeuralCF(KerasRecommender):
    """Concatenated embeddings into an MLP, on ratings centred at the training mean."""

    name = "neural CF"
    center = True

    def __init__(
        self,
        n_factors: int = 32,
        hidden_units: Sequence[int] = (1024,),
        dropout: float = 0.5,
        l2: float = 1.0,
        epochs: int = 60,
        batch_size: int = 1024,
        learning_rate: float = 0.05,
        optimizer: Literal["adam", "sgd"] = "sgd",
        momentum: float = 0.9,
        patience: int = 3,
        validation_fraction: float = 0.1,
        refit: bool = True,
        seed: int = 0,
        tensorboard_dir: str | Path | None = None,
        callbacks: list | tuple = (),
        network_class: type[keras.Model] = NeuralCFNet,
    ) -> None:
        super().__init__(network_class, epochs=epochs, batch_size=batch_size,
                         learning_rate=learning_rate, optimizer=optimizer, momentum=momentum,
                         patience=patience, validation_fraction=validation_fraction,
                         refit=refit, seed=seed, tensorboard_dir=tensorboard_dir,
                         callbacks=callbacks)
        self.n_factors, self.hidden_units = n_factors, tuple(hidden_units)
        self.dropout, self.l2 = dropout, l2

    def build_network(self, n_users: int, n_items: int):
        return self.network_class(n_users, n_items, self.n_factors, self.hidden_units,
                                  self.dropout, self.l2, self.seed)
