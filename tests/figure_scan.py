"""Hand-typed figures in a chapter's prose.

A figure in the text of a chapter must be one of:

- printed by the chapter: it appears in the outputs of one of its cells (the numbers are
  compared as written, thousands separators aside, so "0.9050" needs an output "0.9050");
- a setting the chapter's code uses: it appears in one of its code cells (``batch_size=1024``
  lets the text say "batches of 1,024");
- a published figure, in a sentence that cites its source with ``{cite}``;
- one of the few figures listed in ``ALLOWED`` below, each with its chapter and its reason.

Figures are decimals ("0.91", "3.5"), percentages ("94%") and numbers of four or more digits
("1,682", "100000"); years (1900-2039) and the text of math, inline code, roles, links and
headings' anchors are not figures. Small integers ("4 epochs", "chapter 3") are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Figures that are not results: (chapter, or "*" for every chapter) -> figure -> reason.
ALLOWED: dict[str, dict[str, str]] = {
    "*": {"100,000": "MovieLens-100K's name: the dataset is 100,000 ratings by definition"},
    "15_scaling_up": {"100%": "the whole step: a share of it that can exceed the whole"},
    "16_leaderboard": {"30,000": "an exercise's imagined catalogue",
                       "150,000": "an exercise's imagined user base"},
}

FIGURE = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+\.\d+|\d{4,}|\d+(?=\s*%))(\s*%)?(?![\w])")
_STRIP = [
    re.compile(r"```\{code-cell\}.*?```", re.S),  # code cells: checked apart
    re.compile(r"```.*?```", re.S),  # other fenced blocks (directives' options, listings)
    re.compile(r"\$\$.*?\$\$", re.S),  # display math
    re.compile(r"(?<!\\)\$[^$\n]+\$"),  # inline math
    re.compile(r"\{[\w:-]+\}`[^`]*`"),  # roles: {cite}`...`, {glue:}`...`, {doc}`...`
    re.compile(r"``[^`]*``|`[^`]*`"),  # inline code
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"https?://\S+"),
    re.compile(r"<!--.*?-->", re.S),
]
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)  # jupytext's header
_CODE_CELL = re.compile(r"```\{code-cell\}[^\n]*\n(.*?)```", re.S)


def _normal(figure: str) -> str:
    return re.sub(r"[,_\s]", "", figure)


def _is_year(figure: str) -> bool:
    return figure.isdigit() and 1900 <= int(figure) < 2040


def prose(source: str) -> str:
    """A chapter's MyST text without its code cells, math, roles, inline code and links."""
    for pattern in _STRIP:
        source = pattern.sub(" ", source)
    return source


def code_of(source: str) -> str:
    return "\n".join(_CODE_CELL.findall(source))


def _sentences(text: str) -> Iterable[str]:
    return re.split(r"(?<=[.!?])\s+(?=[A-Z(])|\n\s*\n", text)


def hand_typed_figures(source: str, outputs: str, chapter: str = "") -> list[str]:
    """The figures of ``source``'s prose (chapter ``chapter``) that no output, code cell,
    citation or allowance accounts for, each with the sentence it stands in."""
    source = _FRONT_MATTER.sub("", source)
    source = re.sub(r"^\([\w-]+\)=\n", "", source, flags=re.M)  # chapters' and sections' labels
    code = code_of(source)
    # numbers as printed or written in code, a percentage by its number ("94%" -> "94")
    known = {_normal(m.group(0)) for m in re.finditer(r"\d[\d,_]*\.?\d*", outputs + code)}
    known |= {_normal(k).rstrip("%") for k in {**ALLOWED["*"], **ALLOWED.get(chapter, {})}}
    found = []
    # citations are stripped from the prose, so sentences are read from the source with
    # only the code cells removed, and each sentence's figures from its prose.
    for sentence in _sentences(_CODE_CELL.sub(" ", source)):
        cited = "{cite" in sentence
        for match in FIGURE.finditer(prose(sentence)):
            figure = match.group(1) + ("%" if match.group(2) else "")
            if _is_year(figure) or cited:
                continue
            if _normal(figure).rstrip("%") not in known:
                found.append(f"{figure!r} in: {' '.join(sentence.split())[:160]}")
    return found


def _output_text(output: dict) -> str:
    if "text" in output:
        return "".join(output["text"])
    data = output.get("data", {})
    return "\n".join("".join(data[kind]) for kind in ("text/plain", "text/html", "text/markdown")
                     if kind in data)


def executed_outputs(cache_folder, source_path) -> str | None:
    """The text of every output of the chapter ``source_path`` as last executed into the
    book's execution cache (``make test`` stores each chapter nbval ran), or None."""
    from jupyter_cache import get_cache

    cache = get_cache(cache_folder)
    records = [r for r in cache.list_cache_records() if r.uri == str(source_path)]
    if not records:
        return None
    latest = max(records, key=lambda r: r.created)
    notebook = cache.get_cache_bundle(latest.pk).nb
    return "\n".join(_output_text(output) for cell in notebook.cells
                     for output in cell.get("outputs", []))
