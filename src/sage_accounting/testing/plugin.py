"""The pytest plugin: ``sage_sandbox`` (alias ``sage_server``), ``sage_client``,
``async_sage_client``. Registered through the ``pytest11`` entry point, so installing the SDK
makes the fixtures available to any test suite; see ``sage_accounting.testing`` for examples.

Only pytest imports this module; importing ``sage_accounting`` never imports pytest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .. import AsyncSageAccounting, SageAccounting
    from ._sandbox import SageSandbox

try:  # async fixtures need pytest-asyncio; without it, only that fixture says so
    import pytest_asyncio
except ImportError:  # pragma: no cover - the project's own suite has pytest-asyncio
    pytest_asyncio = None  # type: ignore[assignment]


@pytest.fixture
def sage_sandbox() -> Iterator[SageSandbox]:
    """A running sandbox with the demo business, new for each test."""
    from ._sandbox import SageSandbox

    with SageSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def sage_server(sage_sandbox: SageSandbox) -> SageSandbox:
    """The same as ``sage_sandbox``."""
    return sage_sandbox


@pytest.fixture
def sage_client(sage_sandbox: SageSandbox) -> Iterator[SageAccounting]:
    """A ``SageAccounting`` for the sandbox's lead business, with a live token."""
    client = sage_sandbox.client(timeout=5.0)
    yield client
    client.close()


if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def async_sage_client(sage_sandbox: SageSandbox) -> AsyncIterator[AsyncSageAccounting]:
        """An ``AsyncSageAccounting`` for the sandbox's lead business (needs pytest-asyncio)."""
        client = sage_sandbox.async_client(timeout=5.0)
        yield client
        await client.close()

else:  # pragma: no cover

    @pytest.fixture
    def async_sage_client() -> None:
        """Needs pytest-asyncio."""
        raise RuntimeError("the async_sage_client fixture needs pytest-asyncio installed")
