"""The graded assignments: built from their sources by Otter Assign, the student notebooks in
the repository are what the sources give; no answer and no hidden test reaches a student; and
the autograder scores planted submissions of every assignment as it must (the reference
solution in full, an empty notebook zero, each planted wrong answer, hand-edited PASS or call
of coursekit's implementation exactly its task's points).

The planted submissions run in the small-data setting that the autograder shares
(``COURSEKIT_ASSIGNMENT_SMALL=1``); the same hidden tests decide. Each reference solution's
full run, as a student makes it, is timed by ``python -m benchmarks.assignments``.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "instructors" / "assignments"
sys.path.insert(0, str(SOURCES))

import build_assignments as build  # noqa: E402
import grade  # noqa: E402
import planted  # noqa: E402

NAMES = [source.stem for source in build.sources()]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """Every assignment built afresh: (student folder, autograder folder)."""
    out = tmp_path_factory.mktemp("assignments")
    for source in build.sources():
        build.build(source, student_dir=out / "student", autograder_dir=out / "autograder")
    return out / "student", out / "autograder"


def test_six_assignments_one_per_part():
    assert NAMES == ["01_predicting_ratings", "02_autoencoders", "03_side_information",
                     "04_top_n", "05_retrieval", "06_beyond_accuracy"]


def test_student_notebooks_are_built_from_the_sources(built):
    student, _ = built
    for name in NAMES:
        fresh, committed = student / name, ROOT / "assignments" / name
        files = sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
        kept = sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())
        assert files == kept, f"{name}: run make assignments (the files differ: {files} / {kept})"
        for path in files:
            assert (fresh / path).read_text() == (committed / path).read_text(), (
                f"assignments/{name}/{path} is not what its source gives: run make assignments")


def _solution_lines(source: Path) -> list[str]:
    """The lines of code between # BEGIN SOLUTION and # END SOLUTION inside a source's code
    cells (the ```otter marker cells around them are not code)."""
    lines, in_code, inside = [], False, False
    for line in source.read_text().splitlines():
        if line.startswith("```"):
            in_code = line.startswith("```{code-cell}")
        elif in_code and line.strip() == "# BEGIN SOLUTION":
            inside = True
        elif in_code and line.strip() == "# END SOLUTION":
            inside = False
        elif in_code and inside and len(line.strip()) > 25 and not line.lstrip().startswith("#"):
            lines.append(line.strip())
    return lines


def _hidden_tests(source: Path) -> list[str]:
    return re.findall(r'hidden: true\n""" # END TEST CONFIG\ndef (\w+)', source.read_text())


def test_no_answer_or_hidden_test_reaches_students():
    for name in NAMES:
        source = SOURCES / f"{name}.md"
        shipped = "\n".join(p.read_text() for p in (ROOT / "assignments" / name).rglob("*")
                            if p.is_file())
        solutions, hidden = _solution_lines(source), _hidden_tests(source)
        assert solutions and hidden, f"{name}: the source has no solution or no hidden test"
        for line in solutions:
            assert line not in shipped and json.dumps(line)[1:-1] not in shipped, (
                f"{name}: a solution line reaches students: {line!r}")
        for test in hidden:
            assert test not in shipped, f"{name}: the hidden test {test} reaches students"
        assert "BEGIN SOLUTION" not in shipped and "own_work" not in shipped


def test_the_package_and_the_site_carry_no_answers():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = config["tool"]["setuptools"]["packages"]["find"]["include"]
    assert all(p.startswith("coursekit") for p in packages), packages
    assert not list((ROOT / "coursekit").rglob("*solution*"))
    site = (ROOT / "_config.yml").read_text()
    assert re.search(r"^\s*- instructors", site, flags=re.M), "the site must exclude instructors/"


@pytest.mark.slow  # a minute per assignment: in make test, not make check
@pytest.mark.parametrize("name", NAMES)
def test_planted_submissions_are_scored_as_they_must(name, built, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_ASSIGNMENT_SMALL", "1")
    _, autograder = built
    reference = json.loads((autograder / name / "reference.ipynb").read_text())
    submissions = {
        "reference": reference,
        "empty": json.loads((ROOT / "assignments" / name / f"{name}.ipynb").read_text()),
        "planted": planted.planted(reference, name),
    }
    points = grade.autograded_points(SOURCES / f"{name}.md")
    scores = {}
    for kind, notebook in submissions.items():
        path = tmp_path / f"{kind}.ipynb"
        path.write_text(json.dumps(notebook))
        scores[kind] = grade.grade_one(path, autograder / f"{name}.zip")
    assert scores["reference"] == points, f"{name}: the reference scored {scores['reference']}"
    assert scores["empty"] == dict.fromkeys(points, 0.0), (
        f"{name}: the empty notebook scored {scores['empty']}")
    expected = {q: 0.0 if q in planted.ZEROED[name] else p for q, p in points.items()}
    assert scores["planted"] == expected, (
        f"{name}: the planted submission scored {scores['planted']}, expected {expected}")


@pytest.mark.slow  # starts the grader's processes: in make test, not make check
def test_a_notebook_that_runs_too_long_or_breaks_loses_no_other_row(built, tmp_path,
                                                                     monkeypatch):
    _, autograder = built
    monkeypatch.setattr(grade, "AUTOGRADER_DIR", autograder)
    name = "04_top_n"
    folder = tmp_path / "submissions"
    folder.mkdir()
    endless = json.loads((ROOT / "assignments" / name / f"{name}.ipynb").read_text())
    endless["cells"].insert(0, {"cell_type": "code", "execution_count": None, "id": "endless",
                                "metadata": {}, "outputs": [],
                                "source": "import time\nwhile True:\n    time.sleep(1)"})
    (folder / "a_endless.ipynb").write_text(json.dumps(endless))
    (folder / "b_not_a_notebook.ipynb").write_text("this is not JSON")
    scores = grade.grade_folder(name, folder, timeout=8)
    points = grade.autograded_points(SOURCES / f"{name}.md")
    assert list(scores["submission"]) == ["a_endless.ipynb", "b_not_a_notebook.ipynb"]
    for _, row in scores.iterrows():
        assert all(row[q] == 0.0 for q in points) and row["autograded total"] == 0.0, row
    assert scores.loc[0, "problem"].startswith("stopped after 8 s"), scores.loc[0, "problem"]
    assert scores.loc[1, "problem"].startswith("could not be graded"), scores.loc[1, "problem"]
