"""The autograder's check that a task was answered with the student's own code: a graded call
runs under a profiler, and any coursekit function it reaches (a model, a layer, a loss, a
metric of the course's package, however it was imported) makes the test fail."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any, Callable

SUPPORT = {"assignments.py"}  # what the assignments start from, which answers no task


def _package_dir() -> str | None:
    try:
        import coursekit
    except ImportError:
        return None
    return str(Path(coursekit.__file__).resolve().parent)


def own_work(fn: Callable[[], Any]) -> Any:
    """``fn()``, failing with an AssertionError when it called any coursekit function."""
    package = _package_dir()
    reached: list[str] = []

    def profile(frame, event, arg):  # noqa: ANN001
        if event != "call" or package is None:
            return
        code = frame.f_code
        if code.co_name == "<module>" or not code.co_filename.startswith(package):
            return
        if Path(code.co_filename).name in SUPPORT:
            return
        reached.append(f"{Path(code.co_filename).stem}.{code.co_qualname}")

    set_all = getattr(threading, "setprofile_all_threads", None)
    previous = sys.getprofile()
    sys.setprofile(profile)
    if set_all:
        set_all(profile)
    else:
        threading.setprofile(profile)
    try:
        result = fn()
    finally:
        sys.setprofile(previous)
        if set_all:
            set_all(None)
        else:
            threading.setprofile(None)
    if reached:
        raise AssertionError(
            "this task asks for your own code, and your answer called the course package's "
            f"implementation ({', '.join(sorted(set(reached))[:3])}): it gets no points")
    return result
