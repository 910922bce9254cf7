"""Reference solution of the assignment (chapter 11). For instructors: keep it out of the
students' notebooks. ``python instructors/assignment_solution.py`` runs every check; the
rubric for the written answers is ``instructors/assignment_rubric.md``."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA


def diversity_of_lists(top_n: pd.DataFrame, item_vectors: pd.DataFrame) -> float:
    """Mean over users of 1 - mean cosine similarity of the pairs of different films."""
    per_user = []
    for _, films in top_n.groupby("user"):
        vectors = item_vectors.loc[films["item"]].to_numpy(dtype=np.float64)
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        similarity = unit @ unit.T
        n = len(unit)
        mean_pairwise = (similarity.sum() - np.trace(similarity)) / (n * (n - 1))
        per_user.append(1.0 - mean_pairwise)
    return float(np.mean(per_user))


def rank_films_by_popularity(train: pd.DataFrame) -> pd.Series:
    """Each film's rank by number of ratings: 1 for the most rated, ties share the best."""
    return train.groupby("item").size().rank(ascending=False, method="min")


def novelty_of_lists(top_n: pd.DataFrame, ranks: pd.Series) -> float:
    """Mean popularity rank over every recommended film of every user."""
    return float(top_n["item"].map(ranks).mean())


def best_rated_films(train: pd.DataFrame, n: int = 30, min_ratings: int = 100) -> pd.Index:
    """The ``n`` films of highest mean rating among those with at least ``min_ratings``
    ratings; equal means go to the film with more ratings."""
    stats = train.groupby("item")["rating"].agg(count="size", mean="mean")
    eligible = stats[stats["count"] >= min_ratings]
    return eligible.sort_values(["mean", "count"], ascending=False).head(n).index


def map_of_films(films: pd.Index, item_vectors: pd.DataFrame) -> pd.DataFrame:
    """PCA coordinates of the films' embedding vectors."""
    xy = PCA(n_components=2, random_state=0).fit_transform(item_vectors.loc[films])
    return pd.DataFrame(xy, index=pd.Index(films), columns=["x", "y"])


def run_checks(setup) -> bool:
    from coursekit import assignment

    films = best_rated_films(setup.train)
    results = [
        assignment.check_diversity(diversity_of_lists),
        assignment.check_popularity_ranks(rank_films_by_popularity, setup),
        assignment.check_novelty(novelty_of_lists),
        assignment.check_best_films(best_rated_films, setup),
        assignment.check_map(map_of_films(films, setup.item_vectors), films, setup),
    ]
    return all(results)


if __name__ == "__main__":
    from coursekit import assignment

    raise SystemExit(0 if run_checks(assignment.prepare()) else 1)
