"""The local stack's `KEY=VALUE` file (`.local/stack.env`), written by `make run` and read by
the tools that work on a running stack. One format: no quoting, no `export`; `#` starts a
comment line; blanks around the key and the value are not part of them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path


def parse_env_lines(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


def read_env_file(path: Path) -> dict[str, str]:
    return parse_env_lines(Path(path).read_text())


def write_env_file(path: Path, values: Mapping[str, str], *, header: tuple[str, ...] = ()) -> None:
    """Writes `KEY=VALUE` lines (after `# ` comment lines from `header`), replacing the file
    atomically so that a reader never sees half of it. The file is readable by all (0644): it
    is mounted into containers that run as another user."""
    for key, value in values.items():
        if "\n" in f"{key}{value}" or "=" in key:
            raise ValueError(f"{key!r} cannot be written as one KEY=VALUE line")
    lines = [*(f"# {line}" for line in header), *(f"{k}={v}" for k, v in values.items())]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as out:
            out.write("\n".join(lines) + "\n")
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
