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


def log_loss(clicked: np.ndarray, probability: np.ndarray, eps: float = 1e-7) -> float:
    """Mean binary cross-entropy of predicted click probabilities (lower is better)."""
    y = np.asarray(clicked, dtype=np.float64)
    p = np.clip(np.asarray(probability, dtype=np.float64), eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def auc(clicked: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a random click is scored above a random
    non-click (ties count half), from the ranks of the scores."""
    y = np.asarray(clicked).astype(bool)
    if y.all() or not y.any():
        raise ValueError("AUC needs both clicks and non-clicks among the pairs.")
    ranks = pd.Series(np.asarray(scores, dtype=np.float64)).rank().to_numpy()
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


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


# --- Top-N lists ----------------------------------------------------------------------------
# A top-N frame has one row per recommendation: ``user``, ``item``, ``rank`` (1 = best) and
# optionally ``score``. Held-out frames have ``user`` and ``item`` (and ``rating``). As for
# the rating metrics, the truth comes first: ``hit_rate(held_out, top_n)``.


def _check_top_n(top_n: pd.DataFrame, truth: pd.DataFrame | None = None) -> None:
    missing = {"user", "item", "rank"} - set(top_n.columns)
    if missing and truth is not None and "rank" in truth.columns:
        raise ValueError("the arguments are in the wrong order: top-N metrics take the truth "
                         "first, then the lists, e.g. hit_rate(split.test, top_n)")
    if missing:
        raise ValueError(f"a top-N frame needs the columns user, item, rank; missing {missing}")


def _hit_ranks(held_out: pd.DataFrame, top_n: pd.DataFrame) -> np.ndarray:
    """For each held-out row, the rank at which its item appears in the user's list (0: no)."""
    _check_top_n(top_n, held_out)
    merged = held_out[["user", "item"]].merge(top_n[["user", "item", "rank"]],
                                               on=["user", "item"], how="left")
    return merged["rank"].fillna(0).to_numpy(dtype=np.int64)


def hit_rate(held_out: pd.DataFrame, top_n: pd.DataFrame) -> float:
    """Leave-one-out hit rate: the share of held-out (user, item) pairs found in the user's
    top-N list. HR@N = hits / |held_out|."""
    return float(np.mean(_hit_ranks(held_out, top_n) > 0))


def top_k_accuracy(pairs: pd.DataFrame, top_n: pd.DataFrame,
                   ks: tuple[int, ...] = (1, 5, 10, 50, 100)) -> dict[str, float]:
    """The RETRIEVAL protocol's factorized top-K categorical accuracy from ranked lists: for
    each (user, item) pair, is the item among the user's K best? The lists must rank every
    item, seen ones included (``recommend_all(n=max(ks), exclude_seen=False)``), as TFRS's
    ``FactorizedTopK`` does."""
    if pairs.empty:
        raise ValueError("no (user, item) pairs to evaluate")
    ranks = _hit_ranks(pairs, top_n)
    return {f"top-{k}": float(np.mean((ranks > 0) & (ranks <= k))) for k in ks}


def cumulative_hit_rate(
    held_out: pd.DataFrame, top_n: pd.DataFrame, rating_cutoff: float = 4.0
) -> float:
    """Hit rate counting only held-out ratings of at least ``rating_cutoff``: does the list
    contain the films the user *liked*?"""
    liked = held_out[held_out["rating"] >= rating_cutoff]
    if liked.empty:
        raise ValueError(f"no held-out rating reaches the cutoff {rating_cutoff}")
    return hit_rate(liked, top_n)


def average_reciprocal_hit_rank(held_out: pd.DataFrame, top_n: pd.DataFrame) -> float:
    """ARHR = mean over held-out pairs of 1/rank of the hit (0 for a miss): a hit at the top
    counts 1, at rank 10 only 0.1."""
    ranks = _hit_ranks(held_out, top_n)
    return float(np.mean(np.where(ranks > 0, 1.0 / np.maximum(ranks, 1), 0.0)))


def _per_user_hits(relevant: pd.DataFrame, top_n: pd.DataFrame, k: int) -> pd.DataFrame:
    _check_top_n(top_n, relevant)
    head = top_n[top_n["rank"] <= k]
    marked = head.merge(relevant[["user", "item"]].assign(hit=1), on=["user", "item"],
                        how="left").fillna({"hit": 0})
    n_relevant = relevant.groupby("user").size().rename("n_relevant")
    return marked.join(n_relevant, on="user")


def precision_at_k(relevant: pd.DataFrame, top_n: pd.DataFrame, k: int = 10) -> float:
    """Mean over users with relevant items of |top-k ∩ relevant| / k."""
    hits = _per_user_hits(relevant, top_n, k).groupby("user")["hit"].sum()
    users = relevant["user"].unique()
    return float((hits.reindex(users, fill_value=0) / k).mean())


def recall_at_k(relevant: pd.DataFrame, top_n: pd.DataFrame, k: int = 10) -> float:
    """Mean over users of |top-k ∩ relevant| / |relevant|."""
    hits = _per_user_hits(relevant, top_n, k).groupby("user")["hit"].sum()
    n_relevant = relevant.groupby("user").size()
    return float((hits.reindex(n_relevant.index, fill_value=0) / n_relevant).mean())


def ndcg_at_k(relevant: pd.DataFrame, top_n: pd.DataFrame, k: int = 10) -> float:
    """Normalised discounted cumulative gain with binary relevance:
    DCG = sum over hits of 1 / log2(rank + 1); NDCG = DCG / DCG of a perfect list."""
    marked = _per_user_hits(relevant, top_n, k)
    dcg = (marked["hit"] / np.log2(marked["rank"] + 1)).groupby(marked["user"]).sum()
    n_relevant = relevant.groupby("user").size()
    discounts = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))
    ideal = discounts[np.minimum(n_relevant.to_numpy(), k) - 1]
    return float((dcg.reindex(n_relevant.index, fill_value=0) / ideal).mean())


def map_at_k(relevant: pd.DataFrame, top_n: pd.DataFrame, k: int = 10) -> float:
    """Mean average precision: per user, the mean of precision@rank over the ranks of hits,
    divided by min(|relevant|, k); then the mean over users."""
    marked = _per_user_hits(relevant, top_n, k).sort_values(["user", "rank"])
    marked["hits_so_far"] = marked.groupby("user")["hit"].cumsum()
    marked["precision"] = marked["hits_so_far"] / marked["rank"] * marked["hit"]
    total = marked.groupby("user")["precision"].sum()
    n_relevant = relevant.groupby("user").size()
    return float((total.reindex(n_relevant.index, fill_value=0)
                  / np.minimum(n_relevant, k)).mean())


def catalog_coverage(top_n: pd.DataFrame, n_items: int) -> float:
    """Share of the catalogue (``n_items`` items) recommended to at least one user."""
    if n_items <= 0:
        raise ValueError("n_items must be positive")
    return float(top_n["item"].nunique() / n_items)


def user_coverage(
    top_n: pd.DataFrame, users: "np.ndarray | pd.Series | list", min_score: float | None = None
) -> float:
    """Share of ``users`` who get at least one recommendation (with a score of at least
    ``min_score``, when given: a recommendation the model itself believes in)."""
    listed = top_n if min_score is None else top_n[top_n["score"] >= min_score]
    users = pd.unique(np.asarray(users))
    if users.size == 0:
        raise ValueError("no users given")
    return float(np.isin(users, listed["user"].unique()).mean())


def _similarity_lookup(
    item_vectors: pd.DataFrame | None, similarity: pd.DataFrame | None
) -> tuple[pd.Index, np.ndarray]:
    if (item_vectors is None) == (similarity is None):
        raise ValueError("give exactly one of item_vectors (cosine) or similarity (a matrix)")
    if similarity is not None:
        return similarity.index, similarity.to_numpy(dtype=np.float64)
    vectors = item_vectors.to_numpy(dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms == 0, 1.0, norms)
    return item_vectors.index, unit  # cosine is computed per list from unit vectors


def intra_list_similarity(
    top_n: pd.DataFrame,
    item_vectors: pd.DataFrame | None = None,
    similarity: pd.DataFrame | None = None,
) -> pd.Series:
    """Per user, the mean similarity over all pairs of *different* positions in the list.

    Similarity is the cosine of item vectors (``item_vectors``, indexed by item id) or read
    from a square ``similarity`` frame indexed by item id on both axes.
    """
    _check_top_n(top_n)
    index, table = _similarity_lookup(item_vectors, similarity)
    positions = index.get_indexer(top_n["item"])
    if (positions < 0).any():
        missing = top_n["item"][positions < 0].unique()[:5].tolist()
        raise KeyError(f"no vector or similarity for item(s) {missing}")
    result = {}
    frame = pd.DataFrame({"user": top_n["user"].to_numpy(), "pos": positions})
    for user, group in frame.groupby("user", sort=True):
        idx = group["pos"].to_numpy()
        if idx.size < 2:
            continue
        if similarity is not None:
            block = table[np.ix_(idx, idx)]
        else:
            block = table[idx] @ table[idx].T
        off_diagonal = block[~np.eye(idx.size, dtype=bool)]
        result[user] = float(off_diagonal.mean())
    return pd.Series(result, name="similarity", dtype=np.float64)


def diversity(
    top_n: pd.DataFrame,
    item_vectors: pd.DataFrame | None = None,
    similarity: pd.DataFrame | None = None,
) -> float:
    """Diversity = 1 - mean pairwise similarity inside each top-N list, averaged over users.

    Self-pairs (an item with itself) are excluded: they would add a similarity of 1 to every
    list. A list of identical items has diversity 0; with cosine similarity, diversity lies
    in [0, 2].
    """
    return float(1.0 - intra_list_similarity(top_n, item_vectors, similarity).mean())


def popularity_ranks(ratings: pd.DataFrame) -> pd.Series:
    """Rank of each item by number of ratings: 1 = the most rated (ties share the best rank)."""
    counts = ratings.groupby("item").size()
    return counts.rank(ascending=False, method="min").astype(np.int64).rename("popularity rank")


def novelty_rank(top_n: pd.DataFrame, ratings: pd.DataFrame) -> float:
    """Mean popularity rank of the recommended items (the novelty Surprise-based tutorials
    report): higher means less popular, more novel. Items never rated rank after all rated ones."""
    ranks = popularity_ranks(ratings)
    worst = len(ranks) + 1
    return float(top_n["item"].map(ranks).fillna(worst).mean())


def novelty_self_information(top_n: pd.DataFrame, ratings: pd.DataFrame) -> float:
    """Mean self-information -log2 p(i) of recommended items, with p(i) the share of users
    who rated item i (Castells et al.): a film everyone rated carries 0 bits of surprise."""
    n_users = ratings["user"].nunique()
    p = ratings.groupby("item")["user"].nunique() / n_users
    probabilities = top_n["item"].map(p).fillna(1.0 / (n_users + 1))
    return float(np.mean(-np.log2(probabilities)))
