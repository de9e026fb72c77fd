"""Inbound callbacks from Twilio: its message status reports (outbound CAD webhooks are in
``cad_webhooks``).

Twilio signs each callback (``X-Twilio-Signature``, HMAC-SHA1 of the URL and the parameters with
the account's auth token); an unsigned, wrongly signed or altered callback is refused. The URL
checked is the one Twilio was given, built from ``service.public_url``: behind a reverse proxy
the service does not see the original scheme and host.
"""

from __future__ import annotations

import logging

from aiohttp import web
from multidict import MultiDict

from ..client_address import client_address
from ..messaging.twilio import parse_status_callback, twilio_signature_valid
from . import appkeys
from .console import form_body
from .errors import Forbidden, InvalidRequest

__all__ = ["TWILIO_STATUS_PATH", "routes"]

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

TWILIO_STATUS_PATH = "/webhooks/twilio/status"


@routes.post(TWILIO_STATUS_PATH)
async def twilio_status(request: web.Request) -> web.Response:
    """A delivery status for an SMS: queued, sent, delivered, undelivered, failed."""
    settings = request.app[appkeys.SETTINGS]
    form = await form_body(request)
    # Every value of a repeated field counts in the signature: keep them all.
    params = MultiDict((key, str(value)) for key, value in form.items())
    url = settings.service.public_url + TWILIO_STATUS_PATH
    token = settings.messaging.twilio.auth_token.get_secret_value()
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not twilio_signature_valid(token, url, params, signature):
        log.warning(
            "refused a Twilio callback with a bad signature from %s", client_address(request)
        )
        raise Forbidden("twilio_signature")
    try:
        update = parse_status_callback(params)
    except ValueError as exc:
        raise InvalidRequest("invalid_request", detail=str(exc)) from exc
    known = await request.app[appkeys.SESSION_SERVICE].on_delivery_status(
        update.provider_id, update.status, update.error_code
    )
    if not known:
        log.info("Twilio status for an unknown message %s", update.provider_id)
    return web.Response(status=204)
