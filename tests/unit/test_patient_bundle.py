"""The patient page's script inlined in the page: the bundle is current with its sources, and
safe inside a ``<script>`` element."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from visioregul.patient_page.inline import BUNDLE, InlineScripts, inline_scripts

ROOT = Path(__file__).resolve().parents[2]


def test_given_the_sources_then_the_committed_bundle_is_what_esbuild_makes_of_them(
    tmp_path: Path,
) -> None:
    esbuild = ROOT / "node_modules" / ".bin" / "esbuild"
    assert esbuild.exists(), "esbuild is missing: `make setup lint` (npm ci) installs it"
    npm = shutil.which("npm")
    assert npm is not None, "npm is missing"
    built = tmp_path / "patient.js"
    # The same command as `make bundle`, into another file.
    script = (
        subprocess.run(
            [npm, "pkg", "get", "scripts.bundle"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .strip('"')
    )
    command = script.replace("--outfile=patient_page/static/dist/patient.js", f"--outfile={built}")
    assert command != script, script
    subprocess.run([str(esbuild), *command.split()[1:]], cwd=ROOT, check=True, capture_output=True)
    assert built.read_text() == BUNDLE.read_text(), (
        "patient_page/static/dist/patient.js is out of date: run `make bundle`"
    )


def test_given_a_script_that_would_close_its_element_then_it_is_refused() -> None:
    with pytest.raises(RuntimeError, match="cannot be inlined"):
        InlineScripts("", 'const a = "</script><script>alert(1)";')
    with pytest.raises(RuntimeError, match="cannot be inlined"):
        InlineScripts("<!-- x", "")
    assert inline_scripts().bundle == BUNDLE.read_text(encoding="utf-8")
