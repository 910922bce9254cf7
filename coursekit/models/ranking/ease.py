"""EASE (Steck 2019): a linear item-to-item model with a closed-form solution, the strong
simple baseline for top-N lists (chapter 8).

Each user is a row of 0s and 1s (which films they rated, not how). EASE learns a films x films
weight matrix ``B`` with a zero diagonal that rebuilds every row from the user's other films,
minimising ``||X - X B||^2 + l2 ||B||^2``. The solution is closed-form: with
``P = (X^T X + l2 I)^-1``, ``B[i, j] = -P[i, j] / P[j, j]`` off the diagonal. A user's scores
are their row times ``B``: films that people who chose the same films also chose.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from coursekit.models.base import Recommender

MAX_ITEMS = 30_000  # the films x films matrices take 8 bytes x items^2 each (3 of them)


class EASE(Recommender):
    """EASE, the linear item-to-item autoencoder with a closed form (Steck 2019).

    ``l2`` is the penalty on the weights. The default is the one chapter 8 chooses on the TOPN
    validation part (each user's second-latest rating), among 50 to 2,000: HR@10 0.191 at 100,
    within 0.007 of it from 50 to 500, against 0.076 for the most-popular list.
    Memory and time grow with the square and the cube of the number of films, not with the
    ratings: ml-100k's 1,682 films take a second, MovieLens-20M's 26,744 take gigabytes.
    """

    name = "EASE"
    scores_are_ratings = False  # its scores rank films; they are not ratings
    predicts_ratings = False

    def __init__(self, l2: float = 100.0) -> None:
        super().__init__()
        if l2 <= 0:
            raise ValueError(f"l2 must be positive (it makes X^T X invertible), not {l2!r}")
        self.l2 = l2

    def _fit(self, users, items, ratings, validation, verbose) -> None:
        n_users, n_items = len(self.users_), len(self.items_)
        if n_items > MAX_ITEMS:
            raise ValueError(
                f"EASE inverts a films x films matrix: {n_items:,} films would need about "
                f"{3 * 8 * n_items ** 2 / 1e9:.0f} GB. Keep the {MAX_ITEMS:,} most-rated films, "
                "or use a factorization model.")
        chosen = sp.csr_matrix((np.ones(len(users)), (users, items)), shape=(n_users, n_items))
        chosen.data[:] = 1.0  # a film rated twice is still one choice
        gram = (chosen.T @ chosen).toarray()
        gram[np.diag_indices(n_items)] += self.l2
        inverse = np.linalg.inv(gram)
        weights = inverse / -np.diag(inverse)  # column j divided by -P[j, j]
        weights[np.diag_indices(n_items)] = 0.0
        self.weights_ = weights.astype(np.float32)
        self.chosen_ = chosen.astype(np.float32)

    def _rank_scores(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        distinct, row = np.unique(users, return_inverse=True)
        scores = np.asarray(self.chosen_[distinct] @ self.weights_)  # distinct users x films
        return scores[row.ravel(), items]
