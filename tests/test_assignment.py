"""The assignment's checks: the reference solution passes, the typical wrong answers fail
with a hint, and an untouched starter reports "not done yet"."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coursekit import assignment
from coursekit import data as ckd
from coursekit.models import MatrixFactorization

ROOT = Path(__file__).resolve().parents[1]


def load_solution():
    spec = importlib.util.spec_from_file_location(
        "assignment_solution", ROOT / "instructors" / "assignment_solution.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def setup(ml100k):
    model = MatrixFactorization(n_factors=16, epochs=2, refit=False, seed=0)
    return assignment.prepare(model.fit(ckd.rating_protocol(ml100k)))


@pytest.fixture(scope="module")
def solution():
    return load_solution()


def test_reference_solution_passes_every_check(setup, solution, capsys):
    assert solution.run_checks(setup)
    out = capsys.readouterr().out
    assert out.count("PASS") == 3 and "FAIL" not in out


def test_untouched_starter_answers_report_not_done(setup, capsys):
    assert not assignment.check_diversity(setup, None)
    assert not assignment.check_novelty(setup, None)
    assert not assignment.check_map(setup, None)
    assert capsys.readouterr().out.count("not done yet") == 3


def test_similarity_instead_of_diversity_is_named(setup, solution, capsys):
    right = solution.diversity_of_lists(setup.top10, setup.item_vectors)
    assert not assignment.check_diversity(setup, 1.0 - right)
    assert "mean *similarity*" in capsys.readouterr().out


def test_self_pairs_are_named(setup, capsys):
    per_user = []
    for _, films in setup.top10.groupby("user"):
        v = setup.item_vectors.loc[films["item"]].to_numpy()
        unit = v / np.linalg.norm(v, axis=1, keepdims=True)
        per_user.append(1.0 - (unit @ unit.T).mean())  # the diagonal is included: wrong
    assert not assignment.check_diversity(setup, float(np.mean(per_user)))
    assert "compared with itself" in capsys.readouterr().out


def test_mean_rating_instead_of_popularity_rank_is_named(setup, capsys):
    means = setup.train.groupby("item")["rating"].mean()
    assert not assignment.check_novelty(setup, setup.top10["item"].map(means).mean())
    assert "mean *rating*" in capsys.readouterr().out


def test_counts_and_reversed_ranks_are_named(setup, capsys):
    counts = setup.train.groupby("item").size()
    assert not assignment.check_novelty(setup, setup.top10["item"].map(counts).mean())
    assert "number of ratings" in capsys.readouterr().out
    reversed_ranks = counts.rank(ascending=True, method="min")
    assert not assignment.check_novelty(setup, setup.top10["item"].map(reversed_ranks).mean())
    assert "wrong way" in capsys.readouterr().out


def test_bad_values_fail_without_crashing(setup, capsys):
    assert not assignment.check_diversity(setup, float("nan"))
    assert not assignment.check_diversity(setup, "high")
    assert not assignment.check_novelty(setup, 1e9)
    out = capsys.readouterr().out
    assert "NaN" in out and "one number" in out and out.count("FAIL") == 3


def test_map_of_wrong_films_or_meaningless_points_fails(setup, solution, capsys):
    right = solution.map_of_best_films(setup.train, setup.item_vectors)
    wrong_films = right.copy()
    wrong_films.index = wrong_films.index + 100_000
    assert not assignment.check_map(setup, wrong_films)
    assert "missing" in capsys.readouterr().out
    shuffled = right.sample(frac=1.0, random_state=0)
    noise = pd.DataFrame(np.random.default_rng(0).normal(size=(30, 2)), index=shuffled.index)
    for seed in range(3):  # points that ignore the embeddings
        fake = pd.DataFrame(np.random.default_rng(seed).normal(size=(30, 2)), index=right.index)
        assert not assignment.check_map(setup, fake)
    assert "do not reflect the embeddings" in capsys.readouterr().out
    assert not assignment.check_map(setup, noise.iloc[:, :1])
    assert "two columns" in capsys.readouterr().out
