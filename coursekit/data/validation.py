"""Checks that a ratings table is usable before anything is trained on it."""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import pandas as pd

from coursekit.errors import InvalidRatingsError

RATING_COLUMNS = ("user", "item", "rating", "timestamp")
DuplicatePolicy = Literal["latest", "mean", "error"]


def validate_ratings(
    ratings: pd.DataFrame,
    rating_scale: tuple[float, float] = (0.5, 5.0),
    on_duplicates: DuplicatePolicy = "latest",
) -> pd.DataFrame:
    """Return ``ratings`` checked and in the course's schema.

    Raises :class:`InvalidRatingsError` for a missing column, a NaN or a rating outside
    ``rating_scale``. Duplicate (user, item) pairs follow ``on_duplicates``:

    * ``"latest"`` (default): keep the most recent rating of the pair (by timestamp, then by
      position), as a person who re-rates a film replaces the old rating; a warning says how
      many rows were dropped.
    * ``"mean"``: average the ratings of the pair and keep the latest timestamp.
    * ``"error"``: raise.
    """
    missing = [c for c in RATING_COLUMNS if c not in ratings.columns]
    if missing:
        raise InvalidRatingsError(
            f"ratings lack the column(s) {missing}; expected columns {list(RATING_COLUMNS)}. "
            "Rename your columns, e.g. df.rename(columns={'userId': 'user', 'movieId': 'item'})."
        )
    frame = ratings.loc[:, list(RATING_COLUMNS)]
    nan_rows = frame.isna().any(axis=1)
    if nan_rows.any():
        example = frame[nan_rows].head(3).to_dict("records")
        raise InvalidRatingsError(
            f"{int(nan_rows.sum())} rating row(s) contain NaN, e.g. {example}. "
            "Drop or fill them (ratings.dropna()) before loading."
        )
    low, high = rating_scale
    values = frame["rating"].to_numpy(dtype=np.float64)
    outside = (values < low) | (values > high)
    if outside.any():
        bad = np.unique(values[outside])[:5].tolist()
        raise InvalidRatingsError(
            f"{int(outside.sum())} rating(s) lie outside the scale [{low}, {high}], e.g. {bad}. "
            "Fix the data or pass the right rating_scale."
        )
    frame = frame.astype(
        {"user": "int64", "item": "int64", "rating": "float32", "timestamp": "int64"}
    )
    duplicated = frame.duplicated(["user", "item"], keep=False)
    if duplicated.any():
        n_pairs = int(frame[duplicated].drop_duplicates(["user", "item"]).shape[0])
        if on_duplicates == "error":
            raise InvalidRatingsError(
                f"{n_pairs} (user, item) pair(s) are rated more than once. Pass "
                "on_duplicates='latest' or 'mean' to resolve them."
            )
        if on_duplicates == "latest":
            ordered = frame.reset_index(drop=True).rename_axis("_row").reset_index()
            ordered = ordered.sort_values(["user", "item", "timestamp", "_row"])
            frame = ordered.drop_duplicates(["user", "item"], keep="last")
            frame = frame.sort_values("_row").drop(columns="_row")
        elif on_duplicates == "mean":
            frame = frame.groupby(["user", "item"], as_index=False, sort=False).agg(
                rating=("rating", "mean"), timestamp=("timestamp", "max")
            )
            frame["rating"] = frame["rating"].astype("float32")
        else:
            raise ValueError(
                f"on_duplicates must be 'latest', 'mean' or 'error', not {on_duplicates!r}"
            )
        warnings.warn(
            f"{n_pairs} (user, item) pair(s) were rated more than once; kept one rating per pair "
            f"(policy '{on_duplicates}').",
            stacklevel=2,
        )
    return frame.reset_index(drop=True)
