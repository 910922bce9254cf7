"""Every model in the registry keeps the same contract (coursekit.models.checks): fit on a
student-shaped table, predictions inside its scale, lists without rated items for any n,
unknown users and items, use before fit, save and load in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from coursekit.models.checks import check_model
from coursekit.models.registry import MODELS, model_names


def _format(failures: dict[str, str]) -> str:
    return "\n".join(f"--- {name}\n{text}" for name, text in failures.items())


@pytest.mark.parametrize("name", [n for n in model_names() if MODELS[n].backend != "tfrs"])
def test_model_keeps_the_contract(name):
    failures = check_model(name)
    assert not failures, _format(failures)


@pytest.mark.parametrize("name", model_names("tfrs"))
def test_tfrs_model_keeps_the_contract(name):
    # TFRS needs Keras 2, chosen once per process: these run in a process of their own.
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    environment.pop("TF_USE_LEGACY_KERAS", None)
    result = subprocess.run([sys.executable, "-m", "coursekit.models.checks", name],
                            capture_output=True, text=True, timeout=600, env=environment)
    assert result.returncode == 0, result.stderr[-3000:]
    failures = json.loads(result.stdout.strip().splitlines()[-1])
    assert not failures, _format(failures)


def test_every_model_of_the_benchmark_suite_is_registered():
    from benchmarks import suite

    assert set(suite.quality_models()) == set(MODELS)
