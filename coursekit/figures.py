"""Figures a chapter records as it runs, so that the quality tests check what the chapters
computed instead of training the same models again.

    from coursekit import figures
    figures.record("03_matrix_factorization", mf_rmse=0.905, svd_rmse=0.938)
    figures.record("05_autorec", **figures.verdict_figures("I-AutoRec vs MF", comparison))

Nothing is written unless the environment variable ``COURSEKIT_FIGURES`` names a folder (as
``make test`` does): in Colab and in the book build, ``record`` does nothing. Each chapter
writes its own JSON file there, atomically, so chapters run in parallel never collide.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from coursekit.io import atomic_write_text

if TYPE_CHECKING:
    from coursekit.evaluation.intervals import Comparison

FIGURES_ENV = "COURSEKIT_FIGURES"


def figures_dir() -> Path | None:
    """The folder figures are recorded in, or None when recording is off."""
    folder = os.environ.get(FIGURES_ENV)
    return Path(folder) if folder else None


def record(chapter: str, **values: float | bool) -> Path | None:
    """Add ``values`` to the figures of ``chapter`` (a chapter's file name without suffix)."""
    folder = figures_dir()
    if folder is None:
        return None
    path = folder / f"{chapter}.json"
    current = json.loads(path.read_text()) if path.exists() else {}
    current.update({name: (bool(v) if isinstance(v, bool) else float(v))
                    for name, v in values.items()})
    return atomic_write_text(path, json.dumps(current, indent=1, sort_keys=True) + "\n")


def verdict_figures(label: str, comparison: Comparison) -> dict[str, float | bool]:
    """A paired comparison as figures to record: its difference and interval, and whether the
    first model is ahead or behind beyond the noise (``{label} | ahead``, ``| behind``), so that
    a quality check asks for a verdict of this run instead of a fixed bar."""
    return {f"{label} | difference": comparison.difference, f"{label} | low": comparison.low,
            f"{label} | high": comparison.high,
            f"{label} | ahead": comparison.verdict == "ahead",
            f"{label} | behind": comparison.verdict == "behind"}


def load(chapter: str, folder: str | Path | None = None) -> dict[str, float | bool]:
    """The figures ``chapter`` recorded, or a clear error when it recorded none."""
    base = Path(folder) if folder is not None else figures_dir()
    if base is None:
        raise RuntimeError(f"{FIGURES_ENV} is not set: the chapters' figures are recorded by "
                           "`make test`, which runs the chapters first.")
    path = base / f"{chapter}.json"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: chapter {chapter} did not run to its end in this test run "
            "(or records nothing). Run `make test`, which executes every chapter first.")
    return json.loads(path.read_text())
