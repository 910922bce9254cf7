"""Every figure in a chapter's prose is printed by that chapter's outputs in this test run, is
a setting its code uses, or is cited (tests/figure_scan.py): a figure typed by hand, or one
whose output has changed since the text was written, fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
from figure_scan import executed_outputs, hand_typed_figures

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "_build" / ".jupyter_cache"
CHAPTERS = sorted((ROOT / "notebooks").glob("*.md"))


@pytest.mark.parametrize("source", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_figure_in_the_prose_comes_from_an_output(source: Path):
    outputs = executed_outputs(CACHE, source)
    assert outputs is not None, (
        f"{source.name} has no executed outputs in {CACHE}: `make test` runs every chapter "
        "first (a chapter with a failing cell stores none)")
    found = hand_typed_figures(source.read_text("utf8"), outputs, source.stem)
    assert not found, "figures typed by hand:\n" + "\n".join(found)
