"""The chapters' form: paired for Colab, set up for Colab, listed in the toc, and shaped
like a chapter of this course."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book"))

from colab_notebooks import colab_markdown, pages, rewrite_markdown  # noqa: E402

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
    expected = cells(rewrite_markdown(jupytext.read(source), source))
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
        # the assignments' student notebooks are .ipynb files, built from their sources
        wanted = ".ipynb" if entry.startswith("assignments/") else ".md"
        assert any(m.suffix == wanted for m in matches), f"{entry} in _toc.yml has no {wanted} file"


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


# --- Reading order and cross-references ----------------------------------------------------
# the pages of the site, with the assignments' sources (their student notebooks are built from them)
PAGES = pages()
LABEL = re.compile(r"^\(([A-Za-z0-9_-]+)\)=\s*$", re.MULTILINE)
TYPED_CHAPTER = re.compile(r"\b[Cc]hapters?\s+\d+\b")
REFERENCE = re.compile(r"\{(numref|ref)\}`([^`]*)`")
DOC = re.compile(r"\{doc\}`(?:[^`<]*<)?([^`>]+)>?`")


def typed_chapter_numbers(text: str) -> list[str]:
    """Every "chapter N" typed by hand: in prose, code and outputs alike, a number that a
    change of order leaves pointing at the wrong page ({numref} roles are the way to write one)."""
    return [m.group(0) for m in TYPED_CHAPTER.finditer(REFERENCE.sub("", text))]


def test_chapter_numbers_follow_the_reading_order():
    chapters = [Path(entry).name for entry in toc_files(TOC) if entry.startswith("notebooks/")]
    assert [name[:2] for name in chapters] == [f"{n:02d}" for n in range(1, len(chapters) + 1)], (
        f"the chapters' file numbers must follow _toc.yml's order: {chapters}")
    numbered = [part for part in TOC["parts"]
                if any(c["file"].startswith("notebooks/") for c in part["chapters"])]
    assert all(part.get("numbered") for part in numbered), "every part of chapters is numbered"


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_each_chapter_has_its_label_above_its_title(source: Path):
    expected = "ch-" + source.stem[3:].replace("_", "-")
    assert re.search(rf"^\({expected}\)=\n# ", source.read_text(), re.MULTILINE), (
        f"{source.name} needs the line ({expected})= right above its title")


@pytest.mark.parametrize("source", PAGES, ids=lambda p: p.stem)
def test_no_chapter_number_is_typed_by_hand(source: Path):
    typed = typed_chapter_numbers(source.read_text())
    assert not typed, (f"{source.name} types {typed}: write {{numref}}`chapter %s <ch-...>` so "
                       "that the build numbers the link")


def test_every_cross_reference_has_a_target():
    labels = {label for page in PAGES for label in LABEL.findall(page.read_text())}
    for page in PAGES:
        text = page.read_text()
        for role, body in REFERENCE.findall(text):
            target = body.rsplit("<", 1)[-1].rstrip(">").strip()
            assert target in labels, f"{page.name}: {{{role}}}`{body}` names no label"
        for target in DOC.findall(text):
            path = (page.parent / target).resolve() if not target.startswith("/") else (
                ROOT / target.lstrip("/"))
            assert path.with_suffix(".md").exists() or path.with_suffix(".ipynb").exists(), (
                f"{page.name}: {{doc}}`{target}` is missing")


def test_the_typed_reference_check_can_fail():
    assert typed_chapter_numbers("as chapter 3 showed, and Chapters 5 and 6") == [
        "chapter 3", "Chapters 5"]
    assert typed_chapter_numbers("as {numref}`chapter %s <ch-autorec>` showed") == []
    assert typed_chapter_numbers("against chapter\n3's model") == ["chapter\n3"]


# What a chapter's code needs that Colab does not preinstall, and the pip name that installs it:
# a module imported directly, or a coursekit name that imports it when used.
NOT_IN_COLAB = {
    "scikit-surprise": (r"^\s*(import|from) surprise\b", r"\bSurpriseRecommender\b"),
    "tensorflow-recommenders": (r"^\s*import tensorflow_recommenders\b",
                                r"coursekit\.models\.retrieval\.tfrs\b"),
    "keras-rs": (r"^\s*import keras_rs\b", r"\bTwoTowerRetrieval\b"),
    "faiss-cpu": (r"^\s*import faiss\b",),
    "myfm": (r"^\s*(import|from) myfm\b", r"\bBayesianFM\b"),
}


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_first_code_cell_installs_what_colab_lacks(source: Path):
    """A chapter that imports a package Colab does not ship installs it in its first cell, or
    it stops with an ImportError in Colab."""
    cells = [c.source for c in jupytext.read(source).cells if c.cell_type == "code"]
    first, code = cells[0], "\n".join(cells[1:])
    needed = [package for package, patterns in NOT_IN_COLAB.items()
              if any(re.search(p, code, re.MULTILINE) for p in patterns)]
    missing = [package for package in needed if package not in first]
    assert not missing, f"{source.stem} uses {missing} but its first cell does not install them"


# --- The notebooks as Colab shows them --------------------------------------------------------
MYST_LEFT = re.compile(r"\{(?:numref|ref|doc|term|cite)\}`|^\([A-Za-z0-9_-]+\)=\s*$", re.M)
STUDENT_NOTEBOOKS = sorted((ROOT / "assignments").glob("*/[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("notebook", [c.with_suffix(".ipynb") for c in CHAPTERS]
                         + STUDENT_NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_shows_colab_no_myst_role_or_label(notebook: Path):
    markdown = "\n".join(c.source for c in nbformat.read(notebook, as_version=4).cells
                         if c.cell_type == "markdown")
    left = MYST_LEFT.findall(markdown)
    assert not left, f"{notebook.name} shows raw MyST in Colab: {left[:5]} (run make sync)"


def test_references_become_colab_links_terms_words_and_citations_authors():
    page = ROOT / "notebooks" / "09_implicit_feedback.md"
    text = ("(sec-x)=\n## A section\n\nAs {numref}`chapter %s <ch-autorec>` and "
            "{ref}`the protocols <sec-protocols>` show, a {term}`hit rate <HR@10>` and a "
            "{term}`blend` {cite}`koren2009matrix,he2017ncf`; {ref}`sec-bpr`; "
            "{numref}`Chapters %s <ch-matrix-factorization>` to {numref}`%s <ch-autorec>`.")
    colab = "https://colab.research.google.com/github/dl-recsys-course/recsys-tensorflow/blob/main"
    assert colab_markdown(text, page) == (
        "## A section\n\n"
        f"As [chapter 5]({colab}/notebooks/05_autorec.ipynb) and "
        f"[the protocols]({colab}/notebooks/01_movielens_data.ipynb) show, a hit rate and a "
        "blend (Koren et al., 2009; He et al., 2017); Two losses: pointwise and pairwise; "
        f"[Chapters 3]({colab}/notebooks/03_matrix_factorization.ipynb) to "
        f"[5]({colab}/notebooks/05_autorec.ipynb).")
    with pytest.raises(KeyError):
        colab_markdown("{ref}`no-such-label`", page)
