"""Check every Copilot manifest against the schemas in copilot/schemas/ before Copilot reads it.

    python -m copilot_checks.manifests [--copilot-dir copilot]

Copilot ignores a key it does not know without a word, so a misspelt key (`healthchek:`) would
deploy something other than what the manifest says. `make copilot-package`, `make deploy-plan`
and `make deploy` run this check first and stop on the first report: the file, the key, where
it sits, and the closest known key.

Needs only PyYAML and jsonschema (the repository's venv and the Copilot venv both have them).
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import yaml

COPILOT_DIR = Path(__file__).resolve().parents[2] / "copilot"
SCHEMA_BY_TYPE = {
    "Environment": "environment",
    "Load Balanced Web Service": "load-balanced-web-service",
}


@dataclass(frozen=True)
class Problem:
    path: Path  # the manifest, relative to the folder above copilot/
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def manifests(copilot_dir: Path) -> list[Path]:
    """The environment manifests and every workload manifest, in a stable order."""
    return sorted(copilot_dir.glob("environments/*/manifest.yml")) + sorted(
        copilot_dir.glob("*/manifest.yml")
    )


def _where(path) -> str:
    return ".".join(str(part) for part in path) or "the top level"


def _unknown_keys(error: jsonschema.ValidationError) -> Iterator[tuple[str, str, list[str]]]:
    """(where, key, known keys there) for every key the schema does not allow, including those
    inside the branches of oneOf/anyOf (a value that may be a string or a mapping)."""
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = list(error.schema.get("properties", {}))
        patterns = list(error.schema.get("patternProperties", {}))
        for key in error.instance:
            if key not in known and not any(re.search(p, str(key)) for p in patterns):
                yield _where(error.absolute_path), str(key), known
    for branch in error.context or ():
        yield from _unknown_keys(branch)


def _schema_keys(schema, where: str = "") -> Iterator[tuple[str, str]]:
    """(key, where it belongs) for every property the schema declares, at any depth."""
    if isinstance(schema, dict):
        for key, sub in schema.get("properties", {}).items():
            yield key, where or "the top level"
            yield from _schema_keys(sub, f"{where}.{key}" if where else key)
        for keyword, sub in schema.items():
            if keyword in ("items", "additionalProperties"):
                yield from _schema_keys(sub, where)
            elif keyword in ("oneOf", "anyOf", "allOf"):
                for branch in sub:
                    yield from _schema_keys(branch, where)
            elif keyword in ("patternProperties", "$defs"):
                for branch in sub.values():
                    yield from _schema_keys(branch, f"{where}.<name>" if where else "<name>")


def _hint(key: str, known: list[str], schema: dict) -> str:
    """The closest key allowed here, else the closest key of the whole manifest with where it
    belongs (a key at the wrong level), else the keys allowed here."""
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        return f" (did you mean {close[0]}?)"
    places: dict[str, list[str]] = {}
    for name, where in _schema_keys(schema):
        if where not in places.setdefault(name, []):
            places[name].append(where)
    close = difflib.get_close_matches(key, list(places), n=1)
    if close:
        return f" (did you mean {close[0]}? it belongs under {' or '.join(places[close[0]][:3])})"
    return f" (known keys here: {', '.join(known)})"


def check_file(path: Path, schemas_dir: Path, root: Path) -> list[Problem]:
    shown = path.relative_to(root) if path.is_relative_to(root) else path
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        return [Problem(shown, f"not valid YAML: {error}")]
    if not isinstance(document, dict):
        return [Problem(shown, "not a mapping of keys")]
    kind = document.get("type")
    if kind not in SCHEMA_BY_TYPE:
        return [Problem(shown, f"type {kind!r} has no schema in {schemas_dir.name}/")]
    schema = json.loads((schemas_dir / f"{SCHEMA_BY_TYPE[kind]}.schema.json").read_text())
    problems: list[Problem] = []
    validator = jsonschema.Draft202012Validator(schema)
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        unknown = list(_unknown_keys(error))
        if not unknown:
            problems.append(Problem(shown, f"{_where(error.absolute_path)}: {error.message}"))
        for where, key, known in unknown:
            hint = _hint(key, known, schema)
            message = f"unknown key {key!r} at {where}; Copilot would ignore it{hint}"
            if Problem(shown, message) not in problems:
                problems.append(Problem(shown, message))
    return problems


def check(copilot_dir: Path = COPILOT_DIR) -> list[Problem]:
    """Every problem of every manifest under copilot_dir; empty when all match the schemas."""
    copilot_dir = Path(copilot_dir).resolve()
    schemas_dir = copilot_dir / "schemas"
    problems = []
    for path in manifests(copilot_dir):
        problems += check_file(path, schemas_dir, copilot_dir.parent)
    return problems


def report(problems: list[Problem]) -> str:
    lines = [f"manifest check: {len(problems)} problem(s); Copilot was not run"]
    return "\n".join(lines + [f"  {problem}" for problem in problems])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copilot-dir", type=Path, default=COPILOT_DIR)
    args = parser.parse_args(argv)
    problems = check(args.copilot_dir)
    if problems:
        print(report(problems), file=sys.stderr)
        return 1
    print(f"manifest check: {len(manifests(args.copilot_dir))} manifests match the schemas")
    return 0


if __name__ == "__main__":
    sys.exit(main())
