"""The assignment's checks: the reference solution passes, the typical wrong answers fail with
their hint, an untouched starter reports "not done yet", chapter 8's metrics are refused while
a check runs, and no function of coursekit returns the expected answers."""

from __future__ import annotations

import importlib.util
import inspect
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coursekit import assignment, assignment_digests
from coursekit import data as ckd
from coursekit.evaluation import metrics
from coursekit.models import MatrixFactorization

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    sys.path.insert(0, str(ROOT / "instructors"))
    try:
        spec = importlib.util.spec_from_file_location(name, ROOT / "instructors" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "instructors"))
    return module


solution = _load("assignment_solution")
digests = _load("assignment_digests")

CHECKS = {  # task -> a check of the student's function alone (the setup given where needed)
    "diversity": lambda f, setup: assignment.check_diversity(f),
    "ranks": lambda f, setup: assignment.check_popularity_ranks(f, setup),
    "novelty": lambda f, setup: assignment.check_novelty(f),
    "best films": lambda f, setup: assignment.check_best_films(f, setup),
}


@pytest.fixture(scope="module")
def setup(ml100k):
    model = MatrixFactorization(n_factors=16, epochs=2, refit=False, seed=0)
    return assignment.prepare(model.fit(ckd.rating_protocol(ml100k)))


def test_reference_solution_passes_every_check(setup, capsys):
    assert solution.run_checks(setup)
    out = capsys.readouterr().out
    assert out.count("PASS") == 5 and "FAIL" not in out


def test_stored_digests_are_the_reference_and_mistakes_answers():
    cases, data = digests.compute()
    assert cases == assignment_digests.CASES, "run python instructors/assignment_digests.py"
    assert data == assignment_digests.DATA


def test_every_usual_mistake_is_told_apart_from_the_right_answer_on_some_case():
    for task, mistakes in digests.MISTAKES.items():
        for mistake in mistakes:
            assert any(case[mistake] != case["right"] for case in assignment.DIGESTS[task]), (
                task, mistake)


def _margin(value: float) -> float:
    """How far the value sits from a rounding boundary of its fourth significant digit, in
    units of that digit (0.5 at best)."""
    scaled = value / 10 ** (math.floor(math.log10(abs(value))) - 3)
    return abs(scaled - math.floor(scaled) - 0.5)


def _diversity_in_float32(top_n, item_vectors):
    per_user = []
    for _, films in top_n.groupby("user"):
        v = item_vectors.loc[films["item"]].to_numpy(dtype=np.float32)
        unit = v / np.linalg.norm(v, axis=1, keepdims=True)
        s, n = unit @ unit.T, np.float32(len(v))
        per_user.append(np.float32(1) - (s.sum() - np.trace(s)) / (n * (n - 1)))
    return np.mean(np.array(per_user, dtype=np.float32))


def _novelty_in_float32(top_n, ranks):
    return np.mean(top_n["item"].map(ranks).to_numpy(dtype=np.float32))


@pytest.mark.parametrize("task,in_float32", [("diversity", _diversity_in_float32),
                                             ("novelty", _novelty_in_float32)])
def test_numbers_of_the_cases_are_far_from_rounding_so_float32_answers_pass(task, in_float32):
    for make in assignment.CASES[task]:
        args = make()
        assert _margin(digests.REFERENCE[task](*args)) > 0.1
        right = assignment.digest(task, digests.REFERENCE[task](*args))
        assert assignment.digest(task, in_float32(*args)) == right


def test_untouched_starter_functions_report_not_done(setup, capsys):
    for check in CHECKS.values():
        assert not check(lambda *args: None, setup)
    assert not assignment.check_map(None, pd.Index([]), setup)
    assert capsys.readouterr().out.count("not done yet") == 5


@pytest.mark.parametrize("task,mistake",
                         [(t, m) for t, ms in digests.MISTAKES.items() for m in ms])
def test_each_usual_mistake_fails_with_its_hint(task, mistake, setup, capsys):
    assert not CHECKS[task](digests.MISTAKES[task][mistake], setup)
    out = capsys.readouterr().out
    assert "FAIL" in out and assignment.HINTS[mistake] in out, out


def test_calling_chapter_8_metrics_is_refused_and_they_work_again_afterwards(setup, capsys):
    def borrowed(top_n, item_vectors):
        return metrics.diversity(top_n, item_vectors=item_vectors)

    assert not assignment.check_diversity(borrowed)
    assert "write this measure yourself" in capsys.readouterr().out
    assert 0.0 <= metrics.diversity(setup.top10, item_vectors=setup.item_vectors) <= 2.0


def test_functions_that_raise_or_answer_the_wrong_kind_fail_cleanly(setup, capsys):
    assert not assignment.check_diversity(lambda t, v: float("nan"))
    assert not assignment.check_diversity(lambda t, v: "high")
    assert not assignment.check_novelty(lambda t, r: 1 / 0)
    assert not assignment.check_popularity_ranks(lambda t: [1, 2, 3], setup)
    assert not assignment.check_diversity(lambda t, v: 0.5)
    out = capsys.readouterr().out
    assert "NaN" in out and "one number" in out and "ZeroDivisionError" in out
    assert "pandas Series" in out and "none of them" in out and out.count("FAIL") == 5


def test_no_function_of_coursekit_assignment_returns_an_expected_answer(setup):
    """Every public function of the module, called with the setup (and the task's sizes),
    returns nothing whose digest is the right answer on the assignment's data."""
    right = {task: found["right"] for task, found in assignment.DATA_DIGESTS.items()}
    calls = 0
    for name, function in vars(assignment).items():
        if name.startswith("_") or not inspect.isfunction(function) or name == "prepare":
            continue
        for args in [(setup,), (setup.train,), (setup.train, 30, 100)]:
            try:
                answer = function(*args)
            except Exception:  # noqa: BLE001  (functions that take other arguments)
                continue
            calls += 1
            for task, expected in right.items():
                try:
                    assert assignment.digest(task, answer) != expected, (name, task)
                except (TypeError, ValueError):
                    pass
    assert calls > 0


def test_a_map_of_other_films_or_meaningless_points_fails(setup, capsys):
    films = solution.best_rated_films(setup.train)
    right = solution.map_of_films(films, setup.item_vectors)
    moved = right.copy()
    moved.index = moved.index + 100_000
    assert not assignment.check_map(moved, films, setup)
    assert "the films you chose" in capsys.readouterr().out
    for seed in range(3):  # points that ignore the embeddings
        fake = pd.DataFrame(np.random.default_rng(seed).normal(size=(30, 2)), index=right.index)
        assert not assignment.check_map(fake, films, setup)
    assert "do not reflect the embeddings" in capsys.readouterr().out
    assert not assignment.check_map(right.iloc[:, :1], films, setup)
    assert "two columns" in capsys.readouterr().out


def test_tsne_at_its_default_perplexity_refuses_thirty_points(setup):
    """The brief warns about this: scikit-learn's t-SNE needs a perplexity below the number
    of points, and its default is 30."""
    from sklearn.manifold import TSNE

    vectors = setup.item_vectors.iloc[:30].to_numpy()
    with pytest.raises(ValueError, match="perplexity"):
        TSNE(n_components=2, random_state=0).fit_transform(vectors)
    assert TSNE(n_components=2, perplexity=10, random_state=0).fit_transform(vectors).shape \
        == (30, 2)


def test_the_starter_asks_for_the_functions_the_checks_and_the_solution_use():
    """Each function the chapter's starter cells define has the reference's parameters."""
    import ast

    source = (ROOT / "notebooks" / "11_assignment.md").read_text()
    cells = [block.split("```", 1)[0] for block in source.split("```{code-cell} ipython3")[1:]]
    starters = {}
    for cell in cells:
        code = "\n".join(  # IPython's magics become `pass`; cell options go
            line.split("%")[0] + "pass" if line.strip().startswith("%") else line
            for line in cell.splitlines() if not line.startswith(":"))
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.FunctionDef):
                starters[node.name] = [a.arg for a in node.args.args]
    for name in ("diversity_of_lists", "rank_films_by_popularity", "novelty_of_lists",
                 "best_rated_films", "map_of_films"):
        assert starters[name] == list(inspect.signature(getattr(solution, name)).parameters)
