"""Build every assignment with Otter Assign: the student notebooks and their public tests into
``assignments/`` (what students open in Colab, and what the site shows), and for the
instructor the autograder zips and the reference notebooks into ``_build/autograder/``.

    python instructors/assignments/build_assignments.py            # every assignment
    python instructors/assignments/build_assignments.py 01_predicting_ratings

The sources are the MyST files beside this script (``NN_name.md``). Each is converted to a
notebook, then ``otter assign`` strips its solutions and hidden tests from the student copy,
whose Markdown is then written as Colab shows it (``book/colab_notebooks.py``: references
become links that open the chapters' notebooks in Colab).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
STUDENT_DIR = ROOT / "assignments"
AUTOGRADER_DIR = ROOT / "_build" / "autograder"
SUPPORT_FILES = ["own_work.py", "requirements.txt"]  # the autograder's files, beside the sources
sys.path.insert(0, str(ROOT / "book"))

from colab_notebooks import colab_markdown  # noqa: E402


def sources() -> list[Path]:
    """The assignments' sources, in the course's order."""
    return sorted(HERE.glob("[0-9][0-9]_*.md"))


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _normalized(notebook: Path, source: Path) -> None:
    """Give the student notebook stable cell ids, so that building twice writes the same file,
    and its Markdown as Colab shows it."""
    nb = json.loads(notebook.read_text())
    for number, cell in enumerate(nb["cells"]):
        cell["id"] = f"cell-{number:03d}"
        cell.get("metadata", {}).pop("execution", None)
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            cell["source"] = colab_markdown(text, source).splitlines(keepends=True)
    nb["metadata"].pop("jupytext", None)
    notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def build(source: Path, student_dir: Path = STUDENT_DIR,
          autograder_dir: Path = AUTOGRADER_DIR) -> Path:
    """Build one assignment; returns the path of its autograder zip."""
    name = source.stem
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        master = work / f"{name}.ipynb"
        subprocess.run([_bin("jupytext"), "--quiet", "--to", "ipynb", "--output", str(master),
                        str(source)], check=True)
        for support in SUPPORT_FILES:
            shutil.copy(HERE / support, work / support)
        dist = work / "dist"
        result = subprocess.run([_bin("otter"), "assign", str(master), str(dist)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"otter assign failed on {source.name}:\n{result.stderr[-3000:]}")
        student = student_dir / name
        shutil.rmtree(student, ignore_errors=True)
        shutil.copytree(dist / "student", student)
        _normalized(student / f"{name}.ipynb", source)
        grader = autograder_dir / name
        shutil.rmtree(grader, ignore_errors=True)
        grader.mkdir(parents=True)
        (zip_path,) = (dist / "autograder").glob("*.zip")
        shutil.copy(zip_path, autograder_dir / f"{name}.zip")
        shutil.copy(dist / "autograder" / f"{name}.ipynb", grader / "reference.ipynb")
    return autograder_dir / f"{name}.zip"


def main(names: list[str]) -> None:
    chosen = [s for s in sources() if not names or s.stem in names]
    unknown = set(names) - {s.stem for s in chosen}
    if unknown:
        raise SystemExit(f"no assignment named {', '.join(sorted(unknown))}; the assignments "
                         f"are {', '.join(s.stem for s in sources())}")
    for source in chosen:
        zip_path = build(source)
        print(f"{source.stem}: student notebook in {(STUDENT_DIR / source.stem).relative_to(ROOT)}"
              f"/, autograder {zip_path.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
