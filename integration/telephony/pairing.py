"""Pairing a video session with its call: ``VISIOREGUL_SESSION`` on the caller's channel.

The one write VisioRegul makes to Asterisk, so that CDR and CEL carry the session id. It goes
through AMI ``Setvar`` even when events come from ARI: Asterisk refuses ARI writes on a channel
that is not in a Stasis application, and VisioRegul never takes calls into one.
"""

from __future__ import annotations

import asyncio
import logging

from ..settings import AmiSettings
from .ami import AmiSource, OneShotManager
from .link import LinkState

__all__ = ["PAIRING_VARIABLE", "Pairing"]

log = logging.getLogger(__name__)

PAIRING_VARIABLE = "VISIOREGUL_SESSION"
_TIMEOUT = 3.0


class Pairing:
    """Sets the pairing variable on a channel, over the live AMI link or a short-lived one."""

    def __init__(self, ami: AmiSettings, source: object | None) -> None:
        self.ami = ami
        self.source = source

    async def pair(self, channel: str, session_id: str) -> None:
        """Set ``VISIOREGUL_SESSION=session_id`` on ``channel``; raise when Asterisk refuses."""
        if isinstance(self.source, AmiSource) and self.source.status.state is LinkState.UP:
            await asyncio.wait_for(
                self.source.set_variable(channel, PAIRING_VARIABLE, session_id), _TIMEOUT
            )
            return
        await asyncio.wait_for(self._one_shot(channel, session_id), _TIMEOUT * 2)

    async def _one_shot(self, channel: str, session_id: str) -> None:
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
            reply = await asyncio.wait_for(
                manager.send_action(
                    {
                        "Action": "Setvar",
                        "Channel": channel,
                        "Variable": PAIRING_VARIABLE,
                        "Value": session_id,
                    }
                ),
                _TIMEOUT,
            )
            if not reply.success:
                raise RuntimeError(f"Setvar refused: {reply.get('Message', '')}")
        finally:
            manager.close()
