"""The invitation's words: the SMS, and the e-mail's subject, text and HTML, in French and English.

The wording lives in ``templates/<language>/`` as :class:`string.Template` files (``$link``,
``$expires``, ``$sender``), so that it can be read and reviewed without reading code:
``invitation_*`` for the patient, ``thirdparty_*`` for an invited third person (a relative on
the scene, an interpreter, a remote doctor).

The SMS must fit in one GSM-7 SMS (see :mod:`.gsm7`): its templates avoid ``ê``, ``ç``, ``’``
and non-breaking spaces, and a test checks them with a link of realistic length.
"""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from string import Template
from typing import Literal
from zoneinfo import ZoneInfo

from ..store.models import utcnow
from .port import Channel

__all__ = [
    "DEFAULT_LANGUAGE",
    "SUPPORTED_LANGUAGES",
    "InvitationRole",
    "RenderedMessage",
    "format_expiry",
    "render_invitation",
]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

SUPPORTED_LANGUAGES: tuple[str, ...] = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
"""Used for any language without templates: the service is French first."""

InvitationRole = Literal["patient", "third_party"]
"""Who the invitation is for."""

_PREFIXES: dict[str, str] = {"patient": "invitation", "third_party": "thirdparty"}
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# A link goes into an SMS and an href as it is: only URL characters (RFC 3986), nothing that
# could end it, break a line or need quoting.
_LINK_RE = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class RenderedMessage:
    """An invitation, ready to be put in an :class:`~.port.OutgoingMessage`."""

    subject: str | None
    """E-mail subject; ``None`` for an SMS."""
    text: str
    """The SMS, or the e-mail's plain-text part."""
    html: str | None
    """The e-mail's HTML part; ``None`` for an SMS."""


def render_invitation(
    language: str,
    channel: Channel,
    *,
    role: InvitationRole,
    link: str,
    expires_at: datetime,
    sender_name: str,
    timezone: str = "Europe/Paris",
    now: datetime | None = None,
) -> RenderedMessage:
    """Write the invitation carrying ``link``, valid until ``expires_at``, signed ``sender_name``.

    ``language`` may be a tag such as ``fr-FR``; one without templates falls back to French.
    The expiry is shown in ``timezone``'s local time, with its date when it is not on the same
    day as ``now`` (default: the current time). Raises :class:`ValueError` on a link that is not
    a plain http(s) URL, a naive ``expires_at``, or control characters in ``sender_name``.
    """
    if not _LINK_RE.fullmatch(link):
        raise ValueError(f"link must be an http(s) URL without spaces: {link!r}")
    if not sender_name.strip() or _CONTROL_RE.search(sender_name):
        raise ValueError(f"sender name must be a non-empty single line: {sender_name!r}")
    lang = _language(language)
    prefix = _PREFIXES[role]
    values = {
        "link": link,
        "expires": format_expiry(lang, expires_at, timezone=timezone, now=now),
        "sender": sender_name.strip(),
    }
    if channel is Channel.SMS:
        return RenderedMessage(
            subject=None, text=_render(lang, f"{prefix}_sms.txt", values).strip(), html=None
        )
    escaped = {name: html.escape(value, quote=True) for name, value in values.items()}
    return RenderedMessage(
        subject=_render(lang, f"{prefix}_email_subject.txt", values).strip(),
        text=_render(lang, f"{prefix}_email.txt", values),
        html=_render(lang, f"{prefix}_email.html", escaped),
    )


def format_expiry(
    language: str,
    expires_at: datetime,
    *,
    timezone: str = "Europe/Paris",
    now: datetime | None = None,
) -> str:
    """When a link stops working, as written in an invitation.

    ``14h32`` (French) or ``14:32`` (English) in ``timezone``'s local time; the date is added
    when the expiry is not on the same day as ``now`` there (``14h32 le 01/12``,
    ``14:32 on 1 Dec``).
    """
    if expires_at.tzinfo is None or expires_at.utcoffset() is None:
        raise ValueError(f"naive datetime refused: {expires_at!r}")
    zone = ZoneInfo(timezone)
    local = expires_at.astimezone(zone)
    today = (now or utcnow()).astimezone(zone).date()
    lang = _language(language)
    if lang == "en":
        shown = f"{local:%H:%M}"
        if local.date() != today:
            shown += f" on {local.day} {_MONTHS_EN[local.month - 1]}"
        return shown
    shown = f"{local:%H}h{local:%M}"
    if local.date() != today:
        shown += f" le {local:%d/%m}"
    return shown


def _language(language: str) -> str:
    base = language.strip().lower().replace("_", "-").split("-")[0]
    return base if base in SUPPORTED_LANGUAGES else DEFAULT_LANGUAGE


@functools.cache
def _template(language: str, name: str) -> Template:
    return Template((TEMPLATES_DIR / language / name).read_text(encoding="utf-8"))


def _render(language: str, name: str, values: dict[str, str]) -> str:
    # substitute(), not safe_substitute(): a misspelt placeholder must fail in the tests, not
    # reach a patient as "$lnk".
    return _template(language, name).substitute(values)
