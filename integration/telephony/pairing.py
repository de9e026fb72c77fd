"""Writing channel variables: the pairing ``VISIOREGUL_SESSION``, the phone key's answer.

The only writes VisioRegul makes to Asterisk. ``VISIOREGUL_SESSION`` on the caller's channel pairs
a video session with its call, so that CDR and CEL carry the session id; ``VISIOREGUL_INVITE`` on
a regulator's channel answers the phone key (the shipped ``[visioregul-feature]`` subroutine waits
for it). Both go through AMI ``Setvar`` even when events come from ARI: Asterisk refuses ARI
writes on a channel that is not in a Stasis application, and VisioRegul never takes calls into one.
"""

from __future__ import annotations

import asyncio
import logging

from ..settings import AmiSettings
from .ami import AmiSource, OneShotManager, setvar
from .link import LinkState

__all__ = ["INVITE_VARIABLE", "PAIRING_VARIABLE", "Pairing"]

log = logging.getLogger(__name__)

PAIRING_VARIABLE = "VISIOREGUL_SESSION"
INVITE_VARIABLE = "VISIOREGUL_INVITE"
"""Set on the regulator's channel after a phone key press: ``sent`` or ``refused``."""
_TIMEOUT = 3.0


class Pairing:
    """Sets channel variables, over the live AMI link or a short-lived one (ARI source)."""

    def __init__(self, ami: AmiSettings, source: object | None) -> None:
        self.ami = ami
        self.source = source

    async def pair(self, channel: str, session_id: str) -> None:
        """Set ``VISIOREGUL_SESSION=session_id`` on ``channel``; raise when Asterisk refuses."""
        await self.set_variable(channel, PAIRING_VARIABLE, session_id)

    async def set_variable(
        self, channel: str, name: str, value: str, *, timeout: float | None = None
    ) -> None:
        """Set ``name=value`` on ``channel``; raise when Asterisk refuses or is unreachable.

        ``timeout`` bounds the whole write, login included (default: 3 s over the live link, 6 s
        over a short-lived one).
        """
        if isinstance(self.source, AmiSource) and self.source.status.state is LinkState.UP:
            await asyncio.wait_for(
                self.source.set_variable(channel, name, value), timeout or _TIMEOUT
            )
            return
        await asyncio.wait_for(self._one_shot(channel, name, value), timeout or _TIMEOUT * 2)

    async def _one_shot(self, channel: str, name: str, value: str) -> None:
        manager = OneShotManager(
            host=self.ami.host,
            port=self.ami.port,
            username=self.ami.username,
            secret=self.ami.secret.get_secret_value(),
            events="off",
            ping_delay=3600,
            loop=asyncio.get_running_loop(),
        )
        manager.connect()
        try:
            if not await asyncio.wait_for(manager.logged_in, _TIMEOUT):
                raise ConnectionError("AMI login refused")
            await setvar(manager, channel, name, value, _TIMEOUT)
        finally:
            manager.close()
