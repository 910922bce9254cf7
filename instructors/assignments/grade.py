"""Grade a folder of submitted notebooks with an assignment's autograder, on this machine and
without Docker: each notebook is executed again from the top by ``otter run`` (the outputs a
student handed in count for nothing), and the scores go to one table.

    python instructors/assignments/grade.py 01_predicting_ratings submissions/ scores.csv

The table has one row per notebook: its file, the points of each autograded task, their total,
and the written tasks' maximum points, left for the instructor to grade with the rubric.
Build the autograder first (``make assignments``).
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
AUTOGRADER_DIR = ROOT / "_build" / "autograder"


def _questions(source: Path) -> list[dict[str, str]]:
    blocks = re.findall(r"# BEGIN QUESTION\n(.*?)```", source.read_text(), flags=re.S)
    return [{k.strip(): v.strip() for k, v in (line.split(":", 1) for line in block.splitlines()
                                               if ":" in line)} for block in blocks]


def manual_questions(source: Path) -> dict[str, float]:
    """The written (manually graded) tasks of an assignment's source and their points."""
    return {q["name"]: float(q["points"]) for q in _questions(source) if q.get("manual") == "true"}


def autograded_points(source: Path) -> dict[str, float]:
    """The autograded tasks of an assignment's source and their points."""
    return {q["name"]: float(q["points"]) for q in _questions(source) if q.get("manual") != "true"}


def grade_one(notebook: Path, autograder: Path) -> dict[str, float]:
    """The autograded points of each task of one submission: {"q1": 4.0, ...}.

    What ``otter run`` does, in this process (which spares starting Otter again for each
    notebook): the notebook is executed from the top in a fresh kernel, then graded."""
    import contextlib
    import io

    from otter.run import main as otter_run

    with tempfile.TemporaryDirectory() as out:
        log = io.StringIO()
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                otter_run(str(notebook), autograder=str(autograder), output_dir=out,
                          no_logo=True)
        except Exception as error:
            raise RuntimeError(f"otter could not grade {notebook.name}: {error}\n"
                               f"{log.getvalue()[-3000:]}") from error
        tests = json.loads((Path(out) / "results.json").read_text())["tests"]
    return {t["name"]: float(t["score"]) for t in tests if "max_score" in t}


def grade_folder(name: str, folder: Path) -> pd.DataFrame:
    """One row per notebook of ``folder``, graded with assignment ``name``'s autograder."""
    autograder = AUTOGRADER_DIR / f"{name}.zip"
    if not autograder.exists():
        raise SystemExit(f"no autograder at {autograder}: build it first (make assignments)")
    notebooks = sorted(folder.glob("*.ipynb"))
    if not notebooks:
        raise SystemExit(f"no .ipynb files in {folder}")
    manual = manual_questions(HERE / f"{name}.md")
    rows = []
    for notebook in notebooks:
        scores = grade_one(notebook, autograder)
        rows.append({"submission": notebook.name, **scores,
                     "autograded total": sum(scores.values()),
                     **{f"{q} (written, out of {p:g})": None for q, p in manual.items()}})
        print(f"{notebook.name}: {sum(scores.values()):g} points autograded", flush=True)
    return pd.DataFrame(rows)


def main(argv: list[str]) -> None:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's start-up lines
    if len(argv) != 3:
        raise SystemExit(__doc__)
    name, folder, table = argv[0], Path(argv[1]), Path(argv[2])
    scores = grade_folder(name, folder)
    scores.to_csv(table, index=False)
    print(f"{len(scores)} submissions graded; scores in {table}")


if __name__ == "__main__":
    main(sys.argv[1:])
