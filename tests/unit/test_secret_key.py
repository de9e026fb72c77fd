"""The console's signing key on a folder that several instances share: those starting together
on an empty folder all end with the same key, written once, readable by the service alone."""

from __future__ import annotations

import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from visioregul.integration.web.console_login import load_secret_key


def test_given_instances_starting_together_on_an_empty_folder_then_they_share_one_key(
    tmp_path: Path,
) -> None:
    with ProcessPoolExecutor(max_workers=8) as pool:
        keys = list(pool.map(load_secret_key, [tmp_path] * 16))
    assert len(set(keys)) == 1
    assert len(keys[0]) == 32
    path = tmp_path / "secret.key"
    assert path.read_bytes() == keys[0]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.key"]  # no draft left
    assert load_secret_key(tmp_path) == keys[0]
