"""The notebooks as Colab shows them: the chapters' ``notebooks/*.ipynb`` and the students'
assignment notebooks, whose Markdown is the site's MyST with its roles written out.

Colab renders plain Markdown: a MyST role (``{numref}``, ``{ref}``, ``{doc}``, ``{term}``,
``{cite}``) or a label line (``(name)=``) would show as raw text there. In the notebooks, a
reference to a chapter or an assignment becomes a link that opens its notebook in Colab, a
reference to another page of the site (setup, glossary) a link to its source on GitHub, a term
its words, and a citation the authors and year. The ``.md`` sources keep the roles, which the
site resolves. ``make sync`` applies this after jupytext writes the chapters' notebooks;
``build_assignments.py`` applies it to the students' notebooks.

    python book/colab_notebooks.py          # rewrite the Markdown of notebooks/*.ipynb
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
LABEL_LINE = re.compile(r"^\(([A-Za-z0-9_-]+)\)=[ \t]*\n", re.MULTILINE)
ROLE = re.compile(r"\{(numref|ref|doc|term|cite)\}`([^`]*)`")
HEADING = re.compile(r"^#+\s+(.+?)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Target:
    """Where a label or a page points in a notebook, and its title."""

    url: str
    title: str
    number: int | None = None  # a chapter's number


def _repository() -> tuple[str, str]:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]
    return repo["url"].rstrip("/").removeprefix("https://github.com/"), repo.get("branch", "main")


def _url(source: Path) -> str:
    """A chapter's or an assignment's notebook opened in Colab; any other page on GitHub."""
    repo, branch = _repository()
    relative = source.relative_to(ROOT)
    if relative.parts[0] == "notebooks":
        return (f"https://colab.research.google.com/github/{repo}/blob/{branch}/"
                f"{relative.with_suffix('.ipynb')}")
    if relative.parts[0] == "instructors":  # an assignment's source: the students' notebook
        name = relative.stem
        return (f"https://colab.research.google.com/github/{repo}/blob/{branch}/"
                f"assignments/{name}/{name}.ipynb")
    return f"https://github.com/{repo}/blob/{branch}/{relative}"


def pages() -> list[Path]:
    """The site's pages: the chapters, the other pages of the book, the assignments' sources."""
    return (sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md"))
            + sorted((ROOT / "book").glob("*.md"))
            + sorted((ROOT / "instructors" / "assignments").glob("[0-9][0-9]_*.md")))


@cache
def targets() -> tuple[dict[str, Target], dict[str, Target]]:
    """({label: target}, {page path without suffix, from the root: target}) of every page."""
    labels: dict[str, Target] = {}
    by_page: dict[str, Target] = {}
    for page in pages():
        text = page.read_text()
        url = _url(page)
        first = HEADING.search(text)
        number = int(page.name[:2]) if page.parent.name == "notebooks" else None
        by_page[str(page.relative_to(ROOT).with_suffix(""))] = Target(
            url, first.group(1) if first else page.stem, number)
        for match in LABEL_LINE.finditer(text):
            heading = HEADING.search(text, match.end())
            above_title = heading is not None and heading.start() == first.start()
            labels[match.group(1)] = Target(url, heading.group(1) if heading else match.group(1),
                                            number if above_title else None)
    return labels, by_page


@cache
def _citations() -> dict[str, str]:
    """{key: "Author et al., year"} from the book's bibliography."""
    found = {}
    text = (ROOT / "book" / "references.bib").read_text()
    for key, body in re.findall(r"@\w+\{([^,]+),(.*?)\n\}", text, flags=re.S):
        author = re.search(r"author\s*=\s*\{(.*?)\},?\s*\n", body, flags=re.S)
        year = re.search(r"year\s*=\s*\{?(\d{4})", body)
        names = [re.sub(r"[{}\\'`^\"~]", "", name).strip()
                 for name in (author.group(1) if author else key).split(" and ")]
        last = [name.split(",")[0] if "," in name else name.split()[-1] for name in names]
        who = (last[0] if len(last) == 1 else f"{last[0]} and {last[1]}" if len(last) == 2
               else f"{last[0]} et al.")
        found[key.strip()] = f"{who}, {year.group(1) if year else 'n.d.'}"
    return found


def _split(body: str) -> tuple[str | None, str]:
    """A role's body: (its own text or None, its target)."""
    match = re.fullmatch(r"(.*?)\s*<([^<>]+)>", body, flags=re.S)
    return (match.group(1), match.group(2).strip()) if match else (None, body.strip())


def _resolve_doc(target: str, page: Path) -> Target:
    path = (page.parent / target).resolve() if not target.startswith("/") else (
        ROOT / target.lstrip("/"))
    key = str(path.relative_to(ROOT).with_suffix("") if path.suffix else path.relative_to(ROOT))
    return targets()[1][key]


def _role(match: re.Match, page: Path) -> str:
    role, body = match.group(1), match.group(2)
    text, target = _split(body)
    if role == "cite":
        keys = [key.strip() for key in target.split(",")]
        return "(" + "; ".join(_citations()[key] for key in keys) + ")"
    if role == "term":
        return text if text is not None else target
    found = _resolve_doc(target, page) if role == "doc" else targets()[0][target]
    if role == "numref":
        if found.number is None:
            raise ValueError(f"{page.name}: {{numref}}`{body}` names no chapter")
        words = (text or "%s").replace("%s", str(found.number)).replace("{number}",
                                                                          str(found.number))
    else:
        words = text if text is not None else found.title
    if found.url == _url(page):  # this very notebook: its words, without a link
        return words
    return f"[{words}]({found.url})"


def colab_markdown(text: str, page: Path) -> str:
    """A Markdown cell of ``page`` (its MyST source) as Colab shows it."""
    text = LABEL_LINE.sub("", text)
    return ROLE.sub(lambda match: _role(match, page), text)


def rewrite_markdown(notebook: nbformat.NotebookNode, page: Path) -> nbformat.NotebookNode:
    """Every Markdown cell of ``notebook`` (built from ``page``) as Colab shows it."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = colab_markdown(cell.source, page)
    return notebook


def main() -> None:
    for page in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md")):
        path = page.with_suffix(".ipynb")
        notebook = rewrite_markdown(nbformat.read(path, as_version=4), page)
        nbformat.write(notebook, path)
    print("the chapters' notebooks carry no MyST roles", file=sys.stderr)


if __name__ == "__main__":
    main()
