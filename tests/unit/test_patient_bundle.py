"""The patient page's script inlined in the page: the bundle is current with its sources, and
safe inside a ``<script>`` element."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from visioregul.patient_page.inline import BUNDLE, InlineScripts, inline_scripts

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("script", ["bundle:js", "bundle:css"])
def test_given_the_sources_then_the_committed_bundle_is_what_esbuild_makes_of_them(
    tmp_path: Path, script: str
) -> None:
    esbuild = ROOT / "node_modules" / ".bin" / "esbuild"
    assert esbuild.exists(), "esbuild is missing: `make setup lint` (npm ci) installs it"
    npm = shutil.which("npm")
    assert npm is not None, "npm is missing"
    # The same command as `make bundle`, into another file.
    command = (
        subprocess.run(
            [npm, "pkg", "get", f"scripts.{script}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .strip('"')
    )
    found = re.search(r"--outfile=(\S+)", command)
    assert found is not None, command
    committed = ROOT / found.group(1)
    built = tmp_path / committed.name
    arguments = command.replace(found.group(0), f"--outfile={built}").split()[1:]
    subprocess.run([str(esbuild), *arguments], cwd=ROOT, check=True, capture_output=True)
    assert built.read_text() == committed.read_text(), (
        f"{found.group(1)} is out of date: run `make bundle`"
    )


def test_given_a_script_that_would_close_its_element_then_it_is_refused() -> None:
    with pytest.raises(RuntimeError, match="cannot be inlined"):
        InlineScripts("", 'const a = "</script><script>alert(1)";')
    with pytest.raises(RuntimeError, match="cannot be inlined"):
        InlineScripts("<!-- x", "")
    assert inline_scripts().bundle == BUNDLE.read_text(encoding="utf-8")
