"""Each assignment's reference solution run as a student runs it (whole ml-100k, no small-data
setting), timed, with the figures it prints recorded in ``benchmarks/assignment_runs.json``.

    python -m benchmarks.assignments            # every assignment (build them first)

A student's run must fit the five minutes the assignments promise on a CPU; the record says
how long each took here, and what it printed.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "benchmarks" / "assignment_runs.json"
LIMIT_S = 300


def run_reference(name: str) -> dict:
    """Execute one reference notebook in a folder holding its public tests; time it."""
    reference = ROOT / "_build" / "autograder" / name / "reference.ipynb"
    if not reference.exists():
        raise SystemExit(f"no reference notebook at {reference}: run make assignments first")
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(ROOT / "assignments" / name / "tests", Path(tmp) / "tests")
        nb = nbformat.read(reference, 4)
        env_small = os.environ.pop("COURSEKIT_ASSIGNMENT_SMALL", None)
        start = time.perf_counter()
        try:
            NotebookClient(nb, timeout=900, resources={"metadata": {"path": tmp}}).execute()
        finally:
            if env_small is not None:
                os.environ["COURSEKIT_ASSIGNMENT_SMALL"] = env_small
        seconds = time.perf_counter() - start
    printed = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("name") == "stdout":
                printed.append(output["text"].strip())
    return {"seconds": round(seconds, 1), "within_limit": seconds <= LIMIT_S,
            "printed": printed}


def main(names: list[str]) -> None:
    available = sorted(p.name for p in (ROOT / "assignments").iterdir() if p.is_dir())
    record = json.loads(RECORD.read_text()) if RECORD.exists() else {}
    record["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    for name in names or available:
        result = run_reference(name)
        record.setdefault("runs", {})[name] = result
        print(f"{name}: {result['seconds']} s ({'within' if result['within_limit'] else 'OVER'} "
              f"the {LIMIT_S} s a student is promised)", flush=True)
        for line in result["printed"]:
            print("   ", line.replace("\n", "\n    "))
        RECORD.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
