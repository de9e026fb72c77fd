"""The deployment example for two instances (``config/examples/cluster/``) is a valid
configuration: both files load, and they differ only in what belongs to one instance."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from visioregul.integration.settings import Settings, load_settings

from .harness import REPOSITORY

EXAMPLES = REPOSITORY / "config" / "examples" / "cluster"

_PER_INSTANCE = {"instance_id", "host", "direct_url"}
"""The service keys that are one instance's own; every other setting is shared."""


def _load(name: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key in [k for k in os.environ if k.startswith("VISIOREGUL_")]:
        monkeypatch.delenv(key)
    # As /etc/visioregul/env gives them, the same on both machines.
    monkeypatch.setenv("VISIOREGUL_SERVICE__CLUSTER_SECRET", "x" * 44)
    monkeypatch.setenv("VISIOREGUL_TELEPHONY__AMI__SECRET", "centre-ami-secret")
    return load_settings(EXAMPLES / f"{name}.toml")


def _shared(settings: Settings) -> dict[str, Any]:
    shared = settings.model_dump(exclude={"service"})
    del shared["telephony"]["ari"]["app"]
    return shared


def test_given_the_two_instance_files_then_only_the_instance_s_own_keys_differ(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = _load("a", monkeypatch), _load("b", monkeypatch)
    assert (a.service.instance_id, b.service.instance_id) == ("a", "b")
    assert (a.service.direct_url, b.service.direct_url) == (
        "http://10.0.0.11:8015",
        "http://10.0.0.12:8015",
    )
    assert a.service.model_dump(exclude=_PER_INSTANCE) == b.service.model_dump(
        exclude=_PER_INSTANCE
    )
    assert _shared(a) == _shared(b)
    # Each its own ARI application, should the centre use ARI (Asterisk gives an application's
    # events to one connection only).
    assert (a.telephony.ari.app, b.telephony.ari.app) == ("visioregul-a", "visioregul-b")
    assert a.service.data_dir == Path("/srv/visioregul")
    assert a.database.url.startswith("postgresql+asyncpg://")


def test_given_the_unit_template_then_each_instance_reads_its_own_file() -> None:
    unit = (EXAMPLES / "visioregul@.service").read_text()
    assert "--config /etc/visioregul/%i.toml serve" in unit
    assert "KillSignal=SIGTERM" in unit
    assert "TimeoutStopSec=" in unit
