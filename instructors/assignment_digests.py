"""The digests the assignment's checks compare (coursekit/assignment_digests.py), computed
from the reference solution and from the usual wrong answers written out below.

``python instructors/assignment_digests.py`` writes them again; tests/test_assignment.py
checks that the stored ones still match what this computes.
"""

from __future__ import annotations

import pprint
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "instructors"))

import assignment_solution as right  # noqa: E402

# --- the usual wrong answers ---------------------------------------------------------------


def _per_user_similarity(top_n, item_vectors, normalise=True, self_pairs=False):
    out = []
    for _, films in top_n.groupby("user"):
        v = item_vectors.loc[films["item"]].to_numpy(dtype=np.float64)
        if normalise:
            v = v / np.linalg.norm(v, axis=1, keepdims=True)
        s, n = v @ v.T, len(v)
        out.append(s.mean() if self_pairs else (s.sum() - np.trace(s)) / (n * (n - 1)))
    return np.array(out)


def _pooled_diversity(top_n, item_vectors):
    total, pairs = 0.0, 0
    for _, films in top_n.groupby("user"):
        v = item_vectors.loc[films["item"]].to_numpy(dtype=np.float64)
        v = v / np.linalg.norm(v, axis=1, keepdims=True)
        s, n = v @ v.T, len(v)
        total, pairs = total + s.sum() - np.trace(s), pairs + n * (n - 1)
    return 1.0 - total / pairs


def _counts(train):
    return train.groupby("item").size()


MISTAKES: dict[str, dict[str, Callable]] = {
    "diversity": {
        "similarity": lambda t, v: float(_per_user_similarity(t, v).mean()),
        "self-pairs": lambda t, v: float(1 - _per_user_similarity(t, v, self_pairs=True).mean()),
        "dot product": lambda t, v: float(1 - _per_user_similarity(t, v, normalise=False).mean()),
        "pooled": _pooled_diversity,
    },
    "ranks": {
        "ascending": lambda t: _counts(t).rank(ascending=True, method="min"),
        "counts": lambda t: _counts(t).astype(float),
        "mean rating": lambda t: t.groupby("item")["rating"].mean().rank(ascending=False,
                                                                          method="min"),
        "dense": lambda t: _counts(t).rank(ascending=False, method="dense"),
        "first": lambda t: _counts(t).rank(ascending=False, method="first"),
        "average": lambda t: _counts(t).rank(ascending=False, method="average"),
    },
    "novelty": {
        "per user": lambda t, r: float(t.assign(r=t["item"].map(r)).groupby("user")["r"]
                                       .mean().mean()),
    },
    "best films": {
        "no threshold": lambda t, n, m: right.best_rated_films(t, n, 0),
        "above threshold": lambda t, n, m: right.best_rated_films(t, n, m + 1),
        "lowest": lambda t, n, m: _stats(t, m).sort_values(["mean", "count"]).head(n).index,
        "ties by fewer": lambda t, n, m: _stats(t, m).sort_values(
            ["mean", "count"], ascending=[False, True]).head(n).index,
        "most rated": lambda t, n, m: _stats(t, m).sort_values(
            ["count", "mean"], ascending=False).head(n).index,
    },
}


def _stats(train, min_ratings):
    stats = train.groupby("item")["rating"].agg(count="size", mean="mean")
    return stats[stats["count"] >= min_ratings]


REFERENCE = {"diversity": right.diversity_of_lists, "ranks": right.rank_films_by_popularity,
             "novelty": right.novelty_of_lists, "best films": right.best_rated_films}


def compute() -> tuple[dict, dict]:
    """(case digests, data digests), as coursekit/assignment_digests.py stores them."""
    from coursekit import assignment
    from coursekit.data import load_movielens, rating_protocol

    cases = {}
    for task, makers in assignment.CASES.items():
        cases[task] = []
        for make in makers:
            args = make()
            digests = {"right": assignment.digest(task, REFERENCE[task](*args))}
            for mistake, function in MISTAKES[task].items():
                digests[mistake] = assignment.digest(task, function(*args))
            cases[task].append(digests)
    train = rating_protocol(load_movielens("ml-100k", progressbar=False)).train
    data_args = {"ranks": (train,),
                 "best films": (train, assignment.MAP_FILMS, assignment.MAP_MIN_RATINGS)}
    data = {}
    for task, args in data_args.items():
        data[task] = {"right": assignment.digest(task, REFERENCE[task](*args))}
        for mistake, function in MISTAKES[task].items():
            data[task][mistake] = assignment.digest(task, function(*args))
    return cases, data


def write() -> Path:
    cases, data = compute()
    target = ROOT / "coursekit" / "assignment_digests.py"
    target.write_text(
        '"""Digests of the assignment\'s right answers and usual mistakes (chapter 11), written '
        'by\n`python instructors/assignment_digests.py`: do not edit by hand."""\n\n'
        f"CASES = {pprint.pformat(cases, width=99, sort_dicts=False)}\n\n"
        f"DATA = {pprint.pformat(data, width=99, sort_dicts=False)}\n")
    return target


if __name__ == "__main__":
    print(f"written: {write()}")
