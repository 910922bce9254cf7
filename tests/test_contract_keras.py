"""The contract (see tests/test_contract.py) for every Keras model of the registry: kept in a
file of its own so that a test worker checks them while another checks the rest."""

from __future__ import annotations

import pytest
from test_contract import format_failures

from coursekit.models.checks import check_models
from coursekit.models.registry import model_names

KERAS = model_names("keras")


@pytest.fixture(scope="module")
def keras_contract_failures() -> dict[str, dict[str, str]]:
    return check_models(KERAS)


def test_the_registry_has_keras_models():
    assert len(KERAS) >= 10, KERAS


@pytest.mark.parametrize("name", KERAS)
def test_keras_model_keeps_the_contract(name, keras_contract_failures):
    assert not keras_contract_failures[name], format_failures(keras_contract_failures[name])
