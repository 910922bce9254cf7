"""Every model in the registry keeps the same contract (coursekit.models.checks): fit on a
student-shaped table, predictions inside its scale, lists without rated items for any n,
unknown users and items, use before fit, save and load in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from coursekit.models.checks import check_models
from coursekit.models.registry import MODELS, model_names

# The Keras models' checks are tests/test_contract_keras.py, so that a test worker takes them
# while another takes these: the two halves cost about the same.
OTHERS = [n for n in model_names() if MODELS[n].backend not in ("tfrs", "keras")]
TFRS = model_names("tfrs")


def format_failures(failures: dict[str, str]) -> str:
    return "\n".join(f"--- {name}\n{text}" for name, text in failures.items())


# Each model is checked on its own, and all of them are saved and loaded back in one fresh
# process: a new process spends seconds importing TensorFlow, so one serves every model.
@pytest.fixture(scope="module")
def contract_failures() -> dict[str, dict[str, str]]:
    return check_models(OTHERS)


@pytest.fixture(scope="module")
def tfrs_contract_failures() -> dict[str, dict[str, str]]:
    # TFRS needs Keras 2, chosen once per process: these run in a process of their own.
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    environment.pop("TF_USE_LEGACY_KERAS", None)
    result = subprocess.run([sys.executable, "-m", "coursekit.models.checks", *TFRS],
                            capture_output=True, text=True, timeout=900, env=environment)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", OTHERS)
def test_model_keeps_the_contract(name, contract_failures):
    assert not contract_failures[name], format_failures(contract_failures[name])


@pytest.mark.parametrize("name", TFRS)
def test_tfrs_model_keeps_the_contract(name, tfrs_contract_failures):
    assert not tfrs_contract_failures[name], format_failures(tfrs_contract_failures[name])


def test_a_model_that_loads_back_different_breaks_the_contract(monkeypatch):
    from coursekit.models.rating.baselines import BiasBaseline

    save = BiasBaseline.save

    def save_then_drift(self, folder):  # what is saved is not what answers afterwards
        save(self, folder)
        self.item_bias_ = self.item_bias_[::-1].copy()

    monkeypatch.setattr(BiasBaseline, "save", save_then_drift)
    failures = check_models(["user + item biases"])["user + item biases"]
    assert list(failures) == ["save and load"], failures
