"""Checks for the assignment (chapter 11): the diversity and novelty of every user's top-10,
and a 2-D map of the 30 best-rated films.

A check takes the student's *function*. It first calls it on small inputs built here, which
the student has not seen, and compares each answer with a digest (a salted SHA-256) of the
right one; digests of the usual wrong answers name the mistake. Where the answer depends on
the data alone (popularity ranks, the 30 films), the answer on the assignment's own data is
checked against a digest too. The expected values themselves are stored nowhere and computed
by no function here. While a check runs, chapter 8's metric functions in
``coursekit.evaluation.metrics`` refuse to work: the exercise is to write them.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from coursekit.data import load_movielens, rating_protocol
from coursekit.data.movielens import MovieLens
from coursekit.evaluation.topn import item_vectors_of

TOP_N = 10
MAP_FILMS = 30
MAP_MIN_RATINGS = 100
_SALT = "coursekit assignment 1"


@dataclass
class AssignmentSetup:
    """Everything the assignment's tasks start from."""

    movielens: MovieLens
    train: pd.DataFrame          # the training ratings (RATING protocol)
    top10: pd.DataFrame          # every user's top-10 from the model: user, item, rank, score
    item_vectors: pd.DataFrame   # the model's film embeddings, indexed by film id
    popular_top10: pd.DataFrame  # every user's top-10 of the most-rated films they have not rated


def prepare(model=None, seed: int = 0) -> AssignmentSetup:
    """Train chapter 3's model on the RATING protocol with chapter 15's fast trainer (or use
    ``model``, already fitted on it) and return the top-10 lists and film embeddings the
    tasks use, with the most-popular lists to compare them with."""
    from coursekit.models.rating.baselines import MostPopular

    movielens = load_movielens("ml-100k")
    split = rating_protocol(movielens)
    if model is None:
        from coursekit.models.rating.fast_mf import FastMatrixFactorization

        model = FastMatrixFactorization(seed=seed).fit(split)
    popular = MostPopular().fit(split).recommend_all(n=TOP_N)
    return AssignmentSetup(movielens, split.train, model.recommend_all(n=TOP_N),
                           item_vectors_of(model), popular)


# --- the inputs the checks build -----------------------------------------------------------
# Small tables from a fixed integer recipe (no random generator, whose streams may change
# between NumPy versions), so that the same inputs, and the same answers, come out everywhere.

_MASK = 2**64 - 1


def _integers(seed: int, count: int, low: int, high: int) -> np.ndarray:
    """``count`` integers in [low, high], each a SplitMix64 hash of (seed, position)."""
    out = []
    for position in range(count):
        z = (seed * 1_000_003 + position + 0x9E3779B97F4A7C15) & _MASK
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        out.append(low + (z ^ (z >> 31)) % (high - low + 1))
    return np.array(out, dtype=np.int64)


def _lists_case(case: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Top-N lists (of unequal lengths) and film vectors (of unequal lengths, never zero)."""
    n_films, dim = 24, 5
    vectors = _integers(case, n_films * dim, -3, 3).reshape(n_films, dim).astype(float)
    vectors[np.abs(vectors).sum(axis=1) == 0, 0] = 1.0
    vectors *= _integers(case + 50, n_films, 1, 9)[:, None]  # lengths differ a lot
    films = np.arange(101, 101 + n_films)
    lengths = [10, 10, 6, 3, 2][: 3 + case % 3]
    rows = []
    for user, length in enumerate(lengths, start=1):
        order = np.argsort(_integers(case * 7 + user, n_films, 0, 10**6), kind="stable")
        rows += [(user, int(films[i]), rank) for rank, i in enumerate(order[:length], start=1)]
    top_n = pd.DataFrame(rows, columns=["user", "item", "rank"])
    return top_n, pd.DataFrame(vectors, index=pd.Index(films, name="item"))


def _ratings_frame(rows: list[tuple]) -> pd.DataFrame:
    """(user, item, rating) rows as a ratings table, timestamps in row order."""
    frame = pd.DataFrame(rows, columns=["user", "item", "rating"])
    frame["timestamp"] = np.arange(len(frame))
    return frame


def _ratings_case(case: int, n_films: int = 30, n_users: int = 40) -> pd.DataFrame:
    """Training ratings in which many films share a number of ratings or a mean rating."""
    rows = []
    for film in range(1, n_films + 1):
        count = int(_integers(case * 100 + film, 1, 1, 12)[0])
        users = np.argsort(_integers(case * 1000 + film, n_users, 0, 10**6), kind="stable")
        stars = _integers(case * 10_000 + film, count, 2, 5)
        rows += [(int(u) + 1, 500 + film, float(s))
                 for u, s in zip(users[:count], stars, strict=True)]
    return _ratings_frame(rows)


def _ranks_case(case: int) -> tuple[pd.DataFrame, pd.Series]:
    """Top-N lists and a popularity rank for every film in them."""
    top_n, vectors = _lists_case(case)
    ranks = pd.Series(_integers(case + 300, len(vectors), 1, 60).astype(float),
                      index=vectors.index, name="rank")
    return top_n, ranks


def _best_films_case() -> pd.DataFrame:
    """A film with exactly the minimum of five ratings among the best two, two films of
    equal mean at the cut (4.5, with 6 and 8 ratings), and a 5-star film with two ratings."""
    stars = {1: [5, 5, 5, 4, 4], 2: [5, 5, 5, 4, 4, 4], 3: [5] * 4 + [4] * 4, 4: [5, 5],
             5: [3] * 10, 6: [4] + [3] * 6, 7: [2, 3] * 4}
    return _ratings_frame([(user, 700 + film, float(s)) for film, values in stars.items()
                           for user, s in enumerate(values, start=1)])


# Each task's small cases: the arguments its function is called with.
CASES: dict[str, list[Callable[[], tuple]]] = {
    "diversity": [lambda c=c: _lists_case(c) for c in (2, 3, 4)],
    "ranks": [lambda c=c: (_ratings_case(c),) for c in (1, 2)],
    "novelty": [lambda c=c: _ranks_case(c) for c in (2, 4, 5)],
    "best films": [lambda: (_ratings_case(3), 8, 5), lambda: (_best_films_case(), 2, 5)],
}


# --- digests -------------------------------------------------------------------------------

def _canonical(task: str, answer: object) -> str:
    """The answer as text: numbers to four significant digits (a float32 computation gives
    the same), rank tables and film sets in id order."""
    if task in ("diversity", "novelty"):
        return f"{float(answer):.4g}"  # type: ignore[arg-type]
    if task == "ranks":
        ranks = pd.Series(answer).astype(float).sort_index()
        return ";".join(f"{item}={rank:.1f}" for item, rank in ranks.items())
    films = sorted(str(film) for film in pd.Index(answer))
    return ";".join(films)


def digest(task: str, answer: object) -> str:
    """The salted digest the checks compare: 16 hex digits of SHA-256."""
    text = f"{_SALT}|{task}|{_canonical(task, answer)}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# Digests of the right answer ("right") and of the usual mistakes on each case, then on the
# assignment's own data where the answer depends on the data alone: written by
# `python instructors/assignment_digests.py` from the reference solution and the mistakes in
# it (tests/test_assignment.py checks that they still match).
from coursekit.assignment_digests import CASES as DIGESTS  # noqa: E402
from coursekit.assignment_digests import DATA as DATA_DIGESTS  # noqa: E402

HINTS = {
    "similarity": "this looks like the mean *similarity*. Diversity is 1 minus it.",
    "self-pairs": "it looks like each film was also compared with itself (a similarity of "
                  "1). Use only pairs of different films.",
    "dot product": "the vectors have different lengths: divide each dot product by both "
                   "lengths (the cosine), or scale the vectors to length 1 first.",
    "pooled": "all pairs of all users were averaged together. Average within each list "
              "first, then over users: a user with a short list counts as much as any other.",
    "ascending": "the ranks run the wrong way: rank 1 must be the *most* rated film.",
    "counts": "these are the numbers of ratings. Turn the counts into ranks (1 for the most "
              "rated).",
    "mean rating": "these come from the mean *rating*. Popularity is the number of ratings.",
    "dense": "ties are ranked without gaps (1, 2, 2, 3). Films with equal counts share the "
             "*best* rank of their group and the next film skips (1, 2, 2, 4): "
             "rank(method=\"min\").",
    "first": "films with equal counts got different ranks. They share the best rank of their "
             "group: rank(method=\"min\").",
    "average": "films with equal counts share the *average* rank of their group; they "
               "should share the best one: rank(method=\"min\").",
    "per user": "each user's list was averaged first. Novelty here is the mean over every "
                "recommended film of every user, so a longer list weighs more.",
    "no threshold": "films with fewer ratings than the minimum were kept.",
    "above threshold": "films with exactly the minimum number of ratings were left out: "
                       "keep those with *at least* that many.",
    "lowest": "these are the lowest-rated films: sort the mean ratings in descending order.",
    "ties by fewer": "films with equal means were ordered by fewer ratings first; break ties "
                     "by *more* ratings.",
    "most rated": "these are the most-rated films; the task sorts by mean rating.",
}


# --- running the student's function ----------------------------------------------------------

class NotTheExercise(RuntimeError):
    """Raised by chapter 8's metric functions while a check runs."""


_METRICS_REFUSED = ("diversity", "intra_list_similarity", "novelty_rank", "popularity_ranks")


@contextlib.contextmanager
def _without_chapter_8_metrics() -> Iterator[None]:
    from coursekit.evaluation import metrics

    def refuse(*args, **kwargs):
        raise NotTheExercise("the assignment asks you to write this measure yourself, with "
                             "NumPy and pandas; coursekit.evaluation.metrics computes it for "
                             "chapter 8.")

    saved = {name: getattr(metrics, name) for name in _METRICS_REFUSED}
    try:
        for name in _METRICS_REFUSED:
            setattr(metrics, name, refuse)
        yield
    finally:
        for name, function in saved.items():
            setattr(metrics, name, function)


def _report(ok: bool, task: str, message: str) -> bool:
    print(("PASS  " if ok else "FAIL  ") + f"{task}: {message}")
    return ok


def _not_done(task: str) -> bool:
    print(f"TODO  {task}: not done yet. Fill in the function above and run this cell again.")
    return False


class _Failed(Exception):
    """The student's function did not give an answer of the right kind (already reported)."""


def _call(function: Callable, args: tuple, task: str):
    """The student's answer, or raises _Failed after printing TODO or FAIL."""
    try:
        with _without_chapter_8_metrics():
            answer = function(*(a.copy() if hasattr(a, "copy") else a for a in args))
    except NotTheExercise as error:
        _report(False, task, str(error))
        raise _Failed from None
    except Exception as error:  # noqa: BLE001  (the student's code: say what it raised)
        _report(False, task, f"your function raised {type(error).__name__}: {error}")
        raise _Failed from None
    if answer is None:
        _not_done(task)
        raise _Failed
    return answer


def _check_kind(task: str, answer: object, label: str) -> None:
    """Raise _Failed (after a FAIL) when the answer is not the kind the task asks for."""
    if task in ("diversity", "novelty"):
        try:
            number = float(answer)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            _report(False, label, f"expected one number, got {type(answer).__name__}.")
            raise _Failed from None
        if not np.isfinite(number):
            _report(False, label, "the value is NaN or infinite: check for empty lists or a "
                                  "division by zero.")
            raise _Failed
    elif task == "ranks":
        if not isinstance(answer, pd.Series):
            _report(False, label, "expected a pandas Series: film id -> popularity rank.")
            raise _Failed
        if answer.isna().any():
            _report(False, label, "some ranks are NaN.")
            raise _Failed
    else:
        try:
            pd.Index(answer)
        except (TypeError, ValueError):
            _report(False, label, "expected the film ids (a list, an array or an Index).")
            raise _Failed from None


def _verdict(task: str, label: str, digests: dict[str, str], answer: object,
             where: str) -> bool:
    """True when the answer's digest is the right one; otherwise FAIL with a hint."""
    found = digest(task, answer)
    if found == digests["right"]:
        return True
    for mistake, expected in digests.items():
        if mistake != "right" and found == expected:
            return _report(False, label, f"on {where}, {HINTS[mistake]}")
    return _report(False, label, f"not the expected answer on {where}. Read the task again; "
                                 "the usual mistakes have their own hint, this is none of them.")


def _check(task: str, label: str, function: Callable, setup: AssignmentSetup | None,
           data_args: tuple = ()) -> bool:
    """Every small case of ``task``, then the assignment's own data when it has a digest."""
    try:
        for number, (make, digests) in enumerate(zip(CASES[task], DIGESTS[task], strict=True),
                                                      start=1):
            answer = _call(function, make(), label)
            _check_kind(task, answer, label)
            if not _verdict(task, label, digests, answer, f"small test case {number}"):
                return False
        if setup is not None and task in DATA_DIGESTS:
            answer = _call(function, data_args, label)
            _check_kind(task, answer, label)
            if not _verdict(task, label, DATA_DIGESTS[task], answer, "the assignment's data"):
                return False
    except _Failed:
        return False
    return True


# --- the checks ----------------------------------------------------------------------------

def check_diversity(diversity_of_lists: Callable) -> bool:
    """Task 1a: ``diversity_of_lists(top_n, item_vectors)``, the mean over users of 1 - (mean
    cosine similarity of the pairs of different films in the user's list)."""
    label = "Task 1a, diversity"
    if not _check("diversity", label, diversity_of_lists, None):
        return False
    return _report(True, label, f"right on all {len(CASES['diversity'])} small test cases.")


def check_popularity_ranks(rank_films_by_popularity: Callable,
                           setup: AssignmentSetup) -> bool:
    """Task 1b, first part: ``rank_films_by_popularity(train)``, each film's rank by its
    number of ratings (1 = the most rated; equal counts share the best rank of their group)."""
    label = "Task 1b, popularity ranks"
    if not _check("ranks", label, rank_films_by_popularity, setup, (setup.train,)):
        return False
    return _report(True, label, "right on the small test cases and on the training ratings.")


def check_novelty(novelty_of_lists: Callable) -> bool:
    """Task 1b, second part: ``novelty_of_lists(top_n, ranks)``, the mean popularity rank
    over every recommended film of every user."""
    label = "Task 1b, novelty"
    if not _check("novelty", label, novelty_of_lists, None):
        return False
    return _report(True, label, f"right on all {len(CASES['novelty'])} small test cases.")


def check_best_films(best_rated_films: Callable, setup: AssignmentSetup) -> bool:
    """Task 2, first part: ``best_rated_films(train, n, min_ratings)``, the ``n`` films with
    the highest mean rating among those with at least ``min_ratings`` ratings (ties broken
    by more ratings)."""
    label = "Task 2, the best-rated films"
    if not _check("best films", label, best_rated_films, setup,
                  (setup.train, MAP_FILMS, MAP_MIN_RATINGS)):
        return False
    return _report(True, label, "right on the small test cases and on the training ratings.")


def check_map(coords: pd.DataFrame | None, films: object,
              setup: AssignmentSetup) -> bool:
    """Task 2, second part: a frame indexed by the films' ids with two columns (x, y), from
    a 2-D projection of their embeddings that keeps neighbours together."""
    label = "Task 2, the map"
    if coords is None:
        return _not_done(label)
    if not isinstance(coords, pd.DataFrame) or coords.shape[1] != 2:
        return _report(False, label, "expected a DataFrame with two columns (x and y), "
                                     "indexed by film id.")
    if set(coords.index) != set(pd.Index(films)):
        return _report(False, label, "the frame's index must be the ids of the films you "
                                     "chose in the first part, one row each.")
    xy = coords.to_numpy(dtype=np.float64)
    if not np.isfinite(xy).all():
        return _report(False, label, "some coordinates are NaN or infinite.")
    from sklearn.manifold import trustworthiness

    vectors = setup.item_vectors.loc[coords.index].to_numpy()
    score = trustworthiness(vectors, xy, n_neighbors=5)
    if score < 0.7:
        return _report(False, label, "the points do not reflect the embeddings: neighbours in "
                                     "the map are rarely neighbours in the embedding space. "
                                     "Project the film vectors (PCA or t-SNE), not their ids.")
    return _report(True, label, f"the map keeps the films' neighbourhoods (trustworthiness "
                                f"{score:.2f}).")
