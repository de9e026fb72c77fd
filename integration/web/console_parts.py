"""What a console's socket does with its messages about one session: video, texts, the
caller's camera, the shared screen and the caller's position.

A console's own socket uses them for the sessions whose room this instance holds; the socket
another instance opens here for a console of its own (:mod:`.console_bridge`) uses them for the
one session it carries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..errors import DomainError
from ..sessions.journal import Actor
from . import appkeys
from .console_location import LOCATION_TYPES, ConsoleLocation
from .console_remote import REMOTE_TYPES, ConsoleRemote
from .console_screen import SCREEN_TYPES, ConsoleScreen
from .console_texts import TEXT_TYPES, ConsoleTexts
from .console_video import VIDEO_TYPES, ConsoleVideo
from .notifier import Connection

__all__ = ["ConsoleParts"]


@dataclass
class ConsoleParts:
    """The handlers of one console's session messages."""

    video: ConsoleVideo
    texts: ConsoleTexts
    remote: ConsoleRemote
    screen: ConsoleScreen
    location: ConsoleLocation

    @classmethod
    def build(
        cls,
        app: web.Application,
        connection: Connection,
        username: str,
        position: str,
        language: str,
    ) -> ConsoleParts:
        """The handlers of ``username``'s console at ``position``, answering in ``language``."""
        catalogue = app[appkeys.CATALOGUE]
        actor = Actor(username, position)
        return cls(
            video=ConsoleVideo(
                app[appkeys.ROOMS], app[appkeys.SESSION_SERVICE], connection, username
            ),
            texts=ConsoleTexts(app[appkeys.TEXTS], connection, actor, catalogue, language),
            remote=ConsoleRemote(
                app[appkeys.REMOTE_CONTROL], connection, actor, catalogue, language
            ),
            screen=ConsoleScreen(
                app[appkeys.SCREEN_SHARES], connection, actor, catalogue, language
            ),
            location=ConsoleLocation(app[appkeys.LOCATOR], connection, actor, catalogue, language),
        )

    def refusal(self, message_type: object) -> Callable[[str, DomainError], None]:
        """How a refused message of this type is told to the console."""
        if message_type in TEXT_TYPES:
            return self.texts.refuse
        if message_type in SCREEN_TYPES:
            return self.screen.refuse
        return self.video.refuse

    async def handle(self, data: Mapping[str, Any]) -> None:
        """Act on one session message (its rule already checked)."""
        kind = data.get("type")
        if kind in VIDEO_TYPES:
            await self.video.handle(data)
            self.remote.observe(data)
        elif kind in TEXT_TYPES:
            await self.texts.handle(data)
        elif kind in REMOTE_TYPES:
            self.remote.handle(data)
        elif kind in SCREEN_TYPES:
            await self.screen.handle(data)
        elif kind in LOCATION_TYPES:
            self.location.handle(data)

    async def close(self) -> None:
        """The socket closed: end every subscription, share and follow it started."""
        await self.video.close()
        await self.remote.close()
        await self.screen.close()
        await self.location.close()
