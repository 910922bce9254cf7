"""What a chapter teaches is a code cell of that chapter, the same text as coursekit's, and the
code that runs.

A class or function of coursekit that a chapter teaches carries, on the line above its
definition, the comment ``# taught: <label>``, the label of the chapter (``(ch-...)=`` above its
title), as d2l marks its saved code. The chapter defines it in one of its code cells, word for
word, and then uses that cell's version (trains it through a coursekit wrapper, or calls it):
the reader edits the cell in Colab and runs the edited version. Editing either copy alone
fails this test, and so does a taught cell that nothing uses afterwards, or that a later
import of coursekit's copy shadows. The sources are read with ``ast``, without importing
TensorFlow.

After changing a taught definition in coursekit, ``make sync`` copies it into its chapter
(``python tests/test_taught_code.py``, then the Colab notebooks are paired again).
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
MARKER = re.compile(r"^# taught: (ch-[a-z0-9-]+)$")
LABEL = re.compile(r"^\((ch-[a-z0-9-]+)\)=$", re.MULTILINE)


def chapters_by_label() -> dict[str, Path]:
    """Each chapter's label (the line ``(ch-...)=`` above its title) and its source."""
    return {label: md for md in sorted(NOTEBOOKS.glob("*.md"))
            for label in LABEL.findall(md.read_text())[:1]}


def taught_definitions() -> dict[str, list[tuple[str, str]]]:
    """chapter stem -> (coursekit file, top-level name) of every definition marked as taught."""
    chapters = chapters_by_label()
    found: dict[str, list[tuple[str, str]]] = {}
    for path in sorted((ROOT / "coursekit").rglob("*.py")):
        lines = path.read_text().splitlines()
        for node in ast.parse(path.read_text()).body:
            if not isinstance(node, ast.ClassDef | ast.FunctionDef):
                continue
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            marker = MARKER.match(lines[first - 2]) if first >= 2 else None
            if marker:
                label = marker.group(1)
                if label not in chapters:
                    raise LookupError(f"{path.name}: {node.name} is marked as taught in "
                                      f"{label}, which no chapter is labelled")
                found.setdefault(chapters[label].stem, []).append(
                    (path.relative_to(ROOT).as_posix(), node.name))
    return found


TAUGHT = taught_definitions()


CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def code_cells(markdown: str) -> list[str]:
    """The code of each code cell of a MyST chapter (its ``:tags:`` header left out)."""
    cells = []
    for body in CELL.findall(markdown):
        lines = body.splitlines()
        while lines and (lines[0].startswith(":") or not lines[0].strip()):
            lines.pop(0)
        cells.append("\n".join(lines))
    return cells


def definition_source(path: Path, name: str) -> str:
    """The source of top-level class or function ``name`` in ``path``, decorators included."""
    text = path.read_text()
    for node in ast.parse(text).body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef) and node.name == name:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            return "\n".join(text.splitlines()[first - 1:node.end_lineno])
    raise LookupError(f"{path} defines no top-level {name}")


def is_defined_in(source: str, cells: list[str]) -> bool:
    """Whether one cell holds ``source`` whole, as a block of complete lines."""
    block = textwrap.dedent(source).strip("\n")
    return any(re.search(rf"(?m)^{re.escape(block)}$", cell) for cell in cells)


@pytest.mark.parametrize(
    ("chapter", "path", "name"),
    [(chapter, path, name) for chapter, entries in TAUGHT.items() for path, name in entries],
)
def test_the_taught_code_is_a_cell_of_its_chapter(chapter, path, name):
    cells = code_cells((NOTEBOOKS / f"{chapter}.md").read_text())
    source = definition_source(ROOT / path, name)
    assert is_defined_in(source, cells), (
        f"{chapter} must define {name} in a code cell, word for word as in {path}: one of "
        "the two copies was edited. Make them the same text again.")
    problem = unused_or_shadowed(name, cells)
    assert problem is None, f"{chapter}: the cell defining {name} {problem}"


def unused_or_shadowed(name: str, cells: list[str]) -> str | None:
    """Why the chapter's own ``name`` is not the code that runs, or None: nothing after its
    definition uses it, or an import after it replaces it with coursekit's copy."""
    trees = [ast.parse(re.sub(r"(?m)^([ \t]*)[%!].*$", r"\1pass", cell)) for cell in cells]
    where = next(((k, node) for k, tree in enumerate(trees) for node in tree.body
                  if isinstance(node, ast.ClassDef | ast.FunctionDef) and node.name == name),
                 None)
    if where is None:
        return "is not a top-level definition of a cell"
    k, defined = where
    later = [node for node in ast.walk(trees[k]) if getattr(node, "lineno", 0) > defined.end_lineno]
    later += [node for tree in trees[k + 1:] for node in ast.walk(tree)]
    for node in later:
        if isinstance(node, ast.ImportFrom) and any(
                (alias.asname or alias.name) == name for alias in node.names):
            return f"is shadowed by `from {node.module} import {name}` after it"
    inside = set(map(id, ast.walk(defined)))
    uses = [node for tree in trees for node in ast.walk(tree)
            if isinstance(node, ast.Name) and node.id == name and id(node) not in inside]
    if not uses:
        return "is never used afterwards: coursekit's copy runs instead, so an edit changes nothing"
    return None


def test_every_part_of_the_course_marks_its_taught_code():
    assert len(TAUGHT) >= 10 and sum(map(len, TAUGHT.values())) >= 30, TAUGHT


def test_an_unused_or_shadowed_cell_is_caught():
    definition = "def blend_weights(p, r):\n    return p"
    assert unused_or_shadowed("blend_weights", [definition, "x = 1"]) is not None
    assert "shadowed" in unused_or_shadowed("blend_weights", [
        definition, "from coursekit.models.rating.blend import blend_weights\nblend_weights(1, 2)"])
    assert unused_or_shadowed("blend_weights", [definition, "w = blend_weights(1, 2)"]) is None
    assert unused_or_shadowed("blend_weights", [definition, "Model(solver=blend_weights)"]) is None


def test_an_edited_copy_is_caught():
    source = definition_source(ROOT / "coursekit/models/rating/mf.py", "MatrixFactorizationNet")
    cells = ["import keras", source]
    assert is_defined_in(source, cells)
    edited = source.replace("ops.sum(p * q, axis=1)", "ops.sum(p * q, axis=-1)")
    assert edited != source
    assert not is_defined_in(source, ["import keras", edited])
    assert not is_defined_in(source, [source[: len(source) // 2]])  # half a class


def test_no_chapter_prints_code_instead_of_running_it():
    for chapter in sorted(NOTEBOOKS.glob("*.md")):
        for cell in code_cells(chapter.read_text()):
            assert "getsource" not in cell, (
                f"{chapter.name} prints source code with inspect.getsource; make the taught "
                "code a cell of the chapter (marked `# taught: <label>` in coursekit) instead.")


def copy_into_chapters() -> None:
    """Replace each chapter's copy of a taught definition by coursekit's current text."""
    for chapter, entries in TAUGHT.items():
        path = NOTEBOOKS / f"{chapter}.md"
        text = path.read_text()
        for source_path, name in entries:
            source = definition_source(ROOT / source_path, name)
            keyword = "class" if re.search(rf"(?m)^class {name}\b", source) else "def"
            # the chapter's copy: its decorators, the header line, and every line up to the
            # next top-level line or the end of the cell
            pattern = re.compile(
                rf"(?m)^(?:@.*\n)*{keyword} {re.escape(name)}\b.*\n(?:(?:[ \t]+.*|)\n)*?"
                rf"(?=^\S|\Z)")
            match = pattern.search(text)
            if match is None:
                raise LookupError(f"{chapter} has no cell defining {name}")
            block = match.group(0)
            trailing = block[len(block.rstrip("\n")):]
            text = text[:match.start()] + source + trailing + text[match.end():]
        path.write_text(text)


if __name__ == "__main__":
    copy_into_chapters()
