"""The ``visioregul`` command, run as an operator runs it: a separate process, a TOML file."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

Visioregul = Callable[..., subprocess.CompletedProcess[str]]
"""Runs ``visioregul --config <file> <args>``; ``stdin`` is fed to it."""


def write_config(path: Path, text: str) -> Path:
    """A configuration file for the command, with its data in ``path``'s folder."""
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def visioregul(tmp_path: Path) -> Visioregul:
    """The command line on a configuration file of the test's own (``config.toml``)."""
    config = tmp_path / "config.toml"
    if not config.exists():
        write_config(
            config,
            f'[service]\ndata_dir = "{tmp_path}"\n'
            f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/db.sqlite"\n',
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("VISIOREGUL_")}

    def run(*args: str, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "visioregul.integration.cli", "--config", str(config), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )

    return run
