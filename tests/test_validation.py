"""Bad ratings get clear errors; duplicates follow the documented policy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coursekit.data import validate_ratings
from coursekit.errors import InvalidRatingsError


def frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])


def test_nan_rating_is_rejected_with_an_example():
    with pytest.raises(InvalidRatingsError, match=r"1 rating row\(s\) contain NaN"):
        validate_ratings(frame([(1, 1, 4.0, 10), (1, 2, np.nan, 11)]), (1, 5))


def test_out_of_range_rating_is_rejected_with_the_scale():
    with pytest.raises(InvalidRatingsError, match=r"outside the scale \[1, 5\].*\[7\.0\]"):
        validate_ratings(frame([(1, 1, 4.0, 10), (1, 2, 7.0, 11)]), (1, 5))
    with pytest.raises(InvalidRatingsError, match="outside"):
        validate_ratings(frame([(1, 1, 0.0, 10)]), (0.5, 5.0))


def test_missing_column_says_how_to_rename():
    bad = frame([(1, 1, 4.0, 10)]).rename(columns={"user": "userId"})
    with pytest.raises(InvalidRatingsError, match="rename"):
        validate_ratings(bad)


def test_duplicates_are_refused_by_default_and_the_latest_kept_when_asked():
    rows = [(1, 1, 2.0, 30), (1, 2, 3.0, 5), (1, 1, 5.0, 10), (2, 1, 1.0, 1)]
    with pytest.raises(InvalidRatingsError, match="on_duplicates='latest'"):
        validate_ratings(frame(rows), (1, 5))
    with pytest.warns(UserWarning, match=r"1 \(user, item\) pair"):
        clean = validate_ratings(frame(rows), (1, 5), on_duplicates="latest")
    assert clean.values.tolist() == [[1, 1, 2.0, 30], [1, 2, 3.0, 5], [2, 1, 1.0, 1]]


def test_duplicates_can_be_averaged_or_refused():
    rows = [(1, 1, 2.0, 30), (1, 1, 5.0, 10)]
    with pytest.warns(UserWarning):
        mean = validate_ratings(frame(rows), (1, 5), on_duplicates="mean")
    assert mean.values.tolist() == [[1, 1, 3.5, 30]]
    with pytest.raises(InvalidRatingsError, match="more than once"):
        validate_ratings(frame(rows), (1, 5), on_duplicates="error")


def test_clean_ratings_come_back_in_the_schema():
    clean = validate_ratings(frame([(1, 1, 4, 10)]), (1, 5))
    assert clean.dtypes.astype(str).tolist() == ["int64", "int64", "float32", "int64"]
