"""Every term a learner needs is in the glossary, sorted, with the section that teaches it; and
no chapter uses a term before the course has taught it, unless the mention links forward (a
{term} role, or a link to the teaching section or its chapter in the same paragraph)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from test_notebooks import toc_files

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "book" / "glossary.md"
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
REQUIRED = ("RATING", "TOPN", "RETRIEVAL", "HR@10", "NDCG", "coverage", "novelty", "diversity",
            "EASE", "iALS", "BPR", "negative sampling", "two-tower model", "in-batch softmax",
            "logQ correction", "accidental hit", "causal mask", "ANN", "recall of an index",
            "factorization machine", "blend", "refit")
# names a learner meets in the prose for a glossary term, beside the term itself
ALIASES = {"two-tower model": ("two-tower",), "accidental hit": ("accidental hits",),
           "iALS": ("implicit ALS",), "negative sampling": ("sampled negatives",
                                                            "negatives are sampled"),
           "logQ correction": ("logQ",), "in-batch softmax": ("in-batch negatives",),
           "ANN": ("approximate nearest-neighbour", "approximate nearest neighbour"),
           "factorization machine": ("factorization machines",), "blend": ("blends",),
           "causal mask": ("causal self-attention",)}
CASE_SENSITIVE = re.compile(r"^[A-Z0-9@-]+$|^i[A-Z]+$")  # acronyms and protocol names


def glossary_entries() -> list[tuple[list[str], str]]:
    """(the terms of an entry, the label its "Taught in" line links to), in the page's order."""
    body = GLOSSARY.read_text().split("```{glossary}", 1)[1].split("```", 1)[0]
    entries = []
    for block in re.split(r"\n\s*\n", body.strip()):
        lines = block.splitlines()
        terms = [line.strip() for line in lines if line.strip() and not line.startswith(" ")]
        taught = re.search(r"Taught in\s+\{ref\}`([^`]+)`", block)
        entries.append((terms, taught.group(1) if taught else ""))
    return entries


def chapters() -> list[Path]:
    """The chapters in reading order (the toc's order)."""
    return [ROOT / f"{entry}.md" for entry in toc_files(TOC) if entry.startswith("notebooks/")]


def prose_paragraphs(text: str) -> list[str]:
    """A chapter's paragraphs of prose: code cells, math and inline code left out; the text of
    admonitions and hidden answers kept."""
    text = re.sub(r"^```\{code-cell\}.*?^```\s*$", "", text, flags=re.S | re.M)
    text = re.sub(r"^```\{math\}.*?^```\s*$|\$\$.*?\$\$", "", text, flags=re.S | re.M)
    text = re.sub(r"^(```|:::).*$", "", text, flags=re.M)  # admonition fences, not their text
    text = re.sub(r"\{[a-z]+\}`[^`]*`|`[^`\n]*`|\$[^$\n]+\$",  # roles kept; code, math out
                  lambda m: m.group(0) if m.group(0).startswith("{") else "", text)
    text = text.split("\n---\n", 2)[-1] if text.startswith("---") else text
    return [p for p in re.split(r"\n\s*\n", text) if p.strip()]


def mentions(term: str, paragraph: str) -> bool:
    flags = 0 if CASE_SENSITIVE.match(term) else re.IGNORECASE
    return re.search(rf"(?<![\w@-]){re.escape(term)}(?!\w)", paragraph, flags) is not None


def links_forward(paragraph: str, names: list[str], labels: set[str]) -> bool:
    roles = re.findall(r"\{term\}`(?:[^`<]*<)?([^`>]+)>?`", paragraph)
    if any(role.strip().lower() == name.lower() for role in roles for name in names):
        return True
    targets = set(re.findall(r"\{(?:ref|numref)\}`(?:[^`<]*<)?([^`>]+)>?`", paragraph))
    return bool(targets & labels)


def where_taught() -> dict[str, int]:
    """Each label of the chapters (section or chapter) -> the chapter's place in reading order."""
    return {label: k for k, chapter in enumerate(chapters())
            for label in re.findall(r"^\(([\w-]+)\)=$", chapter.read_text(), re.M)}


def early_mentions() -> list[str]:
    """Every mention of a glossary term in a chapter before the one that teaches it, with no
    link forward in its paragraph."""
    place, order = where_taught(), chapters()
    chapter_label = {k: re.search(r"^\((ch-[\w-]+)\)=$", c.read_text(), re.M).group(1)
                     for k, c in enumerate(order)}
    found = []
    for terms, label in glossary_entries():
        taught = place[label]
        names = terms + [a for term in terms for a in ALIASES.get(term, ())]
        for chapter in order[:taught]:
            for paragraph in prose_paragraphs(chapter.read_text()):
                used = [name for name in names if mentions(name, paragraph)]
                if used and not links_forward(paragraph, terms, {label, chapter_label[taught]}):
                    first = " ".join(paragraph.split())[:90]
                    found.append(f"{chapter.stem}: {used[0]!r} before {order[taught].stem} "
                                 f"teaches it: {first}...")
    return found


def test_the_glossary_holds_every_term_a_learner_needs_sorted():
    entries = glossary_entries()
    terms = [term for names, _ in entries for term in names]
    missing = [term for term in REQUIRED if term not in terms]
    assert not missing, f"the glossary lacks {missing}"
    firsts = [names[0].lower() for names, _ in entries]
    assert firsts == sorted(firsts), "the glossary's entries are not in alphabetical order"


def test_every_glossary_term_links_to_the_section_that_teaches_it():
    place = where_taught()
    for terms, label in glossary_entries():
        assert label, f"{terms[0]!r} has no 'Taught in {{ref}}`label`' line"
        assert label in place, f"{terms[0]!r} links to {label}, which no chapter defines"


def test_no_term_is_used_before_the_chapter_that_teaches_it():
    early = early_mentions()
    assert not early, ("terms used before they are taught (link forward with {term}`...` or a "
                       "link to the teaching section, or reword):\n" + "\n".join(early))


@pytest.mark.parametrize(("paragraph", "expected"), [
    ("EASE beats popularity here.", False),
    ("{term}`EASE` beats popularity here.", True),
    ("EASE, which {ref}`sec-ease` derives, beats popularity.", True),
])
def test_an_early_mention_is_caught_unless_it_links_forward(paragraph, expected):
    assert mentions("EASE", paragraph)
    assert links_forward(paragraph, ["EASE"], {"sec-ease"}) is expected
