"""The local stack's harness (local_stack.pytest_plugin) for the tools' tests, and a local AWS
endpoint of a test module's own for the tests that empty it."""

import urllib.request

import pytest

from local_stack import harness

pytest_plugins = ["local_stack.pytest_plugin"]


@pytest.fixture(scope="module")
def local_aws(tmp_path_factory):
    """The URL of a local AWS endpoint of the module's own: its tests may reset it."""
    with harness.local_aws(tmp_path_factory.mktemp("logs")) as url:
        yield url


@pytest.fixture
def fresh_local_aws(local_aws):
    """The module's local AWS endpoint, emptied (moto's reset) before the test."""
    reset = urllib.request.Request(f"{local_aws}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=10).close()  # noqa: S310
    return local_aws
