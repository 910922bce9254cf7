"""Baselines: the global mean and regularised user and item biases (chapter 2)."""

from __future__ import annotations

import numpy as np

from .base import Recommender


class GlobalMean(Recommender):
    """Predicts the mean training rating for everything."""

    name = "global mean"

    def _fit(self, users, items, ratings, validation, verbose) -> None:
        self.mean_ = float(ratings.mean())

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return np.full(users.shape, self.mean_, dtype=np.float32)


class BiasBaseline(Recommender):
    """r_hat(u, i) = mu + b_u + b_i, with biases shrunk towards 0 by L2 penalties.

    Fitted by alternating least squares: with the user biases fixed, each item bias has the
    closed form b_i = sum_u (r_ui - mu - b_u) / (reg_item + n_i), and the other way round.
    A film with few ratings keeps a bias near 0: the penalty says "trust the mean until
    there is evidence".
    """

    name = "user + item biases"

    def __init__(self, reg_user: float = 2.0, reg_item: float = 2.0, n_iter: int = 10) -> None:
        super().__init__()
        self.reg_user, self.reg_item, self.n_iter = reg_user, reg_item, n_iter

    def _fit(self, users, items, ratings, validation, verbose) -> None:
        n_users, n_items = len(self.users_), len(self.items_)
        self.mu_ = float(ratings.mean())
        residual = ratings - self.mu_
        self.user_bias_ = np.zeros(n_users)
        self.item_bias_ = np.zeros(n_items)
        n_u = np.bincount(users, minlength=n_users)
        n_i = np.bincount(items, minlength=n_items)
        for _ in range(self.n_iter):
            self.item_bias_ = _shrunk_mean(
                np.bincount(items, residual - self.user_bias_[users], minlength=n_items),
                n_i, self.reg_item)
            self.user_bias_ = _shrunk_mean(
                np.bincount(users, residual - self.item_bias_[items], minlength=n_users),
                n_u, self.reg_user)

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return (self.mu_ + self.user_bias_[users] + self.item_bias_[items]).astype(np.float32)

    def _predict_cold(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        score = np.full(users.shape, self.mu_)
        score[users >= 0] += self.user_bias_[users[users >= 0]]
        score[items >= 0] += self.item_bias_[items[items >= 0]]
        return score.astype(np.float32)


def _shrunk_mean(total: np.ndarray, count: np.ndarray, reg: float) -> np.ndarray:
    """total / (reg + count), and 0 where there is no rating at all (no evidence, no bias)."""
    denominator = reg + count
    return np.divide(total, denominator, out=np.zeros_like(total, dtype=np.float64),
                     where=denominator > 0)


class MostPopular(BiasBaseline):
    """Recommends the most-rated items to everybody; predicts ratings like BiasBaseline.

    The classic top-N baseline: on the TOPN protocol it is surprisingly hard to beat, because
    the film a user watches next is often a popular one.
    """

    name = "most popular"
    scores_are_ratings = False  # its scores are numbers of ratings

    def _fit(self, users, items, ratings, validation, verbose) -> None:
        super()._fit(users, items, ratings, validation, verbose)
        self.item_count_ = np.bincount(items, minlength=len(self.items_)).astype(np.float64)

    def _rank_scores(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.item_count_[items]
