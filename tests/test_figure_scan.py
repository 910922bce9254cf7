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


def test_what_is_not_a_hand_typed_figure(monkeypatch):
    import figure_scan

    monkeypatch.setitem(figure_scan.CITED, "koren2009matrix", {"0.8563"})
    text = "\n\n".join([
        "Batches of 1,024 ratings.",  # a setting of the code below
        "```{code-cell} ipython3\nmodel = Model(batch_size=1_024)\n```",
        "Koren et al. report 0.8563 on Netflix {cite}`koren2009matrix`.",  # cited, listed
        "Set `l2=0.35`, or see $\\lambda = 0.02$ and $$\\mu = 3.53$$.",  # code, math
        "Rendle et al. (2009) and the 2015 paper; chapter 3, 4 epochs.",  # years, small ints
        "MovieLens-100K has 100,000 ratings.",  # allowed everywhere, with its reason
    ])
    assert hand_typed_figures(text, outputs="") == []


def test_figures_that_are_caught():
    text = "The mean is about 3.5 and 94% of cells are empty; 1,586,126 cells in all."
    found = hand_typed_figures(text, outputs="")
    assert [f.split(" in:")[0] for f in found] == ["'3.5'", "'94%'", "'1,586,126'"]
    # a percentage printed as such accounts for the prose's
    assert hand_typed_figures("94% of cells are empty.", outputs="empty cells 94%") == []


def test_the_loopholes_of_the_old_scan_are_closed():
    outputs = "user + item biases  0.9410  0.7413\nmatrix factorization  0.9058\n"
    caught = {
        "inline code": "The answer is `0.8837` on the test part.",
        "three digits": "Its rank is 412 among the films.",
        "abbreviated": "It serves 11.6k queries a second.",
        "admonition": "```{note}\n:class: dropdown\nThe deep model reaches 0.8123.\n```",
        "cited but unlisted": "We reach 0.9051, as Koren did {cite}`koren2009matrix`.",
        "another output's figure": "Matrix factorization reaches 0.9410 here.",
    }
    for kind, text in caught.items():
        assert hand_typed_figures(text, outputs), f"{kind} passed the scan: {text}"
    # the same figures where they belong
    assert hand_typed_figures("The biases reach 0.9410 here.", outputs) == []
    assert hand_typed_figures("```{code-cell} ipython3\ntop_k = 412\n```\n\nRank 412.", "") == []


def test_a_published_figure_passes_only_under_its_source(monkeypatch):
    import figure_scan

    monkeypatch.setitem(figure_scan.CITED, "koren2009matrix", {"0.8563"})
    assert hand_typed_figures("Koren et al. report 0.8563 {cite}`koren2009matrix`.", "") == []
    assert hand_typed_figures("Others report 0.8563 {cite}`rendle2019difficulty`.", "")
