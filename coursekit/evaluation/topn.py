"""Top-N lists for every user and their evaluation on the TOPN protocol (chapter 8)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from coursekit.data.splits import Split
from coursekit.evaluation import metrics
from coursekit.models.base import Recommender


def surprise_top_n(algorithm: Any, ratings: pd.DataFrame, n: int = 10,
                   rating_scale: tuple[float, float] = (1.0, 5.0)) -> pd.DataFrame:
    """Top-``n`` lists of a Surprise algorithm, the Surprise way: fit on ``ratings``, predict
    its *anti-test set* (every pair a user has not rated), keep each user's best ``n``.

    The lists rank Surprise's unclipped estimates: clipped to the rating scale (what
    ``algorithm.test`` returns), every estimate above the top of the scale would tie there and
    the ties would be broken by item id instead of by the model."""
    from surprise import Dataset, Reader

    reader = Reader(rating_scale=rating_scale)
    data = Dataset.load_from_df(ratings[["user", "item", "rating"]], reader)
    trainset = data.build_full_trainset()
    algorithm.fit(trainset)
    predictions = [algorithm.predict(user, item, clip=False)
                   for user, item, _ in trainset.build_anti_testset()]
    frame = pd.DataFrame(
        {"user": [p.uid for p in predictions], "item": [p.iid for p in predictions],
         "score": [p.est for p in predictions]}
    )
    return top_n_from_scores(frame, n)


def top_n_from_scores(scores: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """Keep each user's ``n`` highest-scored items from a (user, item, score) frame."""
    ordered = scores.sort_values(["user", "score", "item"], ascending=[True, False, True],
                                 kind="stable")
    ordered["rank"] = ordered.groupby("user").cumcount() + 1
    return ordered[ordered["rank"] <= n].reset_index(drop=True)[["user", "item", "rank", "score"]]


def evaluate_top_n(
    top_n: pd.DataFrame,
    split: Split,
    k: int = 10,
    item_vectors: pd.DataFrame | None = None,
    similarity: pd.DataFrame | None = None,
    rating_cutoff: float = 4.0,
) -> dict[str, float]:
    """Every top-N metric of the course for lists evaluated on a leave-one-out ``split``."""
    held_out = split.test
    result = {
        f"HR@{k}": metrics.hit_rate(held_out, top_n[top_n["rank"] <= k]),
        f"cHR@{k} (rating>={rating_cutoff:g})": metrics.cumulative_hit_rate(
            held_out, top_n[top_n["rank"] <= k], rating_cutoff),
        "ARHR": metrics.average_reciprocal_hit_rank(held_out, top_n[top_n["rank"] <= k]),
        f"NDCG@{k}": metrics.ndcg_at_k(held_out, top_n, k),
        f"precision@{k}": metrics.precision_at_k(held_out, top_n, k),
        f"recall@{k}": metrics.recall_at_k(held_out, top_n, k),
        f"MAP@{k}": metrics.map_at_k(held_out, top_n, k),
        "catalog coverage": metrics.catalog_coverage(top_n[top_n["rank"] <= k], split.n_items),
        "user coverage": metrics.user_coverage(top_n, held_out["user"]),
        "novelty (mean popularity rank)": metrics.novelty_rank(top_n[top_n["rank"] <= k],
                                                               split.train),
        "novelty (bits)": metrics.novelty_self_information(top_n[top_n["rank"] <= k],
                                                           split.train),
    }
    if item_vectors is not None or similarity is not None:
        result["diversity"] = metrics.diversity(top_n[top_n["rank"] <= k], item_vectors,
                                                similarity)
    return result


def compare_top_n(lists: dict[str, pd.DataFrame], split: Split, **kwargs: Any) -> pd.DataFrame:
    """One row per named top-N frame with every metric of :func:`evaluate_top_n`."""
    return pd.DataFrame({name: evaluate_top_n(top, split, **kwargs)
                         for name, top in lists.items()}).T


def item_vectors_of(model: Recommender) -> pd.DataFrame:
    """A model's item embeddings as a frame indexed by raw item id (for diversity, maps)."""
    vectors = model.embeddings()[1]  # type: ignore[attr-defined]
    return pd.DataFrame(vectors, index=pd.Index(model.items_.ids_, name="item"))


# taught: ch-implicit-feedback
def sampled_hit_rate(model: Recommender, split: Split, n_sampled: int = 100, k: int = 10,
                     seed: int = 0) -> float:
    """HR@k as the NCF paper measured it: each test film ranked among ``n_sampled`` films its
    user never rated (drawn uniformly, without repeats), instead of among every film. A tie
    with a sampled film counts half; a test film the model never saw is a miss."""
    rng = np.random.default_rng(seed)
    parts = [split.train, split.validation, split.test]
    rated = pd.concat([part for part in parts if part is not None]).groupby("user")["item"]
    films = model.items_.ids_
    users, candidates = [], []
    for user, film in split.test[["user", "item"]].itertuples(index=False):
        unrated = np.setdiff1d(films, rated.get_group(user).to_numpy())
        if unrated.size < n_sampled:
            raise ValueError(f"user {user} has rated all but {unrated.size} films, fewer than "
                             f"n_sampled={n_sampled}: sample at most {unrated.size} films")
        candidates.append(np.r_[film, rng.choice(unrated, n_sampled, replace=False)])
        users.append(np.full(n_sampled + 1, user))
    known = model.users_.encode(np.concatenate(users), unknown="mask") >= 0
    known &= model.items_.encode(np.concatenate(candidates), unknown="mask") >= 0
    scores = np.full(known.size, -np.inf)
    scores[known] = model.score(np.concatenate(users)[known],
                                np.concatenate(candidates)[known])
    scores = scores.reshape(-1, n_sampled + 1)
    held_out = scores[:, :1]
    rank = (scores[:, 1:] > held_out).sum(1) + 0.5 * (scores[:, 1:] == held_out).sum(1)
    return float(np.mean((rank < k) & np.isfinite(held_out[:, 0])))
