"""Who may do what: one table of rules for every route and socket message, and the policy.

Each route of the application (method and path) and each message type of its three sockets (the
console's, the patient page's and the CAD's events) has exactly one :class:`Rule`. A rule names the
credential the request must carry (none, a patient link, Twilio's signature, a console login, an
API key), the roles that may use it, and whether it acts on one session (then only the session's
centre may see it). Web checks the routes in one middleware and each socket in its dispatcher; a
test walks every route and message type of the application and fails when one has no rule here.

Decisions:

- History, video, invitations and ending a session are for **regulators and doctors** of the
  session's centre, nobody else. ``admin`` (a centre's administrator) and ``platform_admin``
  manage accounts, positions and centres (the administration page, the command line) and may
  sign in to the console, but see no session, no call and no video: callers' numbers and images
  are health data that only the people regulating may see.
- **Administration** (``/console/admin/api``) is for administrators only: a centre's
  administrator manages their own centre (another centre, and its accounts, are answered like
  unknown ones, by the domain: :mod:`.centre_admin`), never gives nor touches the platform
  administrator's role; a platform administrator manages every centre and alone creates one.
- An account whose password an administrator reset must choose its own first: every route
  reserved to some roles refuses it (``password_change_required``) until it has.
- A **disabled** account can do nothing (its console login is refused on every request).
- A session of **another centre** is answered exactly like an unknown one (``SessionNotFound``).
- A CAD **API key** acts for the account it names (``console.api_keys``), within that account's
  rights and centre: the account must be an enabled regulator or doctor, or the key can do
  nothing (nor when the key also names a centre that is not the account's). A key naming no
  account (a plain key) belongs to the centre it names (``default`` when none) and reads that
  centre's live calls and their events only, never a session. The CAD's event stream of any key
  carries the session updates of its own centre only (and none for a plain key).
- A CAD **deep-link issuer** naming a centre signs in that centre's regulators only; a token
  naming an account of another centre is refused like one naming an unknown account.
- A **screen** is shared by regulators and doctors of the session's centre only; the pages of a
  link (patient, third party) only receive it: they have no message that shares.
- **Documents and photos** of a session: the session's centre sends, lists and downloads them;
  the patient's link (with its browser's key) sends, lists and downloads its own session's, and
  sees no regulator's name.
- On the patient page's socket, the link's **role** decides too (:data:`LINK_ROLES`): the patient
  sends its camera, its camera's state, its answers to commands and its texts; a **third party**
  sends its own camera and may watch the patient's video only when the regulator allowed it for
  that invitation (checked by the socket); a third party never answers a command nor writes, and
  the patient watches nobody.

The policy raises domain exceptions (:class:`NotAllowed`, ``SessionNotFound``); web maps them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import DomainError
from .sessions.errors import SessionNotFound
from .sessions.models import VisioSession
from .store.models import Role

__all__ = [
    "CAD_SOCKET",
    "CONSOLE_SOCKET",
    "LINK_ROLES",
    "PATIENT_SOCKET",
    "ROUTES",
    "SESSION_ROLES",
    "Credential",
    "NotAllowed",
    "Principal",
    "Rule",
    "check_link_role",
    "check_role",
    "check_session",
    "message_rule",
    "route_rule",
]


class Credential(enum.StrEnum):
    """What a request must carry."""

    NONE = "none"
    """Nothing: public pages, files and the health check."""
    LINK = "link"
    """A patient link's token (checked by the patient page: a capability for one session)."""
    TWILIO = "twilio"
    """Twilio's request signature (checked by the callback handler)."""
    CONSOLE = "console"
    """A console login cookie of an enabled account."""
    API_KEY = "api_key"
    """A CAD API key in ``Authorization: Bearer``."""
    INSTANCE = "instance"
    """Proof that another instance of the service passed it (``service.cluster_secret``)."""


SESSION_ROLES: frozenset[Role] = frozenset({Role.REGULATOR, Role.DOCTOR})
"""The roles that see and act on sessions, calls and videos."""


@dataclass(frozen=True, slots=True)
class Rule:
    """What a route or a socket message requires."""

    credential: Credential
    roles: frozenset[Role] | None = None
    """Roles allowed; None when the credential alone decides (any enabled account, any key)."""
    session: bool = False
    """It acts on one session (``session_id``): only that session's centre may."""


PUBLIC = Rule(Credential.NONE)
LINK = Rule(Credential.LINK)
TWILIO = Rule(Credential.TWILIO)
SIGNED_IN = Rule(Credential.CONSOLE)
REGULATING = Rule(Credential.CONSOLE, SESSION_ROLES)
REGULATING_SESSION = Rule(Credential.CONSOLE, SESSION_ROLES, session=True)
ADMINISTERING = Rule(Credential.CONSOLE, frozenset({Role.ADMIN, Role.PLATFORM_ADMIN}))
PLATFORM = Rule(Credential.CONSOLE, frozenset({Role.PLATFORM_ADMIN}))
CAD = Rule(Credential.API_KEY)
CAD_REGULATING = Rule(Credential.API_KEY, SESSION_ROLES)
CAD_REGULATING_SESSION = Rule(Credential.API_KEY, SESSION_ROLES, session=True)

INSTANCE = Rule(Credential.INSTANCE)

ROUTES: Mapping[tuple[str, str], Rule] = {
    # Public: pages that hold no data, files, the catalogues, the health check and the API's
    # description. ``/console`` itself redirects to the login form when not signed in.
    ("GET", "/"): PUBLIC,
    ("GET", "/console"): PUBLIC,
    ("GET", "/console/login"): PUBLIC,
    ("POST", "/console/login"): PUBLIC,
    # The CAD's deep link: its signed, single-use token is the credential, checked by the
    # handler (issuer's key, audience, a minute at most); rate-limited per client address.
    ("GET", "/console/cad"): PUBLIC,
    # Pro Santé Connect: before any login, by definition. The start only redirects; the callback
    # is checked by its state (this browser's, used once), the ID token and the userinfo; the
    # back-channel logout by the provider's signed logout token. All rate-limited per address.
    ("GET", "/console/psc/start"): PUBLIC,
    ("GET", "/console/psc/callback"): PUBLIC,
    ("POST", "/console/psc/backchannel-logout"): PUBLIC,
    ("GET", "/console/locales/{language}.json"): PUBLIC,
    ("GET", "/console/static"): PUBLIC,
    ("GET", "/patient/static"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    # Checked by the client's address (``service.metrics_allow``), as Prometheus scrapes.
    ("GET", "/metrics"): PUBLIC,
    # The technical test page and its throw-away peer: before any session, for anyone (the
    # offer is rate-limited per address and the peer closes after a few seconds).
    ("GET", "/test"): PUBLIC,
    ("POST", "/test/offer"): PUBLIC,
    ("GET", "/api/v1/openapi.yaml"): PUBLIC,
    # Another instance's console, for one session whose room this instance holds: that
    # instance checked the console's login and the session's centre before passing it on.
    ("GET", "/internal/sessions/{session_id}/console"): INSTANCE,
    # The patient's link is the credential of its page and its socket.
    ("GET", "/p/{token}"): LINK,
    ("GET", "/p/{token}/ws"): LINK,
    # The test page opened from a link: its result joins the link's session.
    ("GET", "/p/{token}/test"): LINK,
    ("POST", "/p/{token}/test/result"): LINK,
    ("POST", "/webhooks/twilio/status"): TWILIO,
    # Any enabled account: who am I, which position, sign out.
    ("GET", "/console/api/me"): SIGNED_IN,
    ("POST", "/console/api/position"): SIGNED_IN,
    ("POST", "/console/logout"): SIGNED_IN,
    # One's own password: the page (redirects to the login form when not signed in) and the
    # change itself (the current password required, CSRF token, throttled per account).
    ("GET", "/console/password"): PUBLIC,
    ("POST", "/console/api/password"): SIGNED_IN,
    # Administration: the page (redirects to the login form when not signed in, to the console
    # for regulators and doctors) and its API, for administrators; each centre is checked by the
    # domain (a centre administrator's own only). Creating a centre: platform administrators.
    ("GET", "/console/admin"): PUBLIC,
    ("GET", "/console/admin/api/centres"): ADMINISTERING,
    ("POST", "/console/admin/api/centres"): PLATFORM,
    ("POST", "/console/admin/api/centres/{centre_id}"): ADMINISTERING,
    ("GET", "/console/admin/api/centres/{centre_id}/positions"): ADMINISTERING,
    ("POST", "/console/admin/api/centres/{centre_id}/positions"): ADMINISTERING,
    ("POST", "/console/admin/api/centres/{centre_id}/positions/remove"): ADMINISTERING,
    ("GET", "/console/admin/api/centres/{centre_id}/accounts"): ADMINISTERING,
    ("POST", "/console/admin/api/centres/{centre_id}/accounts"): ADMINISTERING,
    ("POST", "/console/admin/api/centres/{centre_id}/accounts/{account_id}"): ADMINISTERING,
    (
        "POST",
        "/console/admin/api/centres/{centre_id}/accounts/{account_id}/password",
    ): ADMINISTERING,
    ("POST", "/console/admin/api/centres/{centre_id}/accounts/{account_id}/unlock"): ADMINISTERING,
    ("POST", "/console/admin/api/centres/{centre_id}/accounts/{account_id}/state"): ADMINISTERING,
    # Calls, sessions, videos: regulators and doctors, of the session's centre.
    ("GET", "/console/ws"): REGULATING,
    ("GET", "/console/api/outbox"): REGULATING,
    ("GET", "/console/api/sessions"): REGULATING,
    ("POST", "/console/api/sessions"): REGULATING,
    ("GET", "/console/api/sessions/{session_id}"): REGULATING_SESSION,
    ("POST", "/console/api/sessions/{session_id}/invitations"): REGULATING_SESSION,
    (
        "POST",
        "/console/api/sessions/{session_id}/invitations/{invitation_id}/retry",
    ): REGULATING_SESSION,
    ("POST", "/console/api/sessions/{session_id}/end"): REGULATING_SESSION,
    # The patient's video in a separate window: as the room, for the session's centre only.
    ("GET", "/console/sessions/{session_id}/video"): REGULATING_SESSION,
    # Screenshots of the patient's video: taken, listed and downloaded by the session's centre.
    ("POST", "/console/api/sessions/{session_id}/stills"): REGULATING_SESSION,
    ("GET", "/console/api/sessions/{session_id}/stills"): REGULATING_SESSION,
    ("GET", "/console/api/sessions/{session_id}/stills/{still_id}"): REGULATING_SESSION,
    # Documents and photos, both ways: the session's centre sends, lists and downloads them; the
    # patient's link (with its browser's key) sends, lists and downloads its own session's.
    ("POST", "/console/api/sessions/{session_id}/documents"): REGULATING_SESSION,
    ("GET", "/console/api/sessions/{session_id}/documents"): REGULATING_SESSION,
    ("GET", "/console/api/sessions/{session_id}/documents/{document_id}"): REGULATING_SESSION,
    # A session's report (printable page and PDF): the session's centre; every view and
    # download goes in the audit log.
    ("GET", "/console/sessions/{session_id}/report"): REGULATING_SESSION,
    ("GET", "/console/api/sessions/{session_id}/report.pdf"): REGULATING_SESSION,
    ("POST", "/p/{token}/documents"): LINK,
    ("GET", "/p/{token}/documents"): LINK,
    ("GET", "/p/{token}/documents/{document_id}"): LINK,
    # Resumable uploads: the patient's link (with its browser's key), on its own session's only.
    ("POST", "/p/{token}/uploads"): LINK,
    ("GET", "/p/{token}/uploads/{upload_id}"): LINK,
    ("PATCH", "/p/{token}/uploads/{upload_id}"): LINK,
    # The CAD: live calls for any key; sessions for a key acting for a regulator or doctor.
    ("GET", "/api/v1/calls"): CAD,
    ("GET", "/api/v1/calls/{call_id}"): CAD,
    ("GET", "/api/v1/events"): CAD,
    ("GET", "/api/v1/sessions"): CAD_REGULATING,
    ("POST", "/api/v1/sessions"): CAD_REGULATING,
    ("GET", "/api/v1/sessions/{session_id}"): CAD_REGULATING_SESSION,
    # The report and the files of a session, for a key acting for a regulator or doctor of the
    # session's centre (another centre's session: 404).
    ("GET", "/api/v1/sessions/{session_id}/report.pdf"): CAD_REGULATING_SESSION,
    ("GET", "/api/v1/sessions/{session_id}/files"): CAD_REGULATING_SESSION,
    ("GET", "/api/v1/sessions/{session_id}/files/{file_id}"): CAD_REGULATING_SESSION,
}
"""Every route, by (method, path as declared); ``HEAD`` follows ``GET``."""

CONSOLE_SOCKET: Mapping[str, Rule] = {
    "ping": REGULATING,
    "watch": REGULATING_SESSION,
    "unwatch": REGULATING_SESSION,
    "video.answer": REGULATING_SESSION,
    # A typed message to the patient of one of the centre's sessions.
    "text.send": REGULATING_SESSION,
    # Remote control of the caller's camera: regulators and doctors of the session's centre.
    "command": REGULATING_SESSION,
    # Sharing the regulator's screen with the patient: regulators and doctors of the centre.
    "screen.prepare": REGULATING_SESSION,
    "screen.start": REGULATING_SESSION,
    "screen.stop": REGULATING_SESSION,
    # The caller's position: asked (and followed) by regulators and doctors of the centre.
    "location.ask": REGULATING_SESSION,
    "location.stop": REGULATING_SESSION,
}
"""Messages a console sends on ``/console/ws`` (the socket itself is for regulators and doctors,
bound to their position: it hears that position's calls only)."""

PATIENT_SOCKET: Mapping[str, Rule] = {
    "camera": LINK,
    "offer": LINK,
    # The candidates of the page's own offer, trickled after it.
    "candidate": LINK,
    "end": LINK,
    "ping": LINK,
    # The patient's typed answer, on their own session (a third party: nothing, for now).
    "text": LINK,
    # The page's camera and its answers to commands (a page never sends a command).
    "camera.state": LINK,
    "command.result": LINK,
    # The regulator's shared screen: the page only receives it (a page never shares).
    "screen.watch": LINK,
    "screen.answer": LINK,
    # The caller's position: an answer to a request, a fix while the patient lets the regulator
    # follow, the patient stopping it (a fix nobody asked for is refused by the domain).
    "location.result": LINK,
    "location.update": LINK,
    "location.stopped": LINK,
    # The patient's page tells it sends photos instead of its video, then video again.
    "photo_mode": LINK,
    "photo_mode_ended": LINK,
    # A third party allowed to see the patient watches the patient's video.
    "watch": LINK,
    "video.answer": LINK,
    # The network path of the page's own video (or why there is none), never another's.
    "path": LINK,
    "no_path": LINK,
    # The page's own conditions (an in-app view without camera, a new video connection), for
    # the session's log.
    "browser_unsupported": LINK,
    "reconnecting": LINK,
}
"""Messages the patient page sends on ``/p/<token>/ws``: each acts on the link's own session."""

LINK_ROLES: Mapping[str, frozenset[str]] = {
    "camera": frozenset({"patient", "third_party"}),
    "offer": frozenset({"patient", "third_party"}),
    "candidate": frozenset({"patient", "third_party"}),
    "end": frozenset({"patient", "third_party"}),
    "ping": frozenset({"patient", "third_party"}),
    "text": frozenset({"patient"}),
    "camera.state": frozenset({"patient"}),
    "command.result": frozenset({"patient"}),
    # Only a third party watches (and only if its invitation allows it); the patient sees no one.
    "watch": frozenset({"third_party"}),
    "video.answer": frozenset({"third_party"}),
    # The shared screen is shown on every link's page (its own module checks the role).
    "screen.watch": frozenset({"patient", "third_party"}),
    "screen.answer": frozenset({"patient", "third_party"}),
    # Only the patient's phone is located.
    "location.result": frozenset({"patient"}),
    "location.update": frozenset({"patient"}),
    "location.stopped": frozenset({"patient"}),
    # Every page that publishes reports its own video's path.
    "path": frozenset({"patient", "third_party"}),
    "no_path": frozenset({"patient", "third_party"}),
    # Photos instead of video are the patient's (a third party has no documents).
    "photo_mode": frozenset({"patient"}),
    "photo_mode_ended": frozenset({"patient"}),
    # The patient's browser and video connection; a third party's page reports nothing of them.
    "browser_unsupported": frozenset({"patient"}),
    "reconnecting": frozenset({"patient"}),
}
"""Which link roles may send each message of :data:`PATIENT_SOCKET`."""

CAD_SOCKET: Mapping[str, Rule] = {}
"""Messages the CAD sends on ``/api/v1/events``: none, the stream is one-way (anything received is
ignored). What it carries is its key's centre's: that centre's calls, and, for a key acting for a
regulator or doctor, that centre's session updates (``web/notifier.py``)."""


def route_rule(method: str, path: str) -> Rule | None:
    """The rule of a route (``path`` as declared, e.g. ``/console/api/sessions/{session_id}``)."""
    return ROUTES.get(("GET" if method == "HEAD" else method, path))


def message_rule(socket: Mapping[str, Rule], message_type: object) -> Rule | None:
    """The rule of one message type on a socket; None for a type the socket does not take."""
    return socket.get(message_type) if isinstance(message_type, str) else None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who acts: a console account, or the account a CAD key acts for, or a key alone."""

    username: str | None
    """The account's username; None for an API key that names no account."""
    role: Role | None
    centre_id: int | None
    api_key: str | None = None
    """The id of the API key the request came with (its hash prefix), if any."""


class NotAllowed(DomainError):
    """The principal may not do this (``forbidden``, or a more precise slug such as
    ``position_not_allowed``)."""

    error_id = "forbidden"


def check_role(rule: Rule, principal: Principal) -> None:
    """Raise :class:`NotAllowed` unless ``principal``'s role is one ``rule`` allows (a key acting
    for an account that is not a regulator or doctor is allowed nothing)."""
    if rule.roles is not None and principal.role not in rule.roles:
        raise NotAllowed()
    if principal.api_key and principal.username is not None and principal.role not in SESSION_ROLES:
        raise NotAllowed()


async def check_session(db: AsyncSession, principal: Principal, session_id: str) -> None:
    """Raise ``SessionNotFound`` unless the session exists in ``principal``'s centre (a session of
    another centre is answered exactly like an unknown one)."""
    centre_id = await db.scalar(select(VisioSession.centre_id).where(VisioSession.id == session_id))
    if centre_id is None or centre_id != principal.centre_id:
        raise SessionNotFound()


def check_link_role(message_type: str, role: str) -> None:
    """Raise :class:`NotAllowed` unless a link of ``role`` may send ``message_type``."""
    if role not in LINK_ROLES.get(message_type, frozenset()):
        raise NotAllowed()
