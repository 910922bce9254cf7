"""Checks for the assignment (chapter 9): diversity and novelty of every user's top-10, and
a 2-D map of the 30 best-rated films.

A student computes each answer in the starter notebook and passes it to a check, which prints
whether it is right and, when it is not, a hint about the usual mistakes. The checks compute
the expected values themselves from the same inputs; they never print them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from coursekit import metrics
from coursekit.data import load_movielens, rating_protocol
from coursekit.data.movielens import MovieLens
from coursekit.topn import item_vectors_of

TOP_N = 10
MAP_FILMS = 30
MAP_MIN_RATINGS = 100
TOLERANCE = 1e-3


@dataclass
class AssignmentSetup:
    """Everything the assignment's tasks start from."""

    movielens: MovieLens
    train: pd.DataFrame          # the training ratings (RATING protocol)
    top10: pd.DataFrame          # every user's top-10: user, item, rank, score
    item_vectors: pd.DataFrame   # the model's film embeddings, indexed by film id


def prepare(model=None, seed: int = 0) -> AssignmentSetup:
    """Train chapter 3's model on the RATING protocol with chapter 10's fast trainer (or use
    ``model``, already fitted on it) and return the top-10 lists and film embeddings the
    tasks use."""
    movielens = load_movielens("ml-100k")
    split = rating_protocol(movielens)
    if model is None:
        from coursekit.models.fast_mf import FastMatrixFactorization

        model = FastMatrixFactorization(seed=seed).fit(split)
    return AssignmentSetup(movielens, split.train, model.recommend_all(n=TOP_N),
                           item_vectors_of(model))


# --- expected answers and the usual mistakes --------------------------------------------

def _expected_diversity(setup: AssignmentSetup) -> float:
    return metrics.diversity(setup.top10, item_vectors=setup.item_vectors)


def _diversity_with_self_pairs(setup: AssignmentSetup) -> float:
    similarity = metrics.intra_list_similarity(setup.top10, item_vectors=setup.item_vectors)
    n = setup.top10.groupby("user").size().reindex(similarity.index)
    with_diagonal = (similarity * n * (n - 1) + n) / (n * n)
    return float(1.0 - with_diagonal.mean())


def _expected_novelty(setup: AssignmentSetup) -> float:
    return metrics.novelty_rank(setup.top10, setup.train)


def _novelty_from_mean_rating(setup: AssignmentSetup) -> float:
    means = setup.train.groupby("item")["rating"].mean()
    return float(setup.top10["item"].map(means).mean())


def _novelty_from_counts(setup: AssignmentSetup) -> float:
    counts = setup.train.groupby("item").size()
    return float(setup.top10["item"].map(counts).fillna(0).mean())


def _novelty_reversed_rank(setup: AssignmentSetup) -> float:
    counts = setup.train.groupby("item").size()
    ranks = counts.rank(ascending=True, method="min")
    return float(setup.top10["item"].map(ranks).mean())


def best_rated_films(setup: AssignmentSetup) -> pd.Index:
    """The films the map must show (not the answer: the map itself is the task)."""
    stats = setup.train.groupby("item")["rating"].agg(count="size", mean="mean")
    eligible = stats[stats["count"] >= MAP_MIN_RATINGS]
    return eligible.sort_values(["mean", "count"], ascending=False).head(MAP_FILMS).index


# --- the checks ----------------------------------------------------------------------------

def _report(ok: bool, task: str, message: str) -> bool:
    print(("PASS  " if ok else "FAIL  ") + f"{task}: {message}")
    return ok


def _not_done(task: str) -> bool:
    print(f"TODO  {task}: not done yet. Fill in the function above and run this cell again.")
    return False


def _close(value: float, target: float) -> bool:
    return bool(np.isclose(value, target, rtol=TOLERANCE, atol=TOLERANCE))


def _as_number(value: object, task: str) -> float | None:
    """The student's answer as a finite number, or None after printing TODO or FAIL."""
    if value is None:
        _not_done(task)
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        _report(False, task, f"expected one number, got {type(value).__name__}.")
        return None
    if not np.isfinite(number):
        _report(False, task, "the value is NaN or infinite: check for empty lists or a "
                             "division by zero.")
        return None
    return number


def check_diversity(setup: AssignmentSetup, value: float | None) -> bool:
    """Task 1a: the mean over users of 1 - (mean cosine similarity of the pairs of different
    films in the user's top-10)."""
    task = "Task 1a, diversity"
    number = _as_number(value, task)
    if number is None:
        return False
    expected = _expected_diversity(setup)
    if _close(number, expected):
        return _report(True, task, "correct.")
    if _close(number, 1.0 - expected):
        return _report(False, task, "this looks like the mean *similarity*. Diversity is "
                                    "1 minus it.")
    if _close(number, _diversity_with_self_pairs(setup)):
        return _report(False, task, "it looks like each film was also compared with itself "
                                    "(a similarity of 1). Use only pairs of different films.")
    if not 0.0 <= number <= 2.0:
        return _report(False, task, "diversity with cosine similarity lies between 0 and 2.")
    return _report(False, task, "not the expected value. Check that the similarity is the "
                                "cosine of the film vectors, averaged within each list first "
                                "and then over users.")


def check_novelty(setup: AssignmentSetup, value: float | None) -> bool:
    """Task 1b: the mean popularity rank (1 = the film with most training ratings) of all
    recommended films."""
    task = "Task 1b, novelty"
    number = _as_number(value, task)
    if number is None:
        return False
    if _close(number, _expected_novelty(setup)):
        return _report(True, task, "correct.")
    if _close(number, _novelty_from_mean_rating(setup)):
        return _report(False, task, "this is the mean *rating* of the recommended films. "
                                    "Novelty uses their popularity rank: rank films by their "
                                    "number of ratings, 1 for the most rated.")
    if _close(number, _novelty_from_counts(setup)):
        return _report(False, task, "this is the mean *number of ratings*. Turn the counts "
                                    "into ranks (1 for the most rated) first.")
    if _close(number, _novelty_reversed_rank(setup)):
        return _report(False, task, "the ranks run the wrong way: rank 1 must be the *most* "
                                    "rated film.")
    return _report(False, task, "not the expected value. Rank by the number of ratings in the "
                                "training data (ties share the best rank) and average over "
                                "every recommended film.")


def check_map(setup: AssignmentSetup, coords: pd.DataFrame | None) -> bool:
    """Task 2: a frame indexed by film id with two columns (x, y) for the 30 best-rated films
    with at least 100 ratings, from a 2-D projection of their embeddings."""
    task = "Task 2, map of the top-30 films"
    if coords is None:
        return _not_done(task)
    if not isinstance(coords, pd.DataFrame) or coords.shape[1] != 2:
        return _report(False, task, "expected a DataFrame with two columns (x and y), "
                                    "indexed by film id.")
    expected = best_rated_films(setup)
    chosen = set(coords.index)
    if chosen != set(expected):
        missing, extra = len(set(expected) - chosen), len(chosen - set(expected))
        hint = (" Did you keep only films with at least 100 ratings, and sort by mean rating?"
                if missing or extra else "")
        return _report(False, task, f"{missing} expected film(s) missing and {extra} "
                                    f"unexpected one(s).{hint}")
    xy = coords.to_numpy(dtype=np.float64)
    if not np.isfinite(xy).all():
        return _report(False, task, "some coordinates are NaN or infinite.")
    from sklearn.manifold import trustworthiness

    vectors = setup.item_vectors.loc[coords.index].to_numpy()
    score = trustworthiness(vectors, xy, n_neighbors=5)
    if score < 0.7:
        return _report(False, task, "the points do not reflect the embeddings: neighbours in "
                                    "the map are rarely neighbours in the embedding space. "
                                    "Project the film vectors (PCA or t-SNE), not their ids.")
    return _report(True, task, f"the right 30 films, and the map keeps their neighbourhoods "
                               f"(trustworthiness {score:.2f}).")
