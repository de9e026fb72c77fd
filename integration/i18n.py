"""The message catalogue: every user-visible string, French first.

Catalogues are flat JSON files under ``locales/<lang>/*.json`` (one file per area: ``errors``,
``console``...), merged per language. A missing key falls back to French, then to the key itself,
so a half-translated language still shows something sensible.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DEFAULT_LANGUAGE", "Catalogue", "load_catalogue", "shipped_catalogue"]

DEFAULT_LANGUAGE = "fr"
_LOCALES = Path(__file__).with_name("locales")


@dataclass(frozen=True)
class Catalogue:
    """Messages by language and key."""

    messages: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def languages(self) -> list[str]:
        """Languages that have at least one message."""
        return sorted(self.messages)

    def get(self, language: str, key: str, **params: object) -> str:
        """The message ``key`` in ``language``, with ``{name}`` placeholders filled."""
        text = self.messages.get(language, {}).get(key)
        if text is None:
            text = self.messages.get(DEFAULT_LANGUAGE, {}).get(key, key)
        try:
            return text.format(**params) if params else text
        except (KeyError, IndexError, ValueError):
            return text

    def negotiate(self, accept_language: str | None, default: str = DEFAULT_LANGUAGE) -> str:
        """The best language for an ``Accept-Language`` header (quality values honoured)."""
        choices: list[tuple[float, int, str]] = []
        for index, part in enumerate((accept_language or "").split(",")):
            tag, _, params = part.strip().partition(";")
            quality = 1.0
            if params.strip().startswith("q="):
                try:
                    quality = float(params.strip()[2:])
                except ValueError:
                    quality = 0.0
            language = tag.strip().lower().split("-")[0]
            if language in self.messages and quality > 0:
                choices.append((-quality, index, language))
        return min(choices)[2] if choices else default

    def bundle(self, language: str) -> dict[str, str]:
        """All messages for one language, French filling the gaps (served to the pages)."""
        merged = dict(self.messages.get(DEFAULT_LANGUAGE, {}))
        merged.update(self.messages.get(language, {}))
        return merged


@functools.cache
def shipped_catalogue() -> Catalogue:
    """The shipped catalogue, read once (for parts handed no application)."""
    return load_catalogue()


def load_catalogue(root: Path = _LOCALES) -> Catalogue:
    """Read every ``<root>/<lang>/*.json`` file."""
    messages: dict[str, dict[str, str]] = {}
    for folder in sorted(path for path in root.iterdir() if path.is_dir()):
        merged: dict[str, str] = {}
        for file in sorted(folder.glob("*.json")):
            data = json.loads(file.read_text(encoding="utf-8"))
            merged.update({str(key): str(value) for key, value in data.items()})
        messages[folder.name] = merged
    return Catalogue(messages)
