"""What a reader of a chapter page must (and must not) see, checked in headless Chromium.

``page_problems`` opens one built page and returns a list of what is wrong with it; the tests
run it over every chapter of the real site, and over a planted broken page to show that each
check can fail.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

# Lines that TensorFlow, absl or Keras print to a console, and that must never reach a page.
LOG_NOISE = re.compile(
    r"^[IWEF]\d{4} \d\d:\d\d:\d\d|absl::|oneDNN custom operations|cuda drivers|"
    r"This TensorFlow binary is optimized|WARNING:tensorflow|WARNING:absl|"
    r"Traceback \(most recent call last\)|UserWarning:|DeprecationWarning:",
    re.MULTILINE,
)


def start_browser(width: int = 1280, height: int = 900):
    """A headless Chromium driven by Selenium, with the Debian binaries (no download)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        raise RuntimeError(
            f"{', '.join(missing)} not found: install Debian's chromium and chromium-driver "
            "packages (`make test` does this with apt-get when it can).")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-background-networking", "--disable-sync",
                 "--disable-component-update", f"--window-size={width},{height}",
                 "--allow-file-access-from-files"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    return driver


def open_page(driver, page: Path) -> None:
    driver.get(page.resolve().as_uri())
    driver.execute_script("return document.readyState")


def output_texts(driver) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('.cell_output')).map(e => e.innerText);")


def page_problems(driver, page: Path, repo: Path, expect_figures: int,
                  colab_prefix: str, title: str) -> list[str]:
    """Everything wrong with one chapter page, as sentences (an empty list: all good).

    ``expect_figures``: how many figures the chapter's code shows (``plt.show()`` calls);
    ``colab_prefix``: the start every Colab link must have (repository and branch);
    ``title``: the chapter's heading.
    """
    from selenium.webdriver.common.by import By

    problems: list[str] = []
    open_page(driver, page)
    headings = [h.text.strip().rstrip("#").strip() for h in driver.find_elements(By.TAG_NAME, "h1")]
    if title not in headings:
        problems.append(f"title {title!r} not among the page's headings {headings}")

    # outputs: figures and tables, and nothing a reader should not see
    figures = driver.find_elements(By.CSS_SELECTOR, ".cell_output img")
    tables = driver.find_elements(By.CSS_SELECTOR, ".cell_output table")
    if len(figures) < expect_figures:
        problems.append(f"{len(figures)} figure(s) in the outputs, the chapter shows "
                        f"{expect_figures}")
    if not figures and not tables:
        problems.append("no figure and no table in any output")
    for kind in ("stderr", "traceback", "error"):
        found = driver.find_elements(By.CSS_SELECTOR, f".cell_output .{kind}")
        if found:
            problems.append(f"{len(found)} {kind} output(s), e.g. {found[0].text[:200]!r}")
    for text in output_texts(driver):
        noise = LOG_NOISE.search(text)
        if noise:
            line = text[noise.start():].splitlines()[0]
            problems.append(f"log noise or a traceback in an output: {line[:200]!r}")

    # the Colab button opens the paired notebook of this chapter, which exists
    colab = [a.get_attribute("href") for a in driver.find_elements(By.TAG_NAME, "a")
             if "colab.research.google.com" in (a.get_attribute("href") or "")]
    expected = f"notebooks/{page.stem}.ipynb"
    if not colab:
        problems.append("no Colab button")
    for link in colab:
        if not link.startswith(colab_prefix):
            problems.append(f"Colab link {link} does not start with {colab_prefix}")
            continue
        target = link.removeprefix(colab_prefix)
        if target != expected:
            problems.append(f"Colab link opens {target}, not this chapter's {expected}")
        elif not (repo / target).exists():
            problems.append(f"Colab link opens {target}, which is not in the repository")

    # internal links and images resolve; images have loaded
    for a in driver.find_elements(By.TAG_NAME, "a"):
        problem = _broken_local_target(page, a.get_attribute("href"))
        if problem:
            problems.append(f"link {problem}")
    broken_images = driver.execute_script(
        "return Array.from(document.images).filter(i => i.src.startsWith('file:') && "
        "!(i.complete && i.naturalWidth > 0)).map(i => i.src);")
    problems.extend(f"image does not load: {src}" for src in broken_images)
    return problems


def _broken_local_target(page: Path, href: str | None) -> str | None:
    if not href or not href.startswith("file:"):
        return None
    url = urlparse(href)
    target = Path(unquote(url.path))
    if not target.exists():
        return f"{href} points at a missing file"
    if url.fragment and target.suffix == ".html":
        text = target.read_text("utf8", errors="replace")
        if f'id="{url.fragment}"' not in text:
            return f"{href} points at a missing anchor #{url.fragment}"
    return None


def save_screenshot(driver, page: Path, folder: Path, width: int = 1280) -> Path:
    """A screenshot of the open page: its first screen, or, with the environment variable
    ``COURSE_FULL_SCREENSHOTS=1``, its full length (up to 12,000 pixels; encoding those takes
    about a second a page, which ``make test`` spares)."""
    full = os.environ.get("COURSE_FULL_SCREENSHOTS") == "1"
    if full:
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(int(height) + 100, 12_000))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{page.stem}.png"
    driver.save_screenshot(str(path))
    if full:
        driver.set_window_size(width, 900)
    return path
