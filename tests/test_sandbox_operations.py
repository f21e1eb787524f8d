"""Every operation of the SDK, called through the SDK against the sandbox: the proof that the
sandbox serves the whole spec (the list comes from the operations table, not from this file)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sandbox_calls import call, check_answer

from sage_accounting import SageAccounting
from sage_accounting._runtime import all_operations
from sage_accounting.testing import SageSandbox

OPERATIONS = all_operations()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SageSandbox]:
    with SageSandbox() as sage:
        yield sage


@pytest.fixture(scope="module")
def client(sandbox: SageSandbox) -> Iterator[SageAccounting]:
    with sandbox.client(timeout=5.0, max_retries=0) as client:
        yield client


@pytest.mark.parametrize("operation_id", sorted(OPERATIONS))
def test_every_operation_answers_through_the_sdk(
    operation_id: str, sandbox: SageSandbox, client: SageAccounting
) -> None:
    info = OPERATIONS[operation_id]
    key, result = call(sandbox, client, info)
    check_answer(sandbox, info, key, result)
