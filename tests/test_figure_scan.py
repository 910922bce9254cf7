"""The figure scan (tests/figure_scan.py) catches a figure typed into a chapter's prose and
lets through the figures the chapter prints, the settings its code uses, cited figures and
numbers that are not figures. The scan of every chapter against its own outputs runs in
tests/quality, after the chapters have run."""

from __future__ import annotations

from pathlib import Path

from figure_scan import hand_typed_figures

CHAPTER = Path(__file__).resolve().parents[1] / "notebooks" / "03_matrix_factorization.md"
PLANTED = "Matrix factorization reaches an RMSE of 0.8123 on this split."


def _planted(source: str, sentence: str) -> str:
    marker = "\n## "  # before the chapter's second section
    at = source.index(marker, source.index(marker) + 1)
    return source[:at] + "\n" + sentence + "\n" + source[at:]


def test_a_planted_figure_in_a_real_chapter_is_caught():
    source = CHAPTER.read_text("utf8")
    before = hand_typed_figures(source, outputs="")
    after = hand_typed_figures(_planted(source, PLANTED), outputs="")
    new = [found for found in after if found not in before]
    assert len(new) == 1 and new[0].startswith("'0.8123' in: Matrix factorization reaches")


def test_a_figure_the_chapter_prints_is_not_hand_typed():
    source = _planted(CHAPTER.read_text("utf8"), PLANTED)
    outputs = "test RMSE 0.8123\n"
    assert not [f for f in hand_typed_figures(source, outputs) if "0.8123" in f]
    # the figure must be printed as written: 0.81234 does not stand for 0.8123
    assert [f for f in hand_typed_figures(source, "test RMSE 0.81234") if "0.8123" in f]


def test_what_is_not_a_hand_typed_figure():
    text = "\n\n".join([
        "Batches of 1,024 ratings.",  # a setting of the code below
        "```{code-cell} ipython3\nmodel = Model(batch_size=1_024)\n```",
        "Koren et al. report 0.8563 on Netflix {cite}`koren2009matrix`.",  # cited
        "Set `l2` to `0.35`, or see $\\lambda = 0.02$ and $$\\mu = 3.53$$.",  # code, math
        "Rendle et al. (2009) and the 2015 paper; chapter 3, 4 epochs.",  # years, small ints
        "MovieLens-100K has 100,000 ratings.",  # allowed everywhere, with its reason
    ])
    assert hand_typed_figures(text, outputs="") == []


def test_figures_that_are_caught():
    text = "The mean is about 3.5 and 94% of cells are empty; 1,586,126 cells in all."
    found = hand_typed_figures(text, outputs="")
    assert [f.split(" in:")[0] for f in found] == ["'3.5'", "'94%'", "'1,586,126'"]
    # a percentage printed as such accounts for the prose's
    assert hand_typed_figures("94% of cells are empty.", outputs="fill 94%") == []
