"""A chapter whose cell raises fails the build. (`make test` builds the real site with warnings
as errors from the chapters' executed outputs; tests/browser checks its pages.)"""

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
