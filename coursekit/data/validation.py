"""Checks that a ratings table is usable before anything is trained on it.

Every table enters coursekit through :func:`validate_ratings`, whether it came from a MovieLens
archive or from a student's own file: the split functions, :class:`~coursekit.data.Split` and
every model's ``fit`` call it. It returns the table in the course's schema (``user``, ``item``,
``rating``, ``timestamp``) or raises an :class:`~coursekit.errors.InvalidRatingsError` that
says what was wrong and what to do.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import pandas as pd

from coursekit.errors import InvalidRatingsError

RATING_COLUMNS = ("user", "item", "rating", "timestamp")
REQUIRED_COLUMNS = ("user", "item", "rating")
DuplicatePolicy = Literal["error", "latest", "mean"]

# Column names people use for the course's columns (compared in lower case, without "_").
ALIASES = {
    "user": ("userid", "user", "users", "uid", "customer", "customerid", "reviewer",
             "reviewerid", "visitorid", "member", "memberid"),
    "item": ("movieid", "movie", "itemid", "item", "items", "iid", "film", "filmid",
             "productid", "product", "asin", "bookid", "isbn", "songid", "trackid", "title"),
    "rating": ("rating", "ratings", "score", "stars", "rate", "value", "grade", "preference"),
    "timestamp": ("timestamp", "time", "ts", "date", "datetime", "unixtime", "unixreviewtime",
                  "ratedat", "created", "createdat"),
}


def suggest_renames(columns: list[str]) -> dict[str, str]:
    """A ``rename`` mapping from a table's column names to the course's, where one is clear."""
    found: dict[str, str] = {}
    for column in columns:
        key = str(column).lower().replace("_", "").replace(" ", "")
        for target, names in ALIASES.items():
            if key in names and target not in found.values() and column != target:
                found[column] = target
                break
    return found


def infer_rating_scale(ratings: pd.DataFrame | pd.Series) -> tuple[float, float]:
    """The rating scale a table uses: its lowest and highest rating."""
    values = ratings["rating"] if isinstance(ratings, pd.DataFrame) else ratings
    low, high = float(values.min()), float(values.max())
    if not np.isfinite(low) or not high > low:
        raise InvalidRatingsError(
            f"Cannot infer a rating scale from ratings between {low} and {high}: at least two "
            "different ratings are needed. Pass rating_scale=(lowest, highest) explicitly."
        )
    return low, high


def check_rating_scale(ratings: pd.DataFrame, rating_scale: tuple[float, float]) -> None:
    """Raise :class:`InvalidRatingsError` when a rating lies outside ``rating_scale``."""
    low, high = rating_scale
    if not high > low:
        raise InvalidRatingsError(f"rating_scale must be (lowest, highest), got {rating_scale}.")
    values = ratings["rating"].to_numpy(dtype=np.float64)
    outside = (values < low) | (values > high)
    if outside.any():
        bad = np.unique(values[outside])[:5].tolist()
        raise InvalidRatingsError(
            f"{int(outside.sum())} rating(s) lie outside the scale [{low}, {high}], e.g. "
            f"{bad}. Fix the data, or pass the scale your ratings use, e.g. "
            "rating_scale=(1, 10)."
        )


def _check_frame(ratings: object) -> pd.DataFrame:
    if not isinstance(ratings, pd.DataFrame):
        raise InvalidRatingsError(
            f"Expected a pandas DataFrame of ratings, got {type(ratings).__name__}. Build one "
            "with pd.DataFrame({'user': ..., 'item': ..., 'rating': ...})."
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in ratings.columns]
    if missing:
        renames = suggest_renames([c for c in ratings.columns if c not in RATING_COLUMNS])
        hint = (f"ratings = ratings.rename(columns={renames})" if renames else
                "rename them with ratings.rename(columns={'userId': 'user', 'movieId': 'item'})")
        raise InvalidRatingsError(
            f"The ratings table lacks the column(s) {missing}: coursekit expects the columns "
            f"{list(RATING_COLUMNS)} (timestamp optional) and found {list(ratings.columns)}. "
            f"Rename your columns first: {hint}"
        )
    return ratings


def _ids(column: pd.Series, name: str) -> pd.Series:
    """Integer ids as int64, string ids as str; integral floats become integers."""
    if pd.api.types.is_bool_dtype(column):
        raise InvalidRatingsError(f"The {name} column holds True/False values, not ids.")
    if pd.api.types.is_integer_dtype(column):
        return column.astype("int64")
    if pd.api.types.is_float_dtype(column):
        values = column.to_numpy(dtype=np.float64)
        fractional = values != np.round(values)
        if fractional.any():
            raise InvalidRatingsError(
                f"{int(fractional.sum())} {name} id(s) are not whole numbers, e.g. "
                f"{np.unique(values[fractional])[:3].tolist()}. Ids must be integers or strings: "
                f"check that the {name} column really holds ids."
            )
        return column.astype("int64")
    return column.astype(str)


def _drop_duplicates(frame: pd.DataFrame, policy: str) -> pd.DataFrame:
    if policy not in ("error", "latest", "mean"):
        raise ValueError(f"on_duplicates must be 'error', 'latest' or 'mean', not {policy!r}")
    duplicated = frame.duplicated(["user", "item"], keep=False)
    if not duplicated.any():
        return frame
    pairs = frame[duplicated].drop_duplicates(["user", "item"])
    example = pairs[["user", "item"]].head(3).to_dict("records")
    if policy == "error":
        raise InvalidRatingsError(
            f"{len(pairs)} (user, item) pair(s) are rated more than once, e.g. {example}. "
            "Pass on_duplicates='latest' to keep each pair's latest rating (by timestamp), or "
            "on_duplicates='mean' to average them; or remove them yourself with "
            "ratings.drop_duplicates(['user', 'item'], keep='last')."
        )
    if policy == "latest":
        ordered = frame.reset_index(drop=True).rename_axis("_row").reset_index()
        ordered = ordered.sort_values(["user", "item", "timestamp", "_row"])
        kept = ordered.drop_duplicates(["user", "item"], keep="last")
        kept = kept.sort_values("_row").drop(columns="_row")
    else:
        kept = frame.groupby(["user", "item"], as_index=False, sort=False).agg(
            rating=("rating", "mean"), timestamp=("timestamp", "max"))
        kept["rating"] = kept["rating"].astype("float32")
    warnings.warn(
        f"{len(pairs)} (user, item) pair(s) were rated more than once; kept one rating per pair "
        f"(on_duplicates='{policy}').",
        stacklevel=3,
    )
    return kept


def seconds_since_epoch(values: object) -> np.ndarray:
    """Times as whole seconds since 1970-01-01 (int64): numbers as they are, datetimes (naive
    ones read as UTC) converted. Raises ``ValueError`` on a missing or unreadable time."""
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values).ravel())
    if pd.api.types.is_datetime64_any_dtype(series):
        epoch = pd.Timestamp("1970-01-01", tz=series.dt.tz)
        series = (series - epoch) // pd.Timedelta(seconds=1)
    numbers = pd.to_numeric(series, errors="coerce")
    if numbers.isna().any():
        example = series[numbers.isna()].head(3).tolist()
        raise ValueError(f"{int(numbers.isna().sum())} time(s) are missing or not numbers of "
                         f"seconds or datetimes, e.g. {example}.")
    return numbers.to_numpy().astype(np.int64)


def validate_ratings(
    ratings: pd.DataFrame,
    rating_scale: tuple[float, float] | None = None,
    on_duplicates: DuplicatePolicy = "error",
) -> pd.DataFrame:
    """Return ``ratings`` checked and in the course's schema; the input is not modified.

    * Columns ``user``, ``item``, ``rating`` and optionally ``timestamp`` (0 when absent);
      other names get an error that suggests the ``rename``.
    * Ids: integers, or strings (kept as strings); floats only when they are whole numbers.
    * No NaN anywhere; ratings numeric and inside ``rating_scale`` when it is given (infer a
      scale with :func:`infer_rating_scale`).
    * Duplicate (user, item) pairs follow ``on_duplicates``: ``"error"`` (default) raises;
      ``"latest"`` keeps the latest rating of each pair (by timestamp, then by position), as a
      person who re-rates a film replaces the old rating; ``"mean"`` averages them.
    """
    frame = _check_frame(ratings)
    if "timestamp" not in frame.columns:
        frame = frame.assign(timestamp=0)
    frame = frame.loc[:, list(RATING_COLUMNS)]
    nan_rows = frame.isna().any(axis=1)
    if nan_rows.any():
        columns = [c for c in RATING_COLUMNS if frame[c].isna().any()]
        example = frame[nan_rows].head(3).to_dict("records")
        raise InvalidRatingsError(
            f"{int(nan_rows.sum())} rating row(s) contain NaN (in {columns}), e.g. {example}. "
            "Drop them (ratings.dropna()) or fill them before using the table."
        )
    try:
        rating = pd.to_numeric(frame["rating"]).astype("float32")
        timestamp = pd.Series(seconds_since_epoch(frame["timestamp"]), index=frame.index)
    except (ValueError, TypeError) as error:
        raise InvalidRatingsError(
            f"The rating and timestamp columns must be numbers ({error}). Convert them, e.g. "
            "ratings['rating'] = pd.to_numeric(ratings['rating'])."
        ) from error
    frame = pd.DataFrame({"user": _ids(frame["user"], "user"),
                          "item": _ids(frame["item"], "item"),
                          "rating": rating, "timestamp": timestamp})
    if rating_scale is not None:
        check_rating_scale(frame, rating_scale)
    frame = _drop_duplicates(frame, on_duplicates)
    return frame.reset_index(drop=True)


def check_time_order(ratings: pd.DataFrame, needed_by: str, instead: str) -> None:
    """A clear error when a validated ratings table cannot be put in time order: every rating
    has the same timestamp (a table without a timestamp column gets 0 for all).
    ``needed_by`` says what needs the order, ``instead`` what to use without it."""
    if len(ratings) > 1 and ratings["timestamp"].nunique() == 1:
        raise InvalidRatingsError(
            f"{needed_by}, but every rating has the same timestamp (or the table has no "
            "timestamp column). Add the time of each rating as a 'timestamp' column (any "
            f"sortable number), or use {instead}.")


TIE_SEED = 42


def in_time_order(ratings: pd.DataFrame, seed: int = TIE_SEED) -> pd.DataFrame:
    """``ratings`` sorted by user, then time. Ratings entered in the same second come in a
    fixed order drawn from ``seed`` (a hash of the user, the item and the seed), never by id,
    so that no model can read the latest film from the order of the ids. The split and every
    model that reads order use this one order."""
    keyed = pd.DataFrame({"seed": np.full(len(ratings), seed, dtype=np.int64),
                          "user": ratings["user"].to_numpy(), "item": ratings["item"].to_numpy()})
    tie = pd.util.hash_pandas_object(keyed, index=False).to_numpy()
    return (ratings.assign(_tie=tie)
            .sort_values(["user", "timestamp", "_tie"], kind="stable")
            .drop(columns="_tie"))
