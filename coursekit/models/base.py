"""The one interface every coursekit model shares.

    model.fit(split)                      # train on split.train (and split.validation)
    model.predict(users, items)           # predicted ratings of raw (user, item) id pairs
    model.recommend(user, n=10)           # top-n unseen items for a user, with titles
    model.save(path); Model.load(path)    # to disk and back

Predictions stay inside the rating scale. A user the model never saw gets the popularity
fallback with a warning; an item it never saw raises :class:`UnknownIdError` unless
``unknown="fallback"`` is passed (as the evaluation does, counting such cases).
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from coursekit.data.encoding import IdEncoder
from coursekit.data.splits import Split
from coursekit.errors import UnknownIdError

Unknown = Literal["error", "fallback"]


def holdout_mask(n: int, fraction: float, seed: int) -> np.ndarray:
    """A seeded boolean mask marking ``int(fraction * n)`` of ``n`` rows for validation."""
    held = np.zeros(n, dtype=bool)
    held[np.random.default_rng(seed).permutation(n)[: int(fraction * n)]] = True
    return held


class NotFittedError(RuntimeError):
    """The model was used before ``fit``."""


class Popularity:
    """Popularity lists for users without history (as in seed 003's cold-start answer).

    ``highest_rated``: best mean rating among items with more than ``min_count`` ratings.
    ``most_rated``: most ratings among items whose mean rating exceeds ``min_mean``.
    """

    def __init__(self, min_count: int = 50, min_mean: float = 3.5) -> None:
        self.min_count = min_count
        self.min_mean = min_mean
        self.stats_: pd.DataFrame | None = None

    def fit(self, ratings: pd.DataFrame) -> "Popularity":
        self.stats_ = ratings.groupby("item")["rating"].agg(count="size", mean="mean")
        return self

    def _stats(self) -> pd.DataFrame:
        if self.stats_ is None:
            raise NotFittedError("Popularity is not fitted yet; call fit(ratings) first.")
        return self.stats_

    def highest_rated(self, n: int = 10, min_count: int | None = None) -> pd.DataFrame:
        stats = self._stats()
        threshold = self.min_count if min_count is None else min_count
        chosen = stats[stats["count"] > threshold]
        order = chosen.sort_values(["mean", "count"], ascending=False)
        return order.head(n).reset_index()

    def most_rated(self, n: int = 10, min_mean: float | None = None) -> pd.DataFrame:
        stats = self._stats()
        threshold = self.min_mean if min_mean is None else min_mean
        chosen = stats[stats["mean"] > threshold]
        order = chosen.sort_values(["count", "mean"], ascending=False)
        return order.head(n).reset_index()


class Recommender:
    """Base class: subclasses implement ``_fit`` and ``_predict_known`` on encoded indices."""

    name: ClassVar[str] = "model"
    scores_are_ratings: ClassVar[bool] = True  # recommendation scores shown on the rating scale

    def __init__(self) -> None:
        self.fitted_ = False

    # --- what subclasses provide -------------------------------------------------------
    def _fit(self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray,
             validation: tuple[np.ndarray, np.ndarray, np.ndarray] | None, verbose: int) -> None:
        raise NotImplementedError

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Raw scores for index pairs whose user and item were both seen in training."""
        raise NotImplementedError

    def _rank_scores(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Scores that order recommendations (higher first); predicted ratings by default."""
        return self._predict_known(users, items)

    def _predict_cold(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Scores where the user or the item (index -1) is unknown: the global mean."""
        return np.full(users.shape, self.global_mean_, dtype=np.float32)

    # --- the shared interface ------------------------------------------------------------
    def fit(self, split: Split, verbose: int = 0) -> "Recommender":
        """Train on ``split.train``; ``split.validation``, when present, guides training.

        ``split.test`` is never looked at.
        """
        seen = [split.train] + ([split.validation] if split.validation is not None else [])
        everything = pd.concat(seen, ignore_index=True)
        self.rating_scale = tuple(float(x) for x in split.rating_scale)
        self.users_ = IdEncoder("user").fit(everything["user"])
        self.items_ = IdEncoder("item").fit(everything["item"])
        self.global_mean_ = float(split.train["rating"].mean())
        self.popularity_ = Popularity().fit(everything)
        u = self.users_.encode(everything["user"])
        i = self.items_.encode(everything["item"])
        self.seen_ = sp.csr_matrix(
            (np.ones(u.size, dtype=np.int8), (u, i)), shape=(len(self.users_), len(self.items_))
        )
        self.titles_ = _titles(split)
        train = self._encode(split.train)
        validation = self._encode(split.validation) if split.validation is not None else None
        self._fit(*train, validation, verbose)
        self.fitted_ = True
        return self

    def _encode(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (
            self.users_.encode(frame["user"]),
            self.items_.encode(frame["item"]),
            frame["rating"].to_numpy(dtype=np.float32),
        )

    def _check_fitted(self) -> None:
        if not getattr(self, "fitted_", False):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet: call model.fit(split) first."
            )

    def predict(self, users: Any, items: Any, unknown: Unknown = "error") -> np.ndarray:
        """Predicted ratings of raw ``(users[k], items[k])`` pairs, clipped to the scale."""
        self._check_fitted()
        users, items = np.atleast_1d(np.asarray(users)), np.atleast_1d(np.asarray(items))
        if users.shape != items.shape:
            raise ValueError(f"users and items differ in length: {users.shape} vs {items.shape}")
        u = self.users_.encode(users, unknown="mask")
        i = self.items_.encode(items, unknown="mask")
        if unknown == "error":
            if (i < 0).any():
                missing = np.unique(items[i < 0])[:5].tolist()
                raise UnknownIdError(
                    f"{int((i < 0).sum())} item(s) were not in the training data, e.g. {missing}; "
                    "the model has no embedding for them. Pass unknown='fallback' to predict "
                    "the global mean (plus the user's bias, where the model has one)."
                )
            if (u < 0).any():
                warnings.warn(
                    f"{int((u < 0).sum())} prediction(s) are for users not seen in training; "
                    "they get the cold-start fallback.",
                    stacklevel=2,
                )
        known = (u >= 0) & (i >= 0)
        scores = np.empty(u.shape, dtype=np.float32)
        if known.any():
            scores[known] = self._predict_known(u[known], i[known])
        if (~known).any():
            scores[~known] = self._predict_cold(u[~known], i[~known])
        return np.clip(scores, *self.rating_scale)

    def predict_frame(self, frame: pd.DataFrame, unknown: Unknown = "fallback") -> np.ndarray:
        """Predictions for every row of a ratings frame (for evaluation)."""
        return self.predict(frame["user"].to_numpy(), frame["item"].to_numpy(), unknown=unknown)

    def score_items(self, user_index: int) -> np.ndarray:
        """Scores of every known item for one encoded user (higher is better)."""
        items = np.arange(len(self.items_))
        return self._rank_scores(np.full(items.size, user_index), items)

    def recommend(self, user: int, n: int = 10, exclude_seen: bool = True) -> pd.DataFrame:
        """The ``n`` best items for a raw user id: ``item``, ``title``, ``score``.

        A user the model never saw gets the popularity list (highest rated among items with
        more than 50 ratings), with a warning.
        """
        self._check_fitted()
        if user not in self.users_:
            warnings.warn(
                f"User {user} was not in the training data; recommending the highest-rated "
                "popular items instead (the cold-start fallback).",
                stacklevel=2,
            )
            top = self.popularity_.highest_rated(n)
            return self._table(top["item"].to_numpy(), top["mean"].to_numpy(), "popularity")
        u = int(self.users_.encode([user])[0])
        scores = np.asarray(self.score_items(u), dtype=np.float64)
        if exclude_seen:
            scores[self.seen_[u].indices] = -np.inf
        n = min(n, int(np.isfinite(scores).sum()))
        best = np.argpartition(-scores, n - 1)[:n] if n else np.array([], dtype=int)
        best = best[np.argsort(-scores[best], kind="stable")]
        return self._table(self.items_.decode(best), self._shown(scores[best]), self.name)

    def recommend_all(
        self, n: int = 10, users: Any = None, exclude_seen: bool = True, batch_users: int = 128
    ) -> pd.DataFrame:
        """Top-``n`` lists for many users at once: a frame of ``user, item, rank, score``.

        ``users`` defaults to every user seen in training. Users are scored in batches of
        ``batch_users`` (every item for each), so all 943 users of ml-100k take seconds.
        Users the model never saw get the popularity list.
        """
        self._check_fitted()
        raw = self.users_.ids_ if users is None else np.asarray(users)
        encoded = self.users_.encode(raw, unknown="mask")
        n_items = len(self.items_)
        n = min(n, n_items)
        all_items = np.arange(n_items)
        frames = []
        known = np.flatnonzero(encoded >= 0)
        for start in range(0, known.size, batch_users):
            rows = known[start:start + batch_users]
            u = encoded[rows]
            scores = np.asarray(self._rank_scores(np.repeat(u, n_items),
                                                    np.tile(all_items, u.size)),
                                dtype=np.float64).reshape(u.size, n_items)
            if exclude_seen:
                seen = self.seen_[u]
                scores[np.repeat(np.arange(u.size), np.diff(seen.indptr)), seen.indices] = -np.inf
            best = np.argpartition(-scores, n - 1, axis=1)[:, :n]
            order = np.argsort(-np.take_along_axis(scores, best, 1), axis=1, kind="stable")
            best = np.take_along_axis(best, order, 1)
            top_scores = np.take_along_axis(scores, best, 1)
            frames.append(pd.DataFrame({
                "user": np.repeat(raw[rows], n),
                "item": self.items_.decode(best.ravel()),
                "rank": np.tile(np.arange(1, n + 1), u.size),
                "score": self._shown(top_scores.ravel()),
            }))
        cold = np.flatnonzero(encoded < 0)
        if cold.size:
            top = self.popularity_.highest_rated(n)
            frames.append(pd.DataFrame({
                "user": np.repeat(raw[cold], len(top)),
                "item": np.tile(top["item"].to_numpy(), cold.size),
                "rank": np.tile(np.arange(1, len(top) + 1), cold.size),
                "score": np.tile(top["mean"].to_numpy(), cold.size),
            }))
        result = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            columns=["user", "item", "rank", "score"])
        result = result[np.isfinite(result["score"])]
        return result.sort_values(["user", "rank"], kind="stable").reset_index(drop=True)

    def _shown(self, scores: np.ndarray) -> np.ndarray:
        """Scores as shown to people: predicted ratings are clipped to the scale (after the
        ranking was decided on the raw scores)."""
        return np.clip(scores, *self.rating_scale) if self.scores_are_ratings else scores

    def _table(self, items: np.ndarray, scores: np.ndarray, source: str) -> pd.DataFrame:
        titles = [self.titles_.get(int(i), "?") for i in items]
        frame = pd.DataFrame({"item": items, "title": titles, "score": scores})
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="rank")
        frame.attrs["source"] = source
        return frame

    # --- persistence ---------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the fitted model into folder ``path``."""
        self._check_fitted()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v for k, v in self.__dict__.items() if k not in self._unpicklable()}
        with open(folder / "state.pkl", "wb") as handle:
            pickle.dump({"class": type(self), "state": state}, handle)
        self._save_extra(folder)
        return folder

    @classmethod
    def load(cls, path: str | Path) -> "Recommender":
        """Read a model written by ``save``."""
        folder = Path(path)
        with open(folder / "state.pkl", "rb") as handle:
            saved = pickle.load(handle)
        model = saved["class"].__new__(saved["class"])
        if not isinstance(model, cls):
            raise TypeError(f"{folder} holds a {saved['class'].__name__}, not a {cls.__name__}.")
        model.__dict__.update(saved["state"])
        model._load_extra(folder)
        return model

    def _unpicklable(self) -> set[str]:
        return set()

    def _save_extra(self, folder: Path) -> None:
        pass

    def _load_extra(self, folder: Path) -> None:
        pass

    def __repr__(self) -> str:
        state = "fitted" if getattr(self, "fitted_", False) else "not fitted"
        return f"{type(self).__name__}({state})"


def _titles(split: Split) -> dict[int, str]:
    if split.dataset is None:
        return {}
    items = split.dataset.items
    return dict(zip(items["item"].tolist(), items["title"].tolist(), strict=True))
