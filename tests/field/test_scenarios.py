"""Scenarios through the emulated network: a real 15 call, the invitation, the patient's phone on
a shaped link, the patient's video decoded on the console.

One test per profile; a profile is one more parameter.
"""

from __future__ import annotations

import pytest

from .scenario import Scene

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(180)]


PATHS = {
    "4g": {"direct"},
    "4g-congested": {"direct"},
    "3g": {"direct"},
    "lossy": {"direct"},
    # Only TCP 443 passes: coturn's TLS beside the web front.
    "udp-blocked": {"turn-tls"},
    # No inbound UDP but from coturn: a relay, whichever transport the page reaches it by.
    "symmetric-nat": {"turn-udp", "turn-tcp", "turn-tls"},
}
"""The paths each profile's video may take."""


@pytest.mark.parametrize("profile", list(PATHS))
async def test_given_a_15_call_on_a_profile_then_the_console_shows_the_patient_video(
    field_scene: Scene, profile: str
) -> None:
    outcome = await field_scene.video_from_call(profile, shots=True)
    assert outcome.established
    assert outcome.path in PATHS[profile], outcome
    assert outcome.link_to_first_frame_ms is not None and outcome.link_to_first_frame_ms > 0
    # The phone's only way out is the shaped link: the video crossed it (ten frames at least).
    assert outcome.uplink_bytes > 20_000, outcome
    assert not field_scene.problems, field_scene.problems
