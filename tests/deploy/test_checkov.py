"""checkov on what we ship: the rendered overlays (Kubernetes) and the Dockerfile. Nothing may fail; every skip is an
annotation on the object itself (`checkov.io/skipN: CHECK=reason`) and must carry a reason."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.tools import OVERLAYS, ROOT, checkov, render

SKIPS = {
    "CKV_K8S_43": "the digest is set per release",  # image by digest: kustomize `images:` pins it per release
    "CKV_K8S_35": "from environment variables",  # secrets as files: the app's contract reads environment variables
}


def test_every_skip_is_annotated_in_place_with_its_reason() -> None:
    # checkov's JSON report drops the annotation's text, so the reasons are read from the objects themselves.
    count = 0
    for overlay in OVERLAYS:
        for obj in filter(None, yaml.safe_load_all(render(overlay))):
            for key, value in obj["metadata"].get("annotations", {}).items():
                if key.startswith("checkov.io/skip"):
                    check, _, reason = value.partition("=")
                    assert check in SKIPS and len(reason) > 30, (obj["metadata"]["name"], value)
                    count += 1
    assert count >= 20


def run_checkov(folder: Path) -> list[dict[str, Any]]:
    for overlay in OVERLAYS:
        (folder / f"{overlay}.yaml").write_text(render(overlay))
    (folder / "Dockerfile").write_text((ROOT / "Dockerfile").read_text())
    # --skip-download: no call to the vendor's platform (tests reach only localhost); the checks are in the package.
    result = subprocess.run(
        [str(checkov()), "--directory", str(folder), "--framework", "kubernetes", "dockerfile", "--skip-download",
         "--output", "json"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.stdout.strip(), result.stderr[-3000:]
    reports = json.loads(result.stdout)
    return reports if isinstance(reports, list) else [reports]


def test_checkov_passes_on_the_manifests_and_the_dockerfile(tmp_path: Path) -> None:
    reports = {report["check_type"]: report for report in run_checkov(tmp_path)}
    assert set(reports) == {"kubernetes", "dockerfile"}
    failures = [f"{f['check_id']} {f['check_name']}: {f['resource']}"
                for report in reports.values() for f in report["results"]["failed_checks"]]
    assert not failures, "\n".join(failures)
    kubernetes = reports["kubernetes"]
    assert kubernetes["summary"]["resource_count"] >= 50 and kubernetes["summary"]["passed"] > 1000
    skipped = Counter(check["check_id"] for check in kubernetes["results"]["skipped_checks"])
    # The skips are the two docs/operations.md explains; anything else must be fixed, not skipped.
    assert set(skipped) == set(SKIPS)
    assert not reports["dockerfile"]["results"].get("skipped_checks")
