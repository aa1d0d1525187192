"""The one test harness of the local stack, as pytest fixtures (the helpers behind them are in
`local_stack.harness`). A component's tests load it from their conftest
(`pytest_plugins = ["local_stack.pytest_plugin"]`) and use:

- `local_aws_endpoint` (session): moto in server mode alone, its URL.
- `local_stack` (session): moto, the model server and the bootstrapped resources; a conftest
  may override `local_stack_options` (session) to change `bootstrap`'s arguments or the model
  server's.
- `model_control`: the model server's control client, reset before and after the test.
- `signed_in_user`: a new user of the local pool, signed in through the app client.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from local_stack.harness import (
    LocalStack,
    ModelControl,
    User,
    local_aws,
    new_user,
    start_local_stack,
)


@pytest.fixture(scope="session")
def local_stack_logs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("local-stack-logs")


@pytest.fixture(scope="session")
def local_aws_endpoint(local_stack_logs) -> Iterator[str]:
    with local_aws(local_stack_logs) as url:
        yield url


@pytest.fixture(scope="session")
def local_stack_options() -> dict:
    """`start_local_stack`'s keyword arguments; a conftest overrides this to change them."""
    return {}


@pytest.fixture(scope="session")
def local_stack(local_aws_endpoint, local_stack_logs, local_stack_options) -> Iterator[LocalStack]:
    with start_local_stack(
        local_stack_logs, aws_url=local_aws_endpoint, **local_stack_options
    ) as stack:
        yield stack


@pytest.fixture
def model_control(local_stack) -> Iterator[ModelControl]:
    control = ModelControl(local_stack.model_url)
    control.reset()
    yield control
    control.reset()
    control.close()


@pytest.fixture
def signed_in_user(local_stack) -> User:
    return new_user(local_stack)


# --- the fast tier ---------------------------------------------------------------------------
# A test that needs one of these fixtures (directly or through another fixture) needs servers
# on sockets: it is marked `stack`, and `make test-fast` (-m "not stack") leaves it out.
STACK_FIXTURES = frozenset({"local_aws_endpoint", "local_stack"})


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers",
        "stack: needs the local stack's servers (moto, the model server, Gunicorn, the web app) "
        "or starts processes; `make test-fast` leaves it out",
    )
    config.addinivalue_line(
        "markers", "slow: a unit test that takes more than a few seconds; not in `make test-fast`"
    )


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if STACK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.stack)
