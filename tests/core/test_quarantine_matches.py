"""Which services run a quarantined digest (what the screens flag): by the digests their pods report, or by a digest
pinned in their image reference when the pods were not read; and where, as the Quarantine screen names it."""

from __future__ import annotations

import dataclasses

import pytest

from ranchersync.governance import quarantine
from ranchersync.governance.quarantine import Quarantine
from ranchersync.inventory.digests import RunningImages
from tests.builders import service

BAD, GOOD = "sha256:" + "b" * 64, "sha256:" + "a" * 64
Q = Quarantine(1, "ghcr.io/acme/web", BAD, "CVE-2026-0001", "alex@example.com", "2026-12-07T10:00:00Z")


@pytest.mark.parametrize(("image", "running", "flagged"), [
    ("ghcr.io/acme/web:2.4.0", ((("app", (BAD,)),)), True),  # the pods run it, whatever the tag says
    ("ghcr.io/acme/web:2.4.0", ((("app", (GOOD, BAD)),)), True),  # some pods of a half-done rollout
    ("ghcr.io/acme/web:2.4.0", ((("app", (GOOD,)),)), False),
    ("ghcr.io/acme/web:2.4.0", None, False),  # pods not read, nothing pinned: not known
    (f"ghcr.io/acme/web:2.4.0@{BAD}", None, True),  # pinned in the reference
    (f"other.example/copy@{BAD}", None, True),  # the same bits under another name
    (f"ghcr.io/acme/web:2.4.0@{BAD}", ((("app", (GOOD,)),)), False),  # the pods say what really runs
])
def test_matches(image: str, running: tuple[tuple[str, tuple[str, ...]], ...] | None, flagged: bool) -> None:
    found = service(1, "shop-prod", "web", image)
    if running is not None:
        found = dataclasses.replace(found, running=RunningImages(running, 2))
    assert quarantine.matches(found, {BAD: Q}) == ((Q,) if flagged else ())


def test_sightings_say_where() -> None:
    found = dataclasses.replace(service(1, "shop-prod", "web", "ghcr.io/acme/web:2.4.0"),
                                running=RunningImages((("app", (BAD,)),), 2))
    [seen] = quarantine.running([("Prod", found)], {BAD: Q})
    assert (seen.environment, seen.site, seen.cluster, seen.namespace, seen.kind, seen.service, seen.container,
            seen.digest) == ("Prod", "site", "cluster", "ns", "Deployment", "web", "app", BAD)
    assert seen.payload()["appInstance"] == "shop-prod"
