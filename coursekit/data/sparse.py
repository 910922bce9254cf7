"""Sparse user x item matrices, their checks, and batches of rows (numpy and scipy only; the
TensorFlow side is :mod:`coursekit.data.pipelines`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from coursekit.data.encoding import IdEncoder
from coursekit.errors import InvalidRatingsError


def to_csr(
    ratings: pd.DataFrame,
    users: IdEncoder,
    items: IdEncoder,
    unknown: Literal["error", "drop"] = "error",
    dtype: type = np.float32,
) -> sp.csr_matrix:
    """A ``len(users) x len(items)`` CSR matrix of ``ratings`` (row = user, column = item).

    Only the observed ratings are stored: ml-20m's 20M ratings take about 240 MB this way,
    against 14.8 GB for the dense float32 matrix. ``unknown="drop"`` skips ratings whose user
    or item the encoders do not know; ``"error"`` raises. Transpose (``.T.tocsr()``) for an
    item x user matrix.
    """
    mode = "mask" if unknown == "drop" else "error"
    rows = users.encode(ratings["user"].to_numpy(), unknown=mode)
    cols = items.encode(ratings["item"].to_numpy(), unknown=mode)
    keep = (rows >= 0) & (cols >= 0)
    values = ratings["rating"].to_numpy(dtype=dtype)[keep]
    return sp.csr_matrix(
        (values, (rows[keep], cols[keep])), shape=(len(users), len(items)), dtype=dtype
    )


def sparse_row_batches(
    matrix: sp.csr_matrix,
    batch_size: int = 256,
    shuffle: bool = True,
    seed: int = 0,
) -> Iterator[np.ndarray]:
    """Yield dense float32 blocks of ``batch_size`` rows of a CSR matrix, one at a time.

    Only one batch is ever dense, so memory stays bounded by ``batch_size x n_columns``
    whatever the number of rows.
    """
    matrix = sp.csr_matrix(matrix)
    order = np.arange(matrix.shape[0])
    if shuffle:
        order = np.random.default_rng(seed).permutation(order)
    for start in range(0, order.size, batch_size):
        yield matrix[order[start:start + batch_size]].toarray().astype(np.float32, copy=False)


PREDICT_RATINGS = 2**18  # training ratings encoded at once when scoring


def check_rating_matrix(matrix: sp.spmatrix, scale: tuple[float, float] | None = None) -> None:
    """Raise :class:`InvalidRatingsError` unless every stored value is a finite rating.

    A stored value outside ``scale`` (an explicit zero included: zero means "missing" to many
    autoencoder recipes) would be learned as a real rating.
    """
    data = np.asarray(matrix.data)
    bad = ~np.isfinite(data)
    if bad.any():
        raise InvalidRatingsError(
            f"The rating matrix stores {int(bad.sum())} NaN or infinite value(s); drop those "
            "ratings (or fill them from the source data) before training.")
    if scale is not None and data.size:
        low, high = scale
        outside = (data < low) | (data > high)
        if outside.any():
            raise InvalidRatingsError(
                f"{int(outside.sum())} stored value(s) fall outside the rating scale "
                f"{low:g}-{high:g} (e.g. {data[outside][:3].tolist()}); explicit zeros count, "
                "since every stored value is read as an observed rating. Remove them, or "
                "call matrix.eliminate_zeros() if zeros mean 'not rated'.")


def rows_by_ratings(rows: np.ndarray, row_counts: np.ndarray,
                    max_ratings: int = PREDICT_RATINGS) -> list[np.ndarray]:
    """``rows`` in order, cut into chunks whose rows hold at most ``max_ratings`` training
    ratings together (a longer row is a chunk of its own). Encoding a chunk costs memory in
    proportion to its ratings times the first layer's width, so scoring many rows at once
    must be cut like this, or it would take as much memory as the whole matrix."""
    rows = np.asarray(rows)
    cumulative = np.cumsum(np.asarray(row_counts)[rows])
    chunks, start = [], 0
    while start < rows.size:
        limit = (cumulative[start - 1] if start else 0) + max_ratings
        stop = max(int(np.searchsorted(cumulative, limit, side="right")), start + 1)
        chunks.append(rows[start:stop])
        start = stop
    return chunks


def rating_bounded_batches(row_counts: np.ndarray, max_ratings: int, seed: int) -> list[np.ndarray]:
    """Shuffled row numbers cut into batches of at most ``max_ratings`` ratings each (a row
    with more ratings than that is a batch of its own)."""
    order = np.random.default_rng(seed).permutation(row_counts.size).astype(np.int32)
    return rows_by_ratings(order, row_counts, max_ratings)


def dense_size_gb(n_rows: int, n_columns: int, bytes_per_value: int = 4) -> float:
    """Gigabytes a dense ``n_rows x n_columns`` matrix would take (float32 by default)."""
    return n_rows * n_columns * bytes_per_value / 1e9
