"""What a chapter teaches is a code cell of that chapter, the same text as coursekit's.

Each entry of TAUGHT names a class or function of coursekit that a chapter defines in one of
its code cells, word for word, and then trains or calls: the reader edits that cell in Colab
and runs the edited version through the same coursekit wrapper. Editing either copy alone
fails this test. The sources are read with ``ast``, without importing TensorFlow.

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

# chapter -> (coursekit file, name of a top-level class or function) it defines in a cell
TAUGHT: dict[str, list[tuple[str, str]]] = {
    "03_matrix_factorization": [("coursekit/models/mf.py", "MatrixFactorizationNet")],
    "04_neural_collaborative_filtering": [("coursekit/models/ncf.py", "NeuralCFNet")],
    "05_autorec": [("coursekit/models/autoencoder_network.py", "SparseAutoencoder")],
    "06_deep_autoencoder": [
        ("coursekit/models/autoencoder_network.py", "RefeedingAutoencoder"),
        ("coursekit/models/autoencoder_network.py", "SelfNormalizingAutoencoder"),
    ],
    "12_retrieval_ranking_tfrs": [
        ("coursekit/tfrs.py", "QueryTower"),
        ("coursekit/tfrs.py", "CandidateTower"),
        ("coursekit/tfrs.py", "in_batch_softmax_loss"),
        ("coursekit/tfrs.py", "TwoTowerModel"),
    ],
    "13_retrieval_keras3": [
        ("coursekit/models/retrieval.py", "in_batch_softmax_loss"),
        ("coursekit/models/retrieval.py", "TwoTowerNet"),
    ],
    "14_serving_at_scale": [
        ("coursekit/serving.py", "inner_product_as_distance"),
        ("coursekit/serving.py", "recall_at_k"),
        ("coursekit/models/rerank.py", "CandidateRanker"),
    ],
    "10_sequence_aware": [
        ("coursekit/models/sequential.py", "left_padded"),
        ("coursekit/models/sequential.py", "training_windows"),
        ("coursekit/models/sequential.py", "GRU4RecNet"),
        ("coursekit/models/sequential.py", "SASRecNet"),
    ],
    "09_implicit_feedback": [
        ("coursekit/models/implicit.py", "sample_negatives"),
        ("coursekit/models/implicit.py", "is_chosen"),
        ("coursekit/models/implicit.py", "DotProductNet"),
        ("coursekit/models/implicit.py", "PairwiseDifference"),
        ("coursekit/models/implicit.py", "NeuMFNet"),
        ("coursekit/models/implicit.py", "als_solve"),
        ("coursekit/topn.py", "sampled_hit_rate"),
    ],
    "07_side_information": [
        ("coursekit/models/fm.py", "pairwise_interactions"),
        ("coursekit/models/fm.py", "on_both_sides"),
        ("coursekit/models/fm.py", "FactorizationMachineNet"),
        ("coursekit/models/fm.py", "spread_by_field"),
        ("coursekit/models/fm.py", "field_embeddings"),
        ("coursekit/models/fm.py", "FieldEmbeddingsNet"),
        ("coursekit/models/fm.py", "perceptron"),
        ("coursekit/models/fm.py", "DeepFMNet"),
        ("coursekit/models/fm.py", "DeepCrossNet"),
        ("coursekit/models/baselines.py", "alternating_biases"),
        ("coursekit/models/blend.py", "blend_weights"),
    ],
    "15_scaling_up": [
        ("coursekit/models/fast_mf.py", "mf_gradients"),
        ("coursekit/models/rowwise.py", "rowwise_adagrad_update"),
        ("coursekit/models/fast_mf.py", "FastMatrixFactorizationNet"),
    ],
}

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


def test_an_edited_copy_is_caught():
    source = definition_source(ROOT / "coursekit/models/mf.py", "MatrixFactorizationNet")
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
                "code a cell of the chapter (and an entry of TAUGHT) instead.")


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
