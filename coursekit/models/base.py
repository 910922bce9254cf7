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

import coursekit
from coursekit.data.encoding import IdEncoder
from coursekit.data.movielens import MovieLens
from coursekit.data.splits import Split
from coursekit.data.validation import (
    DuplicatePolicy,
    check_rating_scale,
    infer_rating_scale,
    seconds_since_epoch,
    validate_ratings,
)
from coursekit.errors import (
    EmptySplitError,
    InvalidRatingsError,
    ModelVersionError,
    NotFittedError,
    RatingsNotPredictedError,
    UnknownIdError,
)
from coursekit.io import atomic_folder

Unknown = Literal["error", "fallback"]


def check_n(n: int) -> int:
    """``n`` as a positive int, or a clear error."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a whole number of at least 1, got {n!r}.")
    return int(n)


def training_parts(
    data: Split | pd.DataFrame, rating_scale: tuple[float, float] | None,
    on_duplicates: DuplicatePolicy,
) -> tuple[pd.DataFrame, pd.DataFrame | None, tuple[float, float], MovieLens | None]:
    """What ``fit`` learns from: (train, validation or None, rating scale, dataset).

    A :class:`Split` was validated when it was made; a plain ratings table is validated here,
    and all of it is training data.
    """
    if isinstance(data, Split):
        if rating_scale is None:  # the split checked its parts against its own scale
            return data.train, data.validation, data.rating_scale, data.dataset
        for frame in (data.train, data.validation):
            if frame is not None:
                check_rating_scale(frame, rating_scale)
        return data.train, data.validation, rating_scale, data.dataset
    if isinstance(data, pd.DataFrame):
        train = validate_ratings(data, rating_scale, on_duplicates)
        if len(train) == 0:
            raise EmptySplitError("Cannot fit on an empty ratings table.")
        return train, None, rating_scale or infer_rating_scale(train), None
    raise TypeError(
        f"fit expects a coursekit Split or a ratings DataFrame, got {type(data).__name__}. "
        "Make a split with coursekit.data.random_split(ratings)."
    )


class Popularity:
    """Popularity lists for users without history (the classic cold-start answer).

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

    def fallback(self, n: int = 10) -> pd.DataFrame:
        """The cold-start list: :meth:`highest_rated`, topped up with the most-rated remaining
        items when fewer than ``n`` items pass the count threshold (small tables)."""
        top = self.highest_rated(n)
        if len(top) < n:
            rest = self._stats().drop(index=top["item"])
            more = rest.sort_values(["count", "mean"], ascending=False).head(n - len(top))
            top = pd.concat([top, more.reset_index()], ignore_index=True)
        return top

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
    predicts_ratings: ClassVar[bool] = True  # False: predict() refuses (ranking-only models)
    # True: trained by the course's routine, the model keeps its early-stopped predictions of
    # the validation ratings (``validation_predictions_``) before the refit on all of them
    keeps_validation_predictions: ClassVar[bool] = False
    # True: the time of a rating changes its prediction (``predict(..., timestamps=...)``,
    # and ``predict_frame`` reads the frame's ``timestamp`` column)
    reads_time: ClassVar[bool] = False

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

    def _read_parts(self, train: pd.DataFrame, validation: pd.DataFrame | None) -> None:
        """Called by ``fit`` with the validated training and validation parts, before
        ``_fit``: a model that needs more of them than encoded ids (the sequence models read
        their time order) checks and keeps it here."""

    def _time_scores(self, u: np.ndarray, i: np.ndarray, users: np.ndarray, items: np.ndarray,
                     timestamps: np.ndarray) -> np.ndarray:
        """What the time of each rating adds to the scores of raw-id pairs (``u``, ``i``: their
        indices, -1 when unknown): only a model that ``reads_time`` provides it."""
        raise NotImplementedError

    def _predict_cold(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Scores where the user or the item (index -1) is unknown: the global mean."""
        return np.full(users.shape, self.global_mean_, dtype=np.float32)

    def _predict_unknown(self, users: np.ndarray, items: np.ndarray, user_ids: np.ndarray,
                         item_ids: np.ndarray) -> np.ndarray:
        """Scores of pairs with an unknown user or item (index -1), given their raw ids too:
        ``_predict_cold`` by default; a model with side features reads them by id."""
        return self._predict_cold(users, items)

    # --- the shared interface ------------------------------------------------------------
    def fit(
        self, data: Split | pd.DataFrame, verbose: int = 0, *,
        rating_scale: tuple[float, float] | None = None, on_duplicates: DuplicatePolicy = "error",
    ) -> "Recommender":
        """Train on ``data.train`` of a :class:`Split` (its validation part, when present,
        guides training; its test part is never looked at), or on a whole ratings table.

        A table is validated first (see :func:`coursekit.data.validate_ratings`); its rating
        scale is ``rating_scale`` or, when not given, the lowest and highest rating in it.
        """
        train, validation, scale, dataset = training_parts(data, rating_scale, on_duplicates)
        self._read_parts(train, validation)
        seen = [train] + ([validation] if validation is not None else [])
        everything = pd.concat(seen, ignore_index=True)
        self.fitted_ = False
        self.rating_scale = (float(scale[0]), float(scale[1]))
        self.users_ = IdEncoder("user").fit(everything["user"])
        self.items_ = IdEncoder("item").fit(everything["item"])
        self.global_mean_ = float(train["rating"].mean())
        self.popularity_ = Popularity().fit(everything)
        u = self.users_.encode(everything["user"])
        i = self.items_.encode(everything["item"])
        self.seen_ = sp.csr_matrix(
            (np.ones(u.size, dtype=np.int8), (u, i)), shape=(len(self.users_), len(self.items_))
        )
        self.titles_ = _titles(dataset)
        encoded_validation = self._encode(validation) if validation is not None else None
        self.validation_predictions_: pd.DataFrame | None = None
        self._fit(*self._encode(train), encoded_validation, verbose)
        self.fitted_ = True
        return self

    def _keep_validation_predictions(self, validation: tuple[np.ndarray, np.ndarray,
                                                             np.ndarray]) -> None:
        """Keep the early-stopped model's predictions of the encoded ``validation`` ratings
        (raw ids, clipped to the scale) in ``validation_predictions_``: ratings the model
        did not learn from, what a blend is fitted on (:mod:`coursekit.models.rating.blend`)."""
        users, items, ratings = validation
        self.validation_predictions_ = pd.DataFrame({
            "user": self.users_.ids_[users], "item": self.items_.ids_[items],
            "rating": ratings,
            "prediction": np.clip(self._predict_known(users, items), *self.rating_scale)})

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

    def _checked_profiles(self, profiles: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
        """The boundary of a ``predict_from_profiles``: the new users' ratings validated as
        ``fit`` validates its table, and ``pairs`` holding the columns to predict for."""
        self._check_fitted()
        missing = {"user", "item"} - set(pairs.columns)
        if missing:
            raise InvalidRatingsError(f"pairs lacks the column(s) {sorted(missing)}; it needs "
                                      "'user' and 'item' (rename your columns).")
        return validate_ratings(profiles, self.rating_scale)

    def predict(self, users: Any, items: Any, unknown: Unknown = "error",
                timestamps: Any = None) -> np.ndarray:
        """Predicted ratings of raw ``(users[k], items[k])`` pairs, clipped to the scale; a
        model that reads the time of a rating (``reads_time``) takes it as ``timestamps``
        (seconds, one per pair), and predicts without it when it is not given."""
        self._check_fitted()
        if not self.predicts_ratings:
            raise RatingsNotPredictedError(
                f"{type(self).__name__} ranks items but does not predict ratings: its scores "
                "are not on the rating scale. Use model.score(users, items) for its scores, or "
                "model.recommend(user) for a list; evaluate it with top-N metrics, not RMSE."
            )
        users, items = _pairs(users, items)
        if timestamps is not None:
            if not self.reads_time:
                raise TypeError(f"{type(self).__name__} does not read the time of a rating: "
                                "call predict without timestamps.")
            timestamps = seconds_since_epoch(timestamps)
            if timestamps.size != users.size:
                raise ValueError(f"timestamps holds {timestamps.size} value(s) for "
                                 f"{users.size} pair(s): give one time per (user, item) pair.")
        u = self.users_.encode(users, unknown="mask")
        i = self.items_.encode(items, unknown="mask")
        if unknown == "error":
            if (i < 0).any():
                missing = np.unique(items[i < 0])[:5].tolist()
                raise UnknownIdError(
                    f"{int((i < 0).sum())} item(s) were not in the training data, e.g. {missing}; "
                    "the model has no embedding for them. Pass unknown='fallback' to predict "
                    "the global mean, or the model's learned counterpart of it (plus the user's "
                    "bias, where the model has one; a model with side features predicts from "
                    "the item's features)."
                )
            if (u < 0).any():
                warnings.warn(
                    f"{int((u < 0).sum())} prediction(s) are for users not seen in training; "
                    "they get the cold-start fallback.",
                    stacklevel=2,
                )
        scores = self._scores_of_ids(users, items, u, i)
        if timestamps is not None:
            scores = scores + self._time_scores(u, i, users, items, timestamps)
        return np.clip(scores, *self.rating_scale)

    def _scores_of_ids(self, users: np.ndarray, items: np.ndarray,
                       u: np.ndarray | None = None, i: np.ndarray | None = None) -> np.ndarray:
        """Raw scores of raw-id pairs (``u``, ``i``: their encoded indices, -1 when unknown,
        computed when not given): known pairs from the model, the others from its cold
        start (``_predict_unknown``)."""
        if u is None or i is None:
            u = self.users_.encode(users, unknown="mask")
            i = self.items_.encode(items, unknown="mask")
        known = (u >= 0) & (i >= 0)
        scores = np.empty(u.shape, dtype=np.float32)
        if known.any():
            scores[known] = self._predict_known(u[known], i[known])
        if (~known).any():
            scores[~known] = self._predict_unknown(u[~known], i[~known], users[~known],
                                                   items[~known])
        return scores

    def predict_frame(self, frame: pd.DataFrame, unknown: Unknown = "fallback") -> np.ndarray:
        """Predictions for every row of a ratings frame (for evaluation), at the time in its
        ``timestamp`` column for a model that reads it."""
        timestamps = (frame["timestamp"].to_numpy()
                      if self.reads_time and "timestamp" in frame.columns else None)
        return self.predict(frame["user"].to_numpy(), frame["item"].to_numpy(), unknown=unknown,
                            timestamps=timestamps)

    def score(self, users: Any, items: Any) -> np.ndarray:
        """The scores that order this model's recommendations, for raw ``(user, item)`` pairs
        seen in training (higher is better; not necessarily ratings)."""
        self._check_fitted()
        users, items = _pairs(users, items)
        u, i = self.users_.encode(users), self.items_.encode(items)
        return np.asarray(self._rank_scores(u, i), dtype=np.float32)

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
        n = check_n(n)
        if user not in self.users_:
            warnings.warn(
                f"User {user!r} was not in the training data; recommending the highest-rated "
                "popular items instead (the cold-start fallback).",
                stacklevel=2,
            )
            top = self.popularity_.fallback(n)
            return self._table(top["item"].to_numpy(), top["mean"].to_numpy(), "popularity")
        u = int(self.users_.encode([user])[0])
        scores = np.asarray(self.score_items(u), dtype=np.float64)
        scores[np.isnan(scores)] = -np.finfo(np.float64).max  # ranked last, never dropped
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
        n = check_n(n)
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
            scores[np.isnan(scores)] = -np.finfo(np.float64).max
            if exclude_seen:
                seen = self.seen_[u]
                scores[np.repeat(np.arange(u.size), np.diff(seen.indptr)), seen.indices] = -np.inf
            best = np.argpartition(-scores, n - 1, axis=1)[:, :n]
            order = np.argsort(-np.take_along_axis(scores, best, 1), axis=1, kind="stable")
            best = np.take_along_axis(best, order, 1)
            top_scores = np.take_along_axis(scores, best, 1).ravel()
            keep = np.isfinite(top_scores)  # a rated item never fills a list, whatever n
            frames.append(pd.DataFrame({
                "user": np.repeat(raw[rows], n)[keep],
                "item": self.items_.decode(best.ravel()[keep]),
                "rank": np.tile(np.arange(1, n + 1), u.size)[keep],
                "score": self._shown(top_scores[keep]),
            }))
        cold = np.flatnonzero(encoded < 0)
        if cold.size:
            warnings.warn(
                f"{cold.size} user(s) were not in the training data, e.g. "
                f"{raw[cold][:5].tolist()}; they get the popularity list (the cold-start "
                "fallback).",
                stacklevel=2,
            )
            top = self.popularity_.fallback(n)
            frames.append(pd.DataFrame({
                "user": np.repeat(raw[cold], len(top)),
                "item": np.tile(top["item"].to_numpy(), cold.size),
                "rank": np.tile(np.arange(1, len(top) + 1), cold.size),
                "score": np.tile(top["mean"].to_numpy(), cold.size),
            }))
        result = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            columns=["user", "item", "rank", "score"])
        return result.sort_values(["user", "rank"], kind="stable").reset_index(drop=True)

    def _shown(self, scores: np.ndarray) -> np.ndarray:
        """Scores as shown to people: predicted ratings are clipped to the scale (after the
        ranking was decided on the raw scores)."""
        return np.clip(scores, *self.rating_scale) if self.scores_are_ratings else scores

    def _table(self, items: np.ndarray, scores: np.ndarray, source: str) -> pd.DataFrame:
        titles = [self.titles_.get(i, "?") for i in items]
        frame = pd.DataFrame({"item": items, "title": titles, "score": scores})
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="rank")
        frame.attrs["source"] = source
        return frame

    # --- persistence ---------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the fitted model into folder ``path`` (replaced whole, never half-written)."""
        self._check_fitted()
        folder = Path(path)
        state = {k: v for k, v in self.__dict__.items() if k not in self._unpicklable()}
        saved = {"class": type(self), "state": state, "coursekit_version": coursekit.__version__}
        with atomic_folder(folder) as staging:
            with open(staging / "state.pkl", "wb") as handle:
                pickle.dump(saved, handle)
            self._save_extra(staging)
        return folder

    @classmethod
    def load(cls, path: str | Path) -> "Recommender":
        """Read a model written by ``save`` with this version of coursekit."""
        folder = Path(path)
        if not (folder / "state.pkl").is_file():
            raise FileNotFoundError(f"{folder} holds no saved coursekit model (no state.pkl).")
        with open(folder / "state.pkl", "rb") as handle:
            try:
                saved = pickle.load(handle)
            except (AttributeError, ImportError) as error:  # a class it names is missing
                if isinstance(error, AttributeError) and "__main__" in str(error):
                    raise ModelVersionError(
                        f"{folder} holds a model whose network class was defined in a notebook "
                        f"or script ({error}); run the cell that defines it, then load again."
                    ) from error
                raise ModelVersionError(
                    f"{folder} was saved by a coursekit version that differs from this one "
                    f"({coursekit.__version__}): {error}. Train and save the model again, or "
                    "load it with the coursekit version that saved it (coursekit 0.3 moved the "
                    "models into coursekit.models.rating, ranking and retrieval)."
                ) from error
        version = saved.get("coursekit_version", "unknown (before 0.2)")
        if version != coursekit.__version__:
            raise ModelVersionError(
                f"{folder} was saved by coursekit {version}, and this is coursekit "
                f"{coursekit.__version__}: its weights may not fit today's networks. Train and "
                f"save the model again, or install coursekit=={version} to load it."
            )
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


def _pairs(users: Any, items: Any) -> tuple[np.ndarray, np.ndarray]:
    """Raw ids of (user, item) pairs as two arrays of one length."""
    users, items = np.atleast_1d(np.asarray(users)), np.atleast_1d(np.asarray(items))
    if users.shape != items.shape:
        raise ValueError(f"users and items differ in length: {users.shape} vs {items.shape}")
    return users, items


def _titles(dataset: MovieLens | None) -> dict[int, str]:
    if dataset is None:
        return {}
    items = dataset.items
    return dict(zip(items["item"].tolist(), items["title"].tolist(), strict=True))
