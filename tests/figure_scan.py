"""Hand-typed figures in a chapter's prose.

A figure in the text of a chapter must be one of:

- printed by the chapter, beside what the sentence says it is: the figure appears, as
  written (thousands separators aside, so "0.9050" needs an output "0.9050"), on an output
  line that shares a word with the sentence ("MF reaches 0.9410" is not accounted for by an
  output line "user + item biases 0.9410");
- a setting the chapter's code uses: it appears in one of its code cells (``batch_size=1024``
  lets the text say "batches of 1,024");
- a published figure, in a sentence that cites its source with ``{cite}``, and listed in
  ``CITED`` under that source;
- one of the few figures listed in ``ALLOWED`` below, each with its chapter and its reason.

Figures are decimals ("0.91", "3.5"), percentages ("94%"), numbers of four or more digits
("1,682", "100000"), three-digit numbers that are not round ("412", but not "128", "256" or
"300", which are settings or round counts) and abbreviated ones ("11.6k", "20M"), in the prose,
in admonitions and in inline code that holds a figure at a result's precision (`` `0.8837` ``,
where `` `0.3` `` or `` `4096` `` is a setting to try); years (1900-2039) and the text of math,
other inline code, roles, links and headings' anchors are not figures. Small integers
("4 epochs", "chapter 3") are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Figures that are not results: (chapter, or "*" for every chapter) -> figure -> reason.
ALLOWED: dict[str, dict[str, str]] = {
    "*": {"100,000": "MovieLens-100K's name: the dataset is 100,000 ratings by definition",
          "100K": "the name of MovieLens-100K", "1M": "the name of MovieLens-1M",
          "20M": "the name of MovieLens-20M", "25M": "the name of MovieLens-25M"},
    "12_retrieval_keras3": {"206": "the number of a keras-rs pull request, in its link"},
    "14_scaling_up": {"100%": "the whole step: a share of it that can exceed the whole",
                      "5M": "the benchmark suite's middle scale, by its name"},
    "15_leaderboard": {"30,000": "an exercise's imagined catalogue",
                       "150,000": "an exercise's imagined user base",
                       "5M": "the benchmark suite's middle scale, by its name"},
}

# Published figures: the bibliography key of the source -> the figures the chapters quote
# from it. A cited sentence's figures must be listed under one of the keys it cites.
CITED: dict[str, set[str]] = {
    "he2017ncf": {"0.6", "0.7"},  # HR@10 on MovieLens-1M, among 100 sampled films
    "hug2020surprise": {"0.934"},  # SVD's RMSE on ml-100k, 5-fold cross-validation
    "kuchaiev2017deep": {"480,000", "17,770", "0.8"},  # Netflix's size; the chosen dropout
    "sedhain2015autorec": {"0.831", "0.782", "10M"},  # I-AutoRec on ML-1M and ML-10M
    "tfrs2020basic": {"0.23"},  # the basic retrieval tutorial's top-100 accuracy
}

FIGURE = re.compile(
    r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+\.\d+[kM]?|\d+[kKM](?![\w-])|\d{3,}|\d+(?=\s*%))"
    r"(\s*%)?(?![\w])")
_PROSE_DIRECTIVE = re.compile(  # admonitions: their text is prose, their options are not
    r"(```+|:::+)\{(?:note|tip|hint|important|warning|caution|attention|danger|error|seealso|"
    r"admonition|dropdown)\}[^\n]*\n((?::[^\n]*\n)*)(.*?)\1", re.S)
_RESULT_IN_CODE = re.compile(r"(?<!`)`\s*(-?\d*\.\d{3,}%?)\s*`(?!`)")  # `0.8837`
_STRIP = [
    re.compile(r"```\{code-cell\}.*?```", re.S),  # code cells: checked apart
    re.compile(r"```.*?```", re.S),  # other fenced blocks (directives' options, listings)
    re.compile(r"\$\$.*?\$\$", re.S),  # display math
    re.compile(r"(?<!\\)\$[^$\n]+\$"),  # inline math
    re.compile(r"\{[\w:-]+\}`[^`]*`"),  # roles: {cite}`...`, {glue:}`...`, {doc}`...`
    re.compile(r"``[^`]*``|`[^`]*`"),  # inline code that is code
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"https?://\S+"),
    re.compile(r"<!--.*?-->", re.S),
]
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)  # jupytext's header
_CODE_CELL = re.compile(r"```\{code-cell\}[^\n]*\n(.*?)```", re.S)
_CITE = re.compile(r"\{cite(?::\w+)?\}`([^`]*)`")
# words too common to tie a sentence to an output line
_COMMON = set("""about above after again against also among another around because before
behind being below between both each every from have here into itself less more most much
only other over same some such than that their them then there these they this those through
under very what when where which while with within without would your model part""".split())


def _normal(figure: str) -> str:
    return re.sub(r"[,_\s]", "", figure)


def _is_year(figure: str) -> bool:
    return figure.isdigit() and 1900 <= int(figure) < 2040


def _words(text: str) -> set[str]:
    """The telling words of a text, by their first five letters ("ratings", "rating" and
    "rated" are not all one, but "training" and "train" are)."""
    return {w[:5] for w in re.findall(r"[a-z]{4,}", text.lower()) if w not in _COMMON}


def _is_round(figure: str) -> bool:
    """A three-digit whole number that reads as a setting or a round count: a multiple of 50
    or a power of two (128, 256, 512)."""
    n = int(figure)
    return n % 50 == 0 or n & (n - 1) == 0


def _unfence_admonitions(source: str) -> str:
    return _PROSE_DIRECTIVE.sub(lambda m: "\n" + m.group(3) + "\n", source)


def prose(source: str) -> str:
    """A chapter's MyST text without its code cells, math, roles, code and links; the text
    of admonitions and numbers written as inline code are kept."""
    source = _RESULT_IN_CODE.sub(r" \1 ", _unfence_admonitions(source))
    for pattern in _STRIP:
        source = pattern.sub(" ", source)
    return source


def code_of(source: str) -> str:
    return "\n".join(_CODE_CELL.findall(source))


def _sentences(text: str) -> Iterable[str]:
    return re.split(r"(?<=[.!?])\s+(?=[A-Z(])|\n\s*\n", text)


def _numbers(text: str) -> set[str]:
    return {_normal(m.group(0)).rstrip(".") for m in re.finditer(r"\d[\d,_]*\.?\d*[kKM]?", text)}


def _output_lines(outputs: str) -> dict[str, list[set[str]]]:
    """Each number printed, with the words of every output line that prints it."""
    lines: dict[str, list[set[str]]] = {}
    for line in outputs.splitlines():
        words = _words(line)
        for number in _numbers(line):
            lines.setdefault(number, []).append(words)
    return lines


def hand_typed_figures(source: str, outputs: str, chapter: str = "") -> list[str]:
    """The figures of ``source``'s prose (chapter ``chapter``) that no output line beside
    the sentence's words, code cell, listed citation or allowance accounts for, each with
    the sentence it stands in."""
    source = _FRONT_MATTER.sub("", source)
    source = re.sub(r"^\([\w-]+\)=\n", "", source, flags=re.M)  # chapters' and sections' labels
    settings = _numbers(code_of(source))  # numbers written in code
    printed = _output_lines(outputs)
    allowed = {_normal(k).rstrip("%") for k in {**ALLOWED["*"], **ALLOWED.get(chapter, {})}}
    found = []
    # citations are stripped from the prose, so sentences are read from the source with
    # only the code cells removed, and each sentence's figures from its prose.
    for sentence in _sentences(_unfence_admonitions(_CODE_CELL.sub(" ", source))):
        sources = {key.strip() for keys in _CITE.findall(sentence) for key in keys.split(",")}
        published = {_normal(f) for key in sources for f in CITED.get(key, ())}
        text = prose(sentence)
        words = _words(text)
        for match in FIGURE.finditer(text):
            figure = match.group(1) + ("%" if match.group(2) else "")
            number = _normal(figure).rstrip("%")
            if _is_year(figure) or number in allowed or number in settings:
                continue
            if re.fullmatch(r"\d{3}", figure) and _is_round(figure):
                continue
            if sources:
                if _normal(figure) not in published and number not in published:
                    found.append(f"{figure!r} (cited, but not listed in CITED under "
                                 f"{sorted(sources)}) in: {' '.join(sentence.split())[:160]}")
                continue
            lines = printed.get(number)
            if lines is None:
                found.append(f"{figure!r} in: {' '.join(sentence.split())[:160]}")
            elif not any(line & words for line in lines):
                found.append(f"{figure!r} (printed, but on no output line sharing a word with "
                             f"the sentence) in: {' '.join(sentence.split())[:160]}")
    return found


def _output_text(output: dict) -> str:
    if "text" in output:
        return "".join(output["text"])
    data = output.get("data", {})
    return "\n".join("".join(data[kind]) for kind in ("text/plain", "text/markdown")
                     if kind in data)


def executed_outputs(cache_folder, source_path) -> str | None:
    """The text of every output of the chapter ``source_path`` as executed into the book's
    execution cache by this test run (``make test`` empties the cache first and stores each
    chapter nbval ran), or None when the chapter has no record."""
    from jupyter_cache import get_cache

    cache = get_cache(cache_folder)
    records = [r for r in cache.list_cache_records() if r.uri == str(source_path)]
    if not records:
        return None
    if len(records) > 1:
        raise RuntimeError(f"{len(records)} executed records of {source_path} in {cache_folder}:"
                           " the scan would not know which run it reads; run `make test`, "
                           "which empties the cache before the chapters run")
    notebook = cache.get_cache_bundle(records[0].pk).nb
    return "\n".join(_output_text(output) for cell in notebook.cells
                     for output in cell.get("outputs", []))
