"""A seeded synthetic ratings set with MovieLens-20M's shape, for work at scale offline.

Full size: 138,493 users, 26,744 items, 20,000,263 half-star ratings (0.5 to 5.0), every user
with at least 20 ratings, long-tailed item popularity and user activity, timestamps from 1995
to 2015. Ratings come from a hidden biased latent-factor model plus noise, so models have real
structure to learn. ``scale`` shrinks users and ratings by that factor and items by its
square root, so a small version keeps a MovieLens-like density.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from coursekit.data.movielens import ML100K_GENRES, MovieLens

ML20M_USERS = 138_493
ML20M_ITEMS = 26_744
ML20M_RATINGS = 20_000_263
MIN_RATINGS_PER_USER = 20
_T0, _T1 = 788_918_400, 1_427_846_400  # 1995-01-01 to 2015-04-01, as ML-20M


def _user_counts(
    rng: np.random.Generator, n_users: int, n_items: int, n_ratings: int
) -> np.ndarray:
    floor = min(MIN_RATINGS_PER_USER, n_items // 4, max(1, n_ratings // n_users))
    cap = max(floor, int(0.3 * n_items))
    weights = rng.lognormal(0.0, 1.2, n_users)
    counts = np.full(n_users, floor, dtype=np.int64)
    remaining = n_ratings - counts.sum()
    for _ in range(10_000):  # spread the rest by weight, respecting the cap
        if remaining <= 0:
            break
        open_ = counts < cap
        share = np.zeros(n_users)
        share[open_] = weights[open_] / weights[open_].sum()
        extra = np.minimum(np.floor(share * remaining).astype(np.int64), cap - counts)
        if extra.sum() == 0:  # the remainder is smaller than the open users: one each
            heaviest = np.flatnonzero(open_)[np.argsort(-weights[open_], kind="stable")]
            extra[heaviest[: int(remaining)]] = 1
        counts += extra
        remaining = n_ratings - counts.sum()
    return counts


def _item_probabilities(rng: np.random.Generator, n_items: int) -> np.ndarray:
    rank = rng.permutation(n_items)  # which item gets which popularity rank
    zipf = 1.0 / (rank + 20.0) ** 1.15
    zipf /= zipf.sum()
    return 0.9 * zipf + 0.1 / n_items


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    values.sort()
    if values.size == 0:
        return values
    return values[np.concatenate([[True], values[1:] != values[:-1]])]


def _sample_pairs(
    rng: np.random.Generator, counts: np.ndarray, popularity: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (user, item) pairs: ``counts[u]`` items per user, drawn by popularity."""
    n_users, n_items = counts.size, popularity.size
    cumulative = np.cumsum(popularity)
    cumulative[-1] = 1.0
    keys = np.empty(0, dtype=np.int64)
    have = np.zeros(n_users, dtype=np.int64)
    for _ in range(60):
        short = counts - have
        if (short <= 0).all():
            break
        draw = np.where(short > 0, (short * 1.3).astype(np.int64) + 2, 0)
        users = np.repeat(np.arange(n_users, dtype=np.int64), draw)
        items = np.searchsorted(cumulative, rng.random(users.size), side="right")
        keys = _sorted_unique(np.concatenate([keys, users * n_items + items]))
        have = np.bincount(keys // n_items, minlength=n_users)
    user_of = keys // n_items
    order = np.lexsort((rng.random(keys.size), user_of))  # random order within each user
    starts = np.concatenate([[0], np.cumsum(have)[:-1]])
    rank = np.arange(keys.size) - np.repeat(starts, have)
    chosen = np.sort(keys[order][rank < np.repeat(counts, have)])
    return chosen // n_items, chosen % n_items


def synthetic_shape(scale: float = 1.0) -> tuple[int, int, int]:
    """(users, items, ratings) of the synthetic set at ``scale``."""
    if not 0.0 < scale <= 1.0:
        raise ValueError(f"scale must be in (0, 1], got {scale}.")
    n_users = max(2, round(ML20M_USERS * scale))
    n_items = max(2, round(ML20M_ITEMS * scale**0.5))  # keeps density realistic when small
    n_ratings = min(round(ML20M_RATINGS * scale), n_users * n_items // 2)
    return n_users, n_items, n_ratings


def synthetic_movielens(scale: float = 1.0, seed: int = 0, n_factors: int = 16) -> MovieLens:
    """MovieLens-20M-shaped synthetic ratings; ``scale=0.05`` gives about 1M ratings."""
    n_users, n_items, n_ratings = synthetic_shape(scale)
    rng = np.random.default_rng(seed)
    counts = _user_counts(rng, n_users, n_items, n_ratings)
    popularity = _item_probabilities(rng, n_items)
    users, items = _sample_pairs(rng, counts, popularity)

    sigma = (0.36 / n_factors) ** 0.25  # the dot product's std is then about 0.6
    user_factors = rng.normal(0.0, sigma, (n_users, n_factors)).astype(np.float32)
    item_factors = rng.normal(0.0, sigma, (n_items, n_factors)).astype(np.float32)
    user_bias = rng.normal(0.0, 0.35, n_users).astype(np.float32)
    log_pop = np.log(popularity)
    item_bias = (0.15 * (log_pop - log_pop.mean()) / log_pop.std()
                 + rng.normal(0.0, 0.35, n_items)).astype(np.float32)
    ratings = np.empty(users.size, dtype=np.float32)
    for start in range(0, users.size, 2_000_000):
        u, i = users[start:start + 2_000_000], items[start:start + 2_000_000]
        score = (3.5 + user_bias[u] + item_bias[i]
                 + np.einsum("ij,ij->i", user_factors[u], item_factors[i])
                 + rng.normal(0.0, 0.6, u.size).astype(np.float32))
        ratings[start:start + u.size] = np.clip(np.round(score * 2.0) / 2.0, 0.5, 5.0)

    first = rng.integers(_T0, _T1 - 86_400, n_users)
    span = np.minimum(rng.exponential(200 * 86_400, n_users).astype(np.int64), _T1 - first)
    timestamps = first[users] + (rng.random(users.size) * span[users]).astype(np.int64)

    years = rng.integers(1920, 2015, n_items)
    genre_pool = np.array(ML100K_GENRES[1:])
    items_table = pd.DataFrame(
        {
            "item": np.arange(1, n_items + 1, dtype=np.int64),
            "title": [f"Synthetic film {i + 1} ({y})" for i, y in enumerate(years)],
            "genres": [list(rng.choice(genre_pool, rng.integers(1, 3), replace=False))
                       for _ in range(n_items)],
            "year": pd.array(years, dtype="Int64"),
        }
    )
    frame = pd.DataFrame(
        {
            "user": users + 1,
            "item": items + 1,
            "rating": ratings,
            "timestamp": timestamps.astype(np.int64),
        }
    )
    name = "synthetic-ml20m" if scale == 1.0 else f"synthetic-ml20m@{scale:g}"
    return MovieLens(name, frame, items_table, None, (0.5, 5.0), source=f"synthetic(seed={seed})")
