"""Grade a folder of submitted notebooks with an assignment's autograder, on this machine and
without Docker: each notebook is executed again from the top by ``otter run`` (the outputs a
student handed in count for nothing), and the scores go to one table.

    python instructors/assignments/grade.py 01_predicting_ratings submissions/ scores.csv
    python instructors/assignments/grade.py 04_top_n submissions/ scores.csv --timeout 600

The table has one row per notebook: its file, the points of each autograded task, their total,
an empty column per written task for the instructor to grade with the rubric, and a "problem"
column. Each notebook runs in a process of its own, stopped after ``--timeout`` seconds (15
minutes unless given; a student's run takes about half a minute): a notebook that runs too
long, or that the grader cannot run, scores zero on every code task, says why in "problem",
and the others are graded all the same.

The students' code runs with your rights on this machine, as any notebook you run does: for
submissions you do not trust, grade in containers with ``otter grade`` (Docker) or on
Gradescope. Build the autograder first (``make assignments``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
AUTOGRADER_DIR = ROOT / "_build" / "autograder"
TIMEOUT_S = 900  # three times the five minutes a student's run is promised on a CPU


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


def grade_apart(notebook: Path, autograder: Path, timeout: float = TIMEOUT_S,
                ) -> tuple[dict[str, float] | None, str]:
    """``grade_one`` in a process of its own, stopped (with the kernel it started) after
    ``timeout`` seconds: (the points of each task, "") or (None, what went wrong)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--one", str(notebook),
               str(autograder)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as child:  # its own group: the kernel too
        try:
            out, err = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            return None, f"stopped after {timeout:g} s (grade.py --timeout to allow longer)"
    if child.returncode != 0:
        last = (err.strip().splitlines() or ["no message"])[-1]
        return None, f"could not be graded: {last[:300]}"
    return json.loads(out.strip().splitlines()[-1]), ""


def grade_folder(name: str, folder: Path, timeout: float = TIMEOUT_S) -> pd.DataFrame:
    """One row per notebook of ``folder``, graded with assignment ``name``'s autograder, each
    in a process of its own stopped after ``timeout`` seconds."""
    autograder = AUTOGRADER_DIR / f"{name}.zip"
    if not autograder.exists():
        raise SystemExit(f"no autograder at {autograder}: build it first (make assignments)")
    notebooks = sorted(folder.glob("*.ipynb"))
    if not notebooks:
        raise SystemExit(f"no .ipynb files in {folder}")
    points = autograded_points(HERE / f"{name}.md")
    manual = manual_questions(HERE / f"{name}.md")
    rows = []
    for notebook in notebooks:
        scores, problem = grade_apart(notebook, autograder, timeout)
        scores = scores if scores is not None else dict.fromkeys(points, 0.0)
        rows.append({"submission": notebook.name, **scores,
                     "autograded total": sum(scores.values()),
                     **{f"{q} (written, out of {p:g})": None for q, p in manual.items()},
                     "problem": problem})
        print(f"{notebook.name}: {sum(scores.values()):g} points autograded"
              + (f" ({problem})" if problem else ""), flush=True)
    return pd.DataFrame(rows)


def main(argv: list[str]) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's start-up lines
    if argv[:1] == ["--one"] and len(argv) == 3:  # one notebook, in grade_apart's process
        print(json.dumps(grade_one(Path(argv[1]), Path(argv[2]))))
        return
    timeout = TIMEOUT_S
    if "--timeout" in argv:
        at = argv.index("--timeout")
        try:
            timeout = float(argv[at + 1])
        except (IndexError, ValueError):
            raise SystemExit("--timeout needs a number of seconds, e.g. --timeout 600") from None
        argv = argv[:at] + argv[at + 2:]
    if len(argv) != 3:
        raise SystemExit(__doc__)
    name, folder, table = argv[0], Path(argv[1]), Path(argv[2])
    scores = grade_folder(name, folder, timeout)
    scores.to_csv(table, index=False)
    print(f"{len(scores)} submissions graded; scores in {table}")


if __name__ == "__main__":
    main(sys.argv[1:])
