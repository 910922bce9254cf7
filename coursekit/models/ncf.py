"""Neural collaborative filtering (chapter 4): concatenated user and item embeddings fed
through a multi-layer perceptron, trained on centred ratings.

    r_hat(u, i) = mu + MLP([p_u, q_i])

Unlike matrix factorization, nothing forces the model to compare p_u and q_i by a dot
product: the MLP has to learn how to combine them.
"""

from __future__ import annotations

from collections.abc import Sequence

from .keras_base import KerasRecommender


def build_ncf_network(
    n_users: int, n_items: int, n_factors: int, hidden: Sequence[int], dropout: float,
    l2: float, seed: int = 0,
):
    """The Keras model of chapter 4 (built lazily so coursekit imports fast)."""
    import keras
    from keras import ops

    class NeuralCFNet(keras.Model):
        def __init__(self) -> None:
            super().__init__(name="neural_cf")
            init = keras.initializers.RandomNormal(stddev=0.05, seed=seed)
            self.user_factors = keras.layers.Embedding(n_users, n_factors,
                                                       embeddings_initializer=init)
            self.item_factors = keras.layers.Embedding(n_items, n_factors,
                                                       embeddings_initializer=init)
            self.concat = keras.layers.Concatenate()
            self.hidden = [keras.layers.Dense(width, activation="relu",
                                              kernel_initializer=keras.initializers.HeNormal(
                                                  seed=seed + k + 1))
                           for k, width in enumerate(hidden)]
            self.dropout = keras.layers.Dropout(dropout, seed=seed)
            self.out = keras.layers.Dense(1)

        def call(self, inputs, training=False):
            p = self.user_factors(inputs[:, 0])
            q = self.item_factors(inputs[:, 1])
            if l2:
                self.add_loss(l2 * ops.mean(ops.sum(p * p, axis=1) + ops.sum(q * q, axis=1)))
            x = self.concat([p, q])
            for layer in self.hidden:
                x = self.dropout(layer(x), training=training)
            return ops.squeeze(self.out(x), 1)

    return NeuralCFNet()


class NeuralCF(KerasRecommender):
    """Concatenated embeddings into an MLP, on ratings centred at the training mean."""

    name = "neural CF"
    center = True

    def __init__(self, n_factors: int = 32, hidden: Sequence[int] = (1024,),
                 dropout: float = 0.5, l2: float = 1.0, **training) -> None:
        training.setdefault("batch_size", 1024)
        training.setdefault("optimizer", "sgd")
        training.setdefault("learning_rate", 0.05)
        training.setdefault("momentum", 0.9)
        super().__init__(**training)
        self.n_factors, self.hidden, self.dropout, self.l2 = n_factors, tuple(hidden), dropout, l2

    def build_network(self, n_users: int, n_items: int):
        return build_ncf_network(n_users, n_items, self.n_factors, self.hidden,
                                 self.dropout, self.l2, self.seed)
