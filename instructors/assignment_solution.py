"""Reference solution of the assignment (chapter 9). For instructors: keep it out of the
students' notebooks. ``python instructors/assignment_solution.py`` runs every check."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA


def diversity_of_lists(top10: pd.DataFrame, item_vectors: pd.DataFrame) -> float:
    """Mean over users of 1 - mean cosine similarity of the pairs of different films."""
    per_user = []
    for _, films in top10.groupby("user"):
        vectors = item_vectors.loc[films["item"]].to_numpy()
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        similarity = unit @ unit.T
        n = len(unit)
        mean_pairwise = (similarity.sum() - np.trace(similarity)) / (n * (n - 1))
        per_user.append(1.0 - mean_pairwise)
    return float(np.mean(per_user))


def novelty_of_lists(top10: pd.DataFrame, train: pd.DataFrame) -> float:
    """Mean popularity rank (1 = most rated in training) of every recommended film."""
    counts = train.groupby("item").size()
    ranks = counts.rank(ascending=False, method="min")
    return float(top10["item"].map(ranks).mean())


def map_of_best_films(train: pd.DataFrame, item_vectors: pd.DataFrame) -> pd.DataFrame:
    """PCA coordinates of the 30 best-rated films with at least 100 ratings."""
    stats = train.groupby("item")["rating"].agg(count="size", mean="mean")
    best = stats[stats["count"] >= 100].sort_values(["mean", "count"], ascending=False).head(30)
    xy = PCA(n_components=2, random_state=0).fit_transform(item_vectors.loc[best.index])
    return pd.DataFrame(xy, index=best.index, columns=["x", "y"])


def run_checks(setup) -> bool:
    from coursekit import assignment

    results = [
        assignment.check_diversity(setup, diversity_of_lists(setup.top10, setup.item_vectors)),
        assignment.check_novelty(setup, novelty_of_lists(setup.top10, setup.train)),
        assignment.check_map(setup, map_of_best_films(setup.train, setup.item_vectors)),
    ]
    return all(results)


if __name__ == "__main__":
    from coursekit import assignment

    raise SystemExit(0 if run_checks(assignment.prepare()) else 1)
