"""The chapters' form: paired for Colab, set up for Colab, listed in the toc, and shaped
like a chapter of this course."""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("*.md"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())


def toc_files(node: object) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("file", "root") and isinstance(value, str):
                found.append(value)
            else:
                found.extend(toc_files(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(toc_files(value))
    return found


def cells(notebook: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in notebook.cells]


def test_there_are_chapters():
    assert CHAPTERS, "no chapter sources in notebooks/"


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_paired_ipynb_matches_its_markdown_source(source: Path):
    paired = source.with_suffix(".ipynb")
    assert paired.exists(), f"{paired.name} is missing: run `make sync`"
    expected = cells(jupytext.read(source))
    actual = cells(nbformat.read(paired, as_version=4))
    assert actual == expected, f"{paired.name} has drifted from {source.name}: run `make sync`"


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_paired_ipynb_has_no_outputs(source: Path):
    notebook = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_first_code_cell_installs_coursekit_only_in_colab(source: Path):
    notebook = jupytext.read(source)
    first = next(c for c in notebook.cells if c.cell_type == "code").source
    assert 'if "google.colab" in sys.modules:' in first
    repo = CONFIG["repository"]["url"].rstrip("/")
    branch = CONFIG["repository"]["branch"]
    assert f"git+{repo}@{branch}" in first, "the install URL must match _config.yml"
    install_lines = [line for line in first.splitlines() if "pip install" in line]
    assert install_lines and all(line.startswith("    ") for line in install_lines)


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_is_in_the_toc(source: Path):
    assert source.relative_to(ROOT).with_suffix("").as_posix() in toc_files(TOC)


def test_every_toc_entry_exists():
    for entry in toc_files(TOC):
        matches = list(ROOT.glob(entry + ".*"))
        assert any(m.suffix == ".md" for m in matches), f"{entry} in _toc.yml has no .md file"


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_has_goals_summary_exercises_and_a_dataset_switch(source: Path):
    text = source.read_text()
    assert re.search(r"you will be able to", text, re.IGNORECASE)
    assert "\n## Summary" in text and "\n## Exercises" in text
    assert re.search(r"\*\*Run time:\*\*.*\*\*Data:\*\*", text)
    # ml-100k by default, or a scale of the synthetic ratings; a chapter that trains nothing
    # (the leaderboard) reads the benchmark suite's results instead
    switch = re.search(r'^(DATASET = "ml-100k"|SCALE = 0\.\d+ )', text, re.MULTILINE)
    assert switch or "leaderboard.load_results()" in text


def test_colab_button_is_configured_and_ipynb_excluded_from_the_site():
    assert CONFIG["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert "notebooks/*.ipynb" in CONFIG["exclude_patterns"]
    assert CONFIG["repository"]["url"].startswith("https://github.com/")
