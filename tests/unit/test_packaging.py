"""The package list in ``pyproject.toml`` covers every folder and data file of the project.

setuptools installs a folder only when ``packages`` lists it, and a data file only when a
``package-data`` pattern of its folder matches it: a new folder or file type forgotten there is
missing from the wheel (and setuptools warns about each such folder at every install).
"""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
    "setuptools"
]


def _folders() -> dict[str, Path]:
    """Every folder under the mapped roots, by its import name."""
    folders: dict[str, Path] = {}
    for name, folder in SETUPTOOLS["package-dir"].items():
        root = ROOT / folder
        for path in [root, *sorted(p for p in root.rglob("*") if p.is_dir())]:
            if "__pycache__" in path.parts:
                continue
            relative = path.relative_to(root).parts
            folders[".".join((name, *relative))] = path
    return folders


def test_given_the_project_folders_then_each_is_listed_in_packages() -> None:
    assert sorted(_folders()) == sorted(SETUPTOOLS["packages"])


def test_given_a_data_file_then_a_package_data_pattern_ships_it() -> None:
    patterns: dict[str, list[str]] = SETUPTOOLS["package-data"]
    unshipped = [
        str(path.relative_to(ROOT))
        for name, folder in _folders().items()
        for path in sorted(folder.iterdir())
        if path.is_file()
        and path.suffix not in {".py", ".pyc"}
        and not any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns.get(name, []))
    ]
    assert unshipped == []


def test_given_the_package_list_then_no_test_code_is_shipped() -> None:
    assert not [name for name in SETUPTOOLS["packages"] if "tests" in name.split(".")]
