"""The built site as a reader meets it, in headless Chromium.

Runs on the site in ``_build/html`` (or ``$COURSE_SITE``), built from the chapters' executed
outputs: ``make test`` builds it right before these tests. A screenshot of every page is
saved to ``_build/screenshots``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .site_checks import open_page, page_problems, save_screenshot, start_browser

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("COURSE_SITE", ROOT / "_build" / "html"))
SCREENSHOTS = Path(os.environ.get("COURSE_SCREENSHOTS", ROOT / "_build" / "screenshots"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
CHAPTERS = sorted((ROOT / "notebooks").glob("*.md"))


def colab_prefix(config: dict) -> str:
    repo = config["repository"]["url"].removeprefix("https://github.com/").rstrip("/")
    return f"https://colab.research.google.com/github/{repo}/blob/{config['repository']['branch']}/"


def chapter_title(source: Path) -> str:
    """The heading a reader sees: the chapter's number (its place in the reading order, which
    its file name carries), then its title."""
    title = next(line[2:].strip() for line in source.read_text().splitlines()
                 if line.startswith("# "))
    return f"{int(source.stem[:2])}. {title}"


def figures_shown(source: Path) -> int:
    """Figures a chapter shows for sure: its top-level ``plt.show()`` calls (an indented one
    may depend on the reader, as the assignment's map shows only when it is right)."""
    return len(re.findall(r"^plt\.show\(\)", source.read_text(), re.MULTILINE))


@pytest.fixture(scope="module")
def browser():
    if not (SITE / "index.html").exists():
        pytest.fail(f"No built site in {SITE}: run `make test` (it builds the site before "
                    "these tests) or `make book`.")
    driver = start_browser()
    yield driver
    driver.quit()


@pytest.mark.parametrize("source", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_chapter_page_shows_what_a_reader_expects(browser, source: Path):
    page = SITE / "notebooks" / f"{source.stem}.html"
    assert page.exists(), f"{page} was not built"
    problems = page_problems(browser, page, ROOT, figures_shown(source), colab_prefix(CONFIG),
                             chapter_title(source))
    save_screenshot(browser, page, SCREENSHOTS)
    assert not problems, f"{page.name}:\n- " + "\n- ".join(problems)


@pytest.mark.parametrize("name", ["intro", "setup", "glossary", "references"])
def test_book_pages_load_and_links_resolve(browser, name: str):
    from selenium.webdriver.common.by import By

    from .site_checks import _broken_local_target

    page = SITE / "book" / f"{name}.html"
    open_page(browser, page)
    assert browser.find_elements(By.TAG_NAME, "h1"), f"{page.name} has no heading"
    broken = [p for a in browser.find_elements(By.TAG_NAME, "a")
              if (p := _broken_local_target(page, a.get_attribute("href")))]
    assert not broken, broken
    save_screenshot(browser, page, SCREENSHOTS)


def test_every_chapter_page_has_download_buttons_for_ipynb_and_md():
    for source in CHAPTERS:
        html = (SITE / "notebooks" / f"{source.stem}.html").read_text()
        for suffix in (".ipynb", ".md"):
            assert f"_sources/notebooks/{source.stem}{suffix}" in html, (source.stem, suffix)


def test_site_search_finds_a_model_name(browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get((SITE / "search.html").resolve().as_uri() + "?q=AutoRec")
    WebDriverWait(browser, 30).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#search-results ul li a")))
    links = [a.get_attribute("href") for a in
             browser.find_elements(By.CSS_SELECTOR, "#search-results ul li a")]
    assert any("05_autorec" in link for link in links), links


# --- the checks can fail: a planted page with an error output and a broken Colab link ------

PLANTED = """---
jupytext:
  text_representation:
    format_name: myst
kernelspec:
  name: python3
  display_name: Python 3
---

# A planted chapter

```{code-cell} ipython3
:tags: [raises-exception]
raise RuntimeError("planted failure")
```
"""


@pytest.fixture(scope="module")
def planted_site(tmp_path_factory) -> Path:
    book = tmp_path_factory.mktemp("planted")
    (book / "notebooks").mkdir()
    (book / "notebooks" / "99_planted.md").write_text(PLANTED)  # no paired .ipynb
    (book / "intro.md").write_text("# Intro\n")
    (book / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n- file: notebooks/99_planted\n")
    config = {key: CONFIG[key] for key in ("title", "repository", "launch_buttons", "html")
              if key in CONFIG}
    config["execute"] = {"execute_notebooks": "force"}
    (book / "_config.yml").write_text(yaml.safe_dump(config))
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run([str(jupyter_book), "build", str(book), "--builder", "html"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return book


def test_a_page_with_an_error_output_and_a_broken_colab_link_fails(browser, planted_site):
    page = planted_site / "_build" / "html" / "notebooks" / "99_planted.html"
    problems = page_problems(browser, page, planted_site, 0, colab_prefix(CONFIG),
                             "A planted chapter")
    text = "\n".join(problems)
    assert "traceback output" in text or "log noise or a traceback" in text, text
    assert "Colab link" in text, text  # it opens a notebook the repository does not have
