"""The site's structure builds with warnings as errors, and a failing chapter fails a build."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")


def build(source: Path, config: Path, output: Path) -> subprocess.CompletedProcess[str]:
    command = [str(JUPYTER_BOOK), "build", str(source), "--config", str(config),
               "--path-output", str(output), "--builder", "html", "-n", "-W", "--keep-going"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)


@pytest.mark.slow
def test_site_structure_builds_without_warnings(tmp_path: Path):
    """Every page, link and toc entry, without executing the chapters again (nbval does)."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "off"
    patched = tmp_path / "_config.yml"
    patched.write_text(yaml.safe_dump(config))
    result = build(ROOT, patched, tmp_path / "site")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    html = tmp_path / "site" / "_build" / "html"
    repo = config["repository"]["url"].removeprefix("https://github.com/").rstrip("/")
    branch = config["repository"]["branch"]
    for chapter in (ROOT / "notebooks").glob("*.md"):
        page = html / "notebooks" / (chapter.stem + ".html")
        assert page.exists()
        colab = (f"https://colab.research.google.com/github/{repo}/blob/{branch}/"
                 f"notebooks/{chapter.stem}.ipynb")
        assert colab in page.read_text(), f"{page.name} lacks its Colab button"
    assert not (html / "notebooks" / "01_movielens_data.ipynb.html").exists()


@pytest.mark.slow
def test_a_chapter_whose_cell_raises_fails_the_build(tmp_path: Path):
    book = tmp_path / "book"
    book.mkdir()
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n- file: broken\n")
    (book / "intro.md").write_text("# Intro\n")
    (book / "broken.md").write_text(
        "---\njupytext:\n  text_representation:\n    format_name: myst\n"
        "kernelspec:\n  name: python3\n  display_name: Python 3\n---\n\n# Broken\n\n"
        "```{code-cell} ipython3\nraise RuntimeError('planted failure')\n```\n"
    )
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["exclude_patterns"] = ["_build"]
    config["execute"]["execute_notebooks"] = "force"
    config["execute"].pop("cache", None)
    (book / "_config.yml").write_text(yaml.safe_dump(config))
    result = build(book, book / "_config.yml", tmp_path / "out")
    assert result.returncode != 0
    assert "planted failure" in result.stdout + result.stderr
