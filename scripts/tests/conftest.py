"""The local stack's harness (local_stack.pytest_plugin) for the tools' tests."""

pytest_plugins = ["local_stack.pytest_plugin"]
