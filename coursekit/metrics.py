"""Evaluation metrics as plain functions over arrays and data frames, usable with any model."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from coursekit.models.base import Recommender


def rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Root mean squared error: sqrt(mean((r - r_hat)^2))."""
    a, p = _pair(actual, predicted)
    return float(np.sqrt(np.mean((a - p) ** 2)))


def mae(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute error: mean(|r - r_hat|)."""
    a, p = _pair(actual, predicted)
    return float(np.mean(np.abs(a - p)))


def mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute percentage error, in percent: 100 * mean(|r - r_hat| / |r|).

    Only defined for non-zero ratings (every MovieLens rating is at least 0.5).
    """
    a, p = _pair(actual, predicted)
    if np.any(a == 0):
        raise ValueError("MAPE is undefined for a rating of 0.")
    return float(100.0 * np.mean(np.abs(a - p) / np.abs(a)))


def _pair(actual: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(actual, dtype=np.float64).ravel()
    p = np.asarray(predicted, dtype=np.float64).ravel()
    if a.shape != p.shape:
        raise ValueError(f"actual and predicted differ in length: {a.size} vs {p.size}")
    if a.size == 0:
        raise ValueError("cannot score an empty set of ratings")
    if np.isnan(p).any():
        raise ValueError(f"{int(np.isnan(p).sum())} prediction(s) are NaN")
    return a, p


def evaluate_ratings(model: "Recommender", ratings: pd.DataFrame) -> dict[str, float]:
    """RMSE and MAE of ``model`` on a ratings frame, and how many rows needed a fallback."""
    predicted = model.predict_frame(ratings, unknown="fallback")
    actual = ratings["rating"].to_numpy()
    cold = (~ratings["user"].isin(model.users_.ids_)) | (~ratings["item"].isin(model.items_.ids_))
    return {
        "RMSE": rmse(actual, predicted),
        "MAE": mae(actual, predicted),
        "ratings": int(len(ratings)),
        "cold-start": int(cold.sum()),
    }


def compare(models: dict[str, "Recommender"], ratings: pd.DataFrame) -> pd.DataFrame:
    """One row per model: RMSE, MAE, and the count of cold-start ratings."""
    rows = {name: evaluate_ratings(model, ratings) for name, model in models.items()}
    return pd.DataFrame(rows).T.astype({"ratings": int, "cold-start": int})
