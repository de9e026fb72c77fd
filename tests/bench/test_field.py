"""Benchmark: sessions from a real 15 call on each emulated network (``make field``).

For each profile, ``VISIOREGUL_FIELD_SESSIONS`` sessions (30 by default): the patient's Chromium
in the lab's phone namespace behind the profile's link, the console in the service's namespace.
Prints video established n/N with its 95 % Wilson lower bound, and link opened -> first frame on
the console, p50/p90. ``VISIOREGUL_FIELD_PROFILES`` (comma-separated) picks the profiles.
"""

from __future__ import annotations

import os

import pytest

from tests.field.scenario import Scene
from tests.field.stats import percentile, wilson_lower_bound

SESSIONS = int(os.environ.get("VISIOREGUL_FIELD_SESSIONS", "30"))
WITHOUT_RELAY = ["4g", "4g-congested", "3g", "edge", "lossy"]
"""The profiles whose video can go direct (those that need TURN come with a relay)."""
PROFILES = [
    name.strip()
    for name in os.environ.get("VISIOREGUL_FIELD_PROFILES", ",".join(WITHOUT_RELAY)).split(",")
    if name.strip()
]

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(120 + 90 * SESSIONS)]


@pytest.mark.parametrize("profile", PROFILES)
async def test_field_sessions(field_scene: Scene, profile: str) -> None:
    outcomes = [await field_scene.attempt(profile) for _ in range(SESSIONS)]
    established = [o for o in outcomes if o.established]
    delays = [o.link_to_first_frame_ms for o in established if o.link_to_first_frame_ms]
    print(
        f"\n{profile:<14} video established {len(established)}/{SESSIONS} "
        f"(95 % lower bound {wilson_lower_bound(len(established), SESSIONS) * 100:.1f} %), "
        f"link opened -> first frame p50 {percentile(delays, 0.5):.0f} ms, "
        f"p90 {percentile(delays, 0.9):.0f} ms"
    )
    for failure in {o.error for o in outcomes if not o.established}:
        print(f"    failed: {failure}")
    assert established, f"no session established video on {profile}"
