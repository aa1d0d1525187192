"""cfn-lint and checkov on every synthesised template of every environment."""

import json
import subprocess
import sys
from pathlib import Path

CDK_DIR = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _templates(synth):
    return sorted(synth.outdir.glob("*.template.json"))


def test_cfn_lint_is_clean_on_every_template(synthesised):
    for env, synth in synthesised.items():
        templates = _templates(synth)
        assert len(templates) == 3, env
        result = subprocess.run(
            [str(BIN / "cfn-lint"), *map(str, templates)], capture_output=True, text=True
        )
        assert result.returncode == 0, f"{env}:\n{result.stdout}{result.stderr}"


def test_checkov_passes_with_only_the_listed_skips(synthesised):
    skips = json.loads((CDK_DIR / "checkov_skips.json").read_text())["skips"]
    assert all(len(skip["reason"]) > 40 for skip in skips.values())
    for env, synth in synthesised.items():
        result = subprocess.run(
            [
                str(BIN / "checkov"),
                "--directory",
                str(synth.outdir),
                "--framework",
                "cloudformation",
                "--skip-download",
                "--compact",
                "--output",
                "json",
            ],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, f"{env}:\n{result.stdout[-4000:]}{result.stderr[-2000:]}"
        report = json.loads(result.stdout)
        report = report[0] if isinstance(report, list) else report
        assert report["summary"]["failed"] == 0, env
        assert report["summary"]["passed"] > 100, env
        skipped = {
            (c["check_id"], c["resource"].split(".")[0])
            for c in report["results"]["skipped_checks"]
        }
        # Every skip names a listed check on a resource of its listed type, and nothing else.
        assert {check for check, _ in skipped} == set(skips), env
        assert all(skips[check]["resource_type"] == type_ for check, type_ in skipped), env


def test_skips_sit_on_the_resources_of_their_type_only(dev):
    skips = json.loads((CDK_DIR / "checkov_skips.json").read_text())["skips"]
    for stack in ("PlatformStateful", "PlatformStateless", "Edge"):
        for resource in dev.template_json(stack)["Resources"].values():
            listed = {
                s["id"] for s in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
            }
            expected = {c for c, s in skips.items() if s["resource_type"] == resource["Type"]}
            assert listed == expected, resource["Type"]
