"""Baselines: the global mean and regularised user and item biases (chapter 2)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from coursekit.models.base import Recommender


class GlobalMean(Recommender):
    """Predicts the mean training rating for everything."""

    name = "global mean"

    def _fit(self, users, items, ratings, validation, verbose) -> None:
        self.mean_ = float(ratings.mean())

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return np.full(users.shape, self.mean_, dtype=np.float32)


# taught: ch-side-information
def alternating_biases(groups: list[np.ndarray], sizes: list[int], residual: np.ndarray,
                       regs: list[float], n_iter: int) -> list[np.ndarray]:
    """One bias for each member of every grouping of the ratings (``groups[k][r]``: the
    member of grouping k that rating r belongs to, out of ``sizes[k]``), fitted to
    ``residual`` (the ratings minus their mean) by alternating least squares: with the other
    groupings' biases fixed, each grouping's biases have a closed form, the shrunk mean of
    what the others leave, sum(residual - other biases) / (reg + count), taken in turn
    ``n_iter`` times. A member with no rating keeps a bias of 0."""
    counts = [np.bincount(group, minlength=size)
              for group, size in zip(groups, sizes, strict=True)]
    biases = [np.zeros(size) for size in sizes]
    for _ in range(n_iter):
        for k, group in enumerate(groups):
            others = sum(biases[j][groups[j]] for j in range(len(groups)) if j != k)
            total = np.bincount(group, residual - others, minlength=sizes[k])
            shrunk = regs[k] + counts[k]
            biases[k] = np.divide(total, shrunk, out=np.zeros(sizes[k]), where=shrunk > 0)
    return biases


class BiasBaseline(Recommender):
    """r_hat(u, i) = mu + b_u + b_i, with biases shrunk towards 0 by L2 penalties.

    Fitted by alternating least squares (:func:`alternating_biases`, or the function
    ``fit_biases`` of the same signature, a chapter's own copy for instance): with the user
    biases fixed, each item bias has the closed form
    b_i = sum_u (r_ui - mu - b_u) / (reg_item + n_i), and the other way round. A film with few
    ratings keeps a bias near 0: the penalty says "trust the mean until there is evidence".
    """

    name = "user + item biases"

    def __init__(self, reg_user: float = 2.0, reg_item: float = 2.0, n_iter: int = 10,
                 fit_biases: Callable[..., list[np.ndarray]] = alternating_biases) -> None:
        super().__init__()
        self.reg_user, self.reg_item, self.n_iter = reg_user, reg_item, n_iter
        self.fit_biases = fit_biases

    def _fit(self, users, items, ratings, validation, verbose) -> None:
        self.mu_ = float(ratings.mean())
        self.item_bias_, self.user_bias_ = self.fit_biases(
            [items, users], [len(self.items_), len(self.users_)], ratings - self.mu_,
            [self.reg_item, self.reg_user], self.n_iter)

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return (self.mu_ + self.user_bias_[users] + self.item_bias_[items]).astype(np.float32)

    def _predict_cold(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        score = np.full(users.shape, self.mu_)
        score[users >= 0] += self.user_bias_[users[users >= 0]]
        score[items >= 0] += self.item_bias_[items[items >= 0]]
        return score.astype(np.float32)

    def predict_from_profiles(self, profiles: pd.DataFrame, pairs: pd.DataFrame) -> np.ndarray:
        """Predicted ratings of ``pairs`` for users absent from training, folded in from their
        ratings in ``profiles`` (user, item, rating) without retraining: with the film biases
        fixed, a new user's bias is the penalised mean of their residuals,
        b_u = sum(r - mu - b_i) / (reg_user + n_u). Films the model never saw count with
        b_i = 0."""
        profiles = self._checked_profiles(profiles, pairs)

        def item_bias(ids: pd.Series) -> np.ndarray:
            items = self.items_.encode(ids.to_numpy(), unknown="mask")
            return np.where(items >= 0, self.item_bias_[np.maximum(items, 0)], 0.0)

        residual = profiles["rating"].to_numpy(float) - self.mu_ - item_bias(profiles["item"])
        by_user = pd.Series(residual).groupby(profiles["user"].to_numpy())
        user_bias = by_user.sum() / (self.reg_user + by_user.size())
        folded = self.mu_ + pairs["user"].map(user_bias).fillna(0.0).to_numpy(float) \
            + item_bias(pairs["item"])
        return np.clip(folded, *self.rating_scale).astype(np.float32)


SECONDS_PER_DAY = 86_400


class TimeAwareBiases(BiasBaseline):
    """r_hat(u, i, t) = mu + b_u + b_i + b_{u,day(t)}: the biases of chapter 2 plus one bias
    for each day on which a user rated, the day-specific user bias of Koren's temporal
    dynamics (2009). A user's mood, or the way they use the scale, drifts from one session to
    the next; the day's bias follows it, shrunk towards 0 by ``reg_day``.

    The time of a rating is context: :meth:`predict` takes it as ``timestamps`` (seconds, as
    in the ratings' ``timestamp`` column, which ``predict_frame`` reads), and without it, or
    on a day the user did not rate in training, the day's bias is 0.

    The penalties were chosen for the blend of chapter 7, on its held-out tenth of the
    training ratings of two splits: 1 to 4 on the day's bias, 2 to 5 on the user's, gave the
    same blend within 0.0003 RMSE; larger penalties on the films' biases (10, 25) did worse,
    and so did a bias for each film in each month of ratings, with penalties from 2 to 50 on
    it (chapter 7's fourth exercise)."""

    name = "time-aware biases"
    reads_time = True

    def __init__(self, reg_user: float = 2.0, reg_item: float = 2.0, reg_day: float = 2.0,
                 n_iter: int = 10,
                 fit_biases: Callable[..., list[np.ndarray]] = alternating_biases) -> None:
        super().__init__(reg_user, reg_item, n_iter, fit_biases)
        self.reg_day = reg_day

    def _read_parts(self, train: pd.DataFrame, validation: pd.DataFrame | None) -> None:
        self._train_days = train["timestamp"].to_numpy(np.int64) // SECONDS_PER_DAY

    def _fit(self, users, items, ratings, validation, verbose) -> None:
        days, self._train_days = self._train_days, None
        user_day, self.user_days_ = pd.MultiIndex.from_arrays([users, days]).factorize()
        self.mu_ = float(ratings.mean())
        self.item_bias_, self.user_bias_, self.day_bias_ = self.fit_biases(
            [items, users, user_day], [len(self.items_), len(self.users_), len(self.user_days_)],
            ratings - self.mu_, [self.reg_item, self.reg_user, self.reg_day], self.n_iter)

    def _time_scores(self, u: np.ndarray, i: np.ndarray, users: np.ndarray, items: np.ndarray,
                     timestamps: np.ndarray) -> np.ndarray:
        days = timestamps // SECONDS_PER_DAY  # whole seconds, as predict made them
        found = self.user_days_.get_indexer(pd.MultiIndex.from_arrays([u, days]))
        return np.where(found >= 0, self.day_bias_[found], 0.0).astype(np.float32)


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
