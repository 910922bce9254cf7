"""A pytest plugin (`-p chapter_cache`): each chapter executes once per test run, and the site
is built from that execution.

nbval runs every cell of ``notebooks/*.ipynb``. When all cells of a chapter pass, the outputs
it collected are stored in the book's execution cache (``_build/.jupyter_cache``) under the
chapter's ``.md`` source, exactly as ``jupyter-book build`` would have stored them; the build
that follows (``make test``, ``make book``) then renders those outputs instead of running the
chapter a second time. A chapter with a failing cell is not stored.
"""

from __future__ import annotations

import fcntl
import shutil
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
CACHE = ROOT / "_build" / ".jupyter_cache"

_cells: dict[Path, list] = {}  # notebook -> its nbval cell items, in order
_failed: set[Path] = set()


# Seconds each test file takes on one test worker (measured in `make test`; a
# chapter not listed counts as two minutes, a unit-test file not listed as five seconds). The
# workers take the longest files first and the short ones fill in around them, so that no
# worker is left running a long chapter alone at the end. xdist's own reordering (by number of
# tests in a file) would undo this order: `make test` passes --no-loadscope-reorder.
FILE_SECONDS = {
    "test_assignments.py": 280,  # grades three submissions of each of six assignments
    "07_side_information.ipynb": 210, "05_autorec.ipynb": 150, "12_retrieval_keras3.ipynb": 130,
    "10_sequence_aware.ipynb": 200, "04_neural_collaborative_filtering.ipynb": 116,
    "09_implicit_feedback.ipynb": 105, "14_scaling_up.ipynb": 78,
    "11_retrieval_ranking_tfrs.ipynb": 75, "13_serving_at_scale.ipynb": 67,
    "test_contract_keras.py": 52, "08_evaluating_top_n.ipynb": 50, "test_fm.py": 40,
    "06_deep_autoencoder.ipynb": 40, "03_matrix_factorization.ipynb": 40, "test_tfrs.py": 25,
    "test_contract.py": 22, "test_autoencoders.py": 18,
    "15_leaderboard.ipynb": 12, "test_models.py": 10, "test_sequential.py": 9,
    "02_baselines_cold_start.ipynb": 8, "01_movielens_data.ipynb": 7, "test_rerank.py": 6,
}


def _order(item: pytest.Item) -> float:
    name = Path(str(item.fspath)).name
    default = 120.0 if type(item).__name__ == "IPyNbCell" else 5.0
    return -FILE_SECONDS.get(name, default)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_order)  # stable: the tests of a file stay in their order
    for item in items:
        if type(item).__name__ == "IPyNbCell":
            _cells.setdefault(Path(str(item.fspath)), []).append(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    path = Path(str(item.fspath))
    if path not in _cells:
        return report
    if report.failed:
        _failed.add(path)
    if call.when == "teardown" and item is _cells[path][-1] and path not in _failed:
        try:
            store_executed_chapter(path, _cells[path])
        except Exception as error:  # the build then runs the chapter itself: slower, not wrong
            warnings.warn(f"{path.name}: outputs not stored in the book's cache: {error!r}",
                          stacklevel=1)
    return report


def store_executed_chapter(notebook: Path, cells: list) -> None:
    """Put the executed outputs of a chapter into the book's execution cache."""
    source = notebook.with_suffix(".md")
    if not source.exists() or any(cell.test_outputs is None for cell in cells):
        return
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn
    from myst_nb.core.read import read_myst_markdown_notebook

    # read as jupyter-book reads it, so that the cache's hash of the code cells matches
    nb = read_myst_markdown_notebook(source.read_text("utf8"), add_source_map=True, path=source)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    if [c.source.strip() for c in code] != [item.cell.source.strip() for item in cells]:
        return  # the .ipynb drifted from its .md (a test reports that); nothing to reuse
    for count, (cell, item) in enumerate(zip(code, cells, strict=True), start=1):
        cell.outputs = [nbformat.from_dict(dict(output)) for output in item.test_outputs]
        for output in cell.outputs:
            if output.get("output_type") == "execute_result":
                output["execution_count"] = count
        cell.execution_count = count
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE.parent / ".jupyter_cache.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # test workers may finish chapters together
        cache = get_cache(CACHE)
        _, hashkey = cache.create_hashed_notebook(nb)
        shutil.rmtree(cache._get_notebook_path_cache(hashkey).parent, ignore_errors=True)
        cache.cache_notebook_bundle(CacheBundleIn(nb, str(source)), check_validity=False,
                                    overwrite=True)
