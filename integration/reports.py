"""A session's report for the patient's record: what was seen, when, by whom.

:func:`build_report` gathers, from the session's log and files, what the report says (the centre,
the times in the centre's time zone, the regulators, the call, the invitation's delivery, the
timeline in words, the documents and the stills); :mod:`.report_html` and :mod:`.report_pdf`
render it. Texts come from the console's message catalogue, French first; whatever users typed
(messages, names, documents' names) stays plain text here and is escaped by each renderer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from . import accounts
from .documents import Documents
from .i18n import Catalogue
from .sessions.models import Invitation, SessionEvent
from .sessions.services import SessionService
from .stills import Stills
from .store.models import Centre, utcnow

__all__ = [
    "Report",
    "ReportDocument",
    "ReportInvitation",
    "ReportLine",
    "ReportStill",
    "build_report",
    "display_number",
    "file_name",
    "sequence",
    "timeline_text",
    "when",
]

_SERVICE_ACTORS = ("system", "asterisk", "gateway", "patient", "third_party")
"""Actors that are not people: named in words (« le service »...)."""

# Coming and going to the video says nothing of the patient: left out, as the console does.
_HIDDEN = frozenset({"video.viewer_joined", "video.viewer_left"})


@dataclass(frozen=True, slots=True)
class ReportLine:
    """One line of the timeline."""

    at: datetime
    """In the centre's time zone."""
    text: str


@dataclass(frozen=True, slots=True)
class ReportInvitation:
    """A link sent, and what became of it."""

    role: str
    channel: str
    destination: str
    """As people read it (``06 12 34 56 78``)."""
    sent_at: datetime
    status: str
    """The delivery in words (« remis », « échec »...)."""
    opened_at: datetime | None


@dataclass(frozen=True, slots=True)
class ReportDocument:
    """A document or photo exchanged during the session (its name only)."""

    at: datetime
    name: str
    direction: str
    """In words: « envoyé au patient », « reçu du patient »."""


@dataclass(frozen=True, slots=True)
class ReportStill:
    """A screenshot of the patient's video, with its bytes (JPEG)."""

    number: int
    at: datetime
    taken_by: str
    jpeg: bytes


@dataclass(frozen=True, slots=True)
class Report:
    """Everything a session's report says, in words, ready to render."""

    language: str
    session_id: str
    centre: str
    time_zone: str
    state: str
    opened_at: datetime
    ended_at: datetime | None
    opened_by: str
    regulators: tuple[str, ...]
    """Everyone who acted as a regulator or doctor, by display name, in order of appearance."""
    position: str | None
    call_id: str | None
    caller_number: str | None
    invitations: tuple[ReportInvitation, ...]
    timeline: tuple[ReportLine, ...]
    documents: tuple[ReportDocument, ...]
    stills: tuple[ReportStill, ...]
    generated_at: datetime
    labels: Mapping[str, str] = field(default_factory=dict)
    """The renderers' fixed texts in the report's language (``report.*`` keys)."""

    def label(self, key: str, **params: object) -> str:
        """A fixed text of the report, ``{name}`` placeholders filled."""
        text = self.labels.get(key, key)
        try:
            return text.format(**params) if params else text
        except (KeyError, IndexError, ValueError):
            return text


def display_number(value: str | None) -> str:
    """A French number in its national form (``06 12 34 56 78``), anything else as it is
    (the console's ``displayDestination``)."""
    if not value:
        return ""
    for prefix in ("+33", "+262", "+590", "+594", "+596"):
        national = value[len(prefix) :]
        if value.startswith(prefix) and len(national) == 9 and national.isdigit():
            if national.startswith("8"):
                groups = ["0", national[:3]] + [national[i : i + 2] for i in range(3, 9, 2)]
            else:
                groups = ["0" + national[0]] + [national[i : i + 2] for i in range(1, 9, 2)]
            return "\u00a0".join(groups)
    if value.startswith("+508") and len(value) == 10 and value[1:].isdigit():
        return "0" + "\u00a0".join(value[i : i + 2] for i in range(4, 10, 2))
    return value


class _Words:
    """The catalogue in one language, and the people's display names."""

    def __init__(self, catalogue: Catalogue, language: str, people: Mapping[str, str]) -> None:
        self.catalogue = catalogue
        self.language = language
        self.people = people

    def __call__(self, key: str, **params: object) -> str:
        return self.catalogue.get(self.language, key, **params)

    def has(self, key: str) -> bool:
        return self.catalogue.get(self.language, key) != key

    def actor(self, actor: str) -> str:
        if actor.startswith("cad:"):
            return self("actor.cad", name=":".join(actor.split(":")[2:]) or "cad")
        if actor in _SERVICE_ACTORS:
            return self(f"actor.{actor}")
        return self.people.get(actor, actor)


def timeline_text(words: _Words, event: SessionEvent, invitations: Mapping[str, Invitation]) -> str:
    """One timeline event in words (the console's ``timelineLine`` for what a report shows)."""
    details: dict[str, Any] = event.details or {}
    invitation = invitations.get(str(details.get("invitation_id", "")))
    sent_by = details.get("channel") or (invitation.channel if invitation else "sms")
    channel = "email" if sent_by == "email" else "sms"
    destination = display_number(
        str(details.get("destination") or (invitation.destination if invitation else ""))
    )
    sent_to = details.get("role") or (invitation.role if invitation else "patient")
    role = "third_party" if sent_to == "third_party" else "patient"
    actor = words.actor(event.actor or "")
    kind = event.type
    simple = {
        "call.paired": "timeline.call.paired",
        "call.pairing_failed": "timeline.call.pairing_failed",
        "call.ended": "timeline.call.ended",
        "camera.allowed": "timeline.camera.allowed",
        "patient.left": "timeline.patient.left",
        "video.live": "timeline.video.live",
        "video.lost": "timeline.video.lost",
        "video.moved": "timeline.video.moved",
        "session.expired": "timeline.session.expired",
        "location.follow_started": "timeline.location.follow_started",
        "video.stalled": "timeline.video.stalled",
        "video.photo_mode_ended": "timeline.reported.photo_mode_ended",
        "video.reconnecting": "timeline.reported.reconnecting",
    }
    if kind in simple:
        return words(simple[kind])
    if kind == "session.created":
        return words("timeline.session.created", actor=actor)
    if kind == "invitation.created":
        return words(
            f"timeline.invitation.created.{role}",
            destination=destination,
            channel=words(f"channel.{channel}"),
        )
    if kind in ("invitation.sent", "invitation.delivered", "invitation.simulated"):
        return words(f"timeline.{kind}.{channel}", destination=destination)
    if kind == "invitation.undelivered":
        return words(f"timeline.invitation.undelivered.{channel}", destination=destination)
    if kind == "invitation.failed":
        code = str(details.get("error_id") or details.get("error_code") or "unknown")
        reason_key = f"delivery.error.{code}"
        reason = words(reason_key) if words.has(reason_key) else words("delivery.error.unknown")
        return words(f"timeline.invitation.failed.{channel}", reason=reason)
    if kind == "invitation.revoked":
        return words("timeline.invitation.revoked", destination=destination)
    if kind == "invitation.retried":
        return words("timeline.invitation.retried", destination=destination, actor=actor)
    if kind == "link.opened":
        again = "reopened" if details.get("first") is False else "opened"
        return words(f"timeline.link.{again}.{role}")
    if kind == "link.taken_over":
        return words(f"timeline.link.taken_over.{role}")
    if kind == "call.answered":
        return words("timeline.call.answered", position=str(details.get("position", "")))
    if kind == "call.transferred":
        return words(
            "timeline.call.transferred",
            **{"from": str(details.get("from", "")), "to": str(details.get("to", ""))},
        )
    if kind in ("camera.denied", "camera.unavailable"):
        return words(f"timeline.{kind}", detail=str(details.get("detail", "")))
    if kind == "text.sent":
        return words("timeline.text.sent", actor=actor, text=str(details.get("text", "")))
    if kind == "text.received":
        return words("timeline.text.received", text=str(details.get("text", "")))
    if kind == "still.taken":
        return words("timeline.still.taken", actor=actor)
    if kind == "session.ended":
        why = details.get("reason")
        if why and why != "ended_by_regulator" and words.has(f"end.reason.{why}"):
            return words(
                "timeline.session.ended.reason", actor=actor, reason=words(f"end.reason.{why}")
            )
        return words("timeline.session.ended", actor=actor)
    if kind == "document.sent":
        return words("timeline.document.sent", actor=actor, name=str(details.get("name", "")))
    if kind == "document.received":
        return words("timeline.document.received", name=str(details.get("name", "")))
    if kind == "photo.taken":
        key = "timeline.photo.photo_mode" if details.get("photo_mode") else "timeline.photo.taken"
        return words(key, name=str(details.get("name", "")))
    if kind == "location.asked":
        follow = bool(details.get("follow"))
        return words(
            "timeline.location.asked_follow" if follow else "timeline.location.asked", actor=actor
        )
    if kind == "location.received":
        place = str(details.get("address") or "") or _coordinates(details)
        accuracy = f"{round(float(details.get('accuracy') or 0))} m"
        key = (
            "timeline.location.received_imprecise"
            if details.get("imprecise")
            else "timeline.location.received"
        )
        return words(key, place=place, accuracy=accuracy)
    if kind == "location.follow_stopped":
        patient = details.get("by") == "patient"
        return words(
            "timeline.location.follow_stopped_patient"
            if patient
            else "timeline.location.follow_stopped"
        )
    return _video_text(words, kind, details, channel) or words("timeline.unknown", type=kind)


_PATHS = ("direct", "turn-udp", "turn-tcp", "turn-tls")
_NO_PATH = ("turn_unreachable", "turn_refused", "no_candidates")


def _video_text(words: _Words, kind: str, details: Mapping[str, Any], channel: str) -> str | None:
    """The video's and the page's own events in words (the console's ``pathTimelineLine`` and
    ``outcomeTimelineLine``); None for another event."""
    third = str(details.get("participant_id", "")).startswith("third_party:")
    text: str | None = None
    if kind == "video.path":
        path = details.get("path") if details.get("path") in _PATHS else "direct"
        name = words(f"path.{path}")
        rtt = details.get("rtt_ms")
        if isinstance(rtt, int):
            name = words("path.with_rtt", path=name, rtt=str(rtt))
        text = words("timeline.video.path", path=name)
    elif kind == "video.no_path":
        reason = details.get("reason") if details.get("reason") in _NO_PATH else "no_candidates"
        text = words(f"path.none.{reason}")
    elif kind == "video.resumed":
        seconds = max(1, round(float(details.get("stalled_ms") or 0) / 1000))
        return words("timeline.video.resumed", seconds=str(seconds))
    elif kind == "link.not_opened":
        return words(f"timeline.link.not_opened.{channel}", minutes=str(details.get("minutes", "")))
    elif kind == "patient.browser_unsupported":
        app = details.get("app")
        if app:
            return words("timeline.reported.browser_unsupported.app", app=str(app))
        return words("timeline.reported.browser_unsupported")
    elif kind == "video.photo_mode":
        weak = details.get("reason") == "weak_link"
        return words(
            "timeline.reported.photo_mode.weak_link" if weak else "timeline.reported.photo_mode"
        )
    if text is not None and third:
        return words("path.third_party", line=text)
    return text


def _coordinates(details: Mapping[str, Any]) -> str:
    try:
        return f"{float(details['latitude']):.5f}, {float(details['longitude']):.5f}"
    except (KeyError, TypeError, ValueError):
        return "?"


def _delivery(words: _Words, invitation: Invitation) -> str:
    key = f"report.delivery.{invitation.delivery_status}"
    return words(key) if words.has(key) else invitation.delivery_status


async def build_report(
    service: SessionService,
    stills: Stills,
    documents: Documents,
    catalogue: Catalogue,
    session_id: str,
    *,
    time_zone: str,
    language: str = "fr",
) -> Report:
    """The report of one session (``SessionNotFound`` when there is none): times in
    ``time_zone``, texts in ``language``; the stills' bytes are read from the storage."""
    detail = await service.get(session_id)
    session = detail.session
    zone = ZoneInfo(time_zone)
    named: list[str] = [session.created_by]
    for event in detail.events:
        if event.actor and event.actor not in _SERVICE_ACTORS and not event.actor.startswith("cad"):
            named.append(event.actor)
    if session.ended_by:
        named.append(session.ended_by)
    async with service.db() as db:
        people = await accounts.display_names(db, sorted(set(named)))
        centre = await db.scalar(select(Centre.name).where(Centre.id == session.centre_id))
    words = _Words(catalogue, language, people)
    regulators: list[str] = []
    for username in named:
        if username in people and people[username] not in regulators:
            regulators.append(people[username])
    invitations = {invitation.id: invitation for invitation in detail.invitations}
    timeline = tuple(
        ReportLine(event.at.astimezone(zone), timeline_text(words, event, invitations))
        for event in detail.events
        if event.type not in _HIDDEN
    )
    kept = []
    for still in reversed(await stills.list(session_id)):
        _, jpeg = await stills.read(session_id, still.id)
        at = still.taken_at.astimezone(zone)
        kept.append(ReportStill(still.number, at, words.actor(still.taken_by), jpeg))
    files = [
        ReportDocument(
            document.sent_at.astimezone(zone),
            document.name,
            words(f"report.direction.{document.direction}"),
        )
        for document in reversed(await documents.list(session_id))
    ]
    return Report(
        language=language,
        session_id=session.id,
        centre=centre or "",
        time_zone=time_zone,
        state=words(f"session.state.{session.state}"),
        opened_at=session.created_at.astimezone(zone),
        ended_at=session.ended_at.astimezone(zone) if session.ended_at else None,
        opened_by=words.actor(session.created_by),
        regulators=tuple(regulators),
        position=session.position,
        call_id=session.call_id,
        caller_number=display_number(session.caller_number) or None,
        invitations=tuple(
            ReportInvitation(
                role=words(f"report.role.{invitation.role}"),
                channel=words(f"channel.{invitation.channel}"),
                destination=display_number(invitation.destination),
                sent_at=invitation.created_at.astimezone(zone),
                status=_delivery(words, invitation),
                opened_at=invitation.opened_at.astimezone(zone) if invitation.opened_at else None,
            )
            for invitation in detail.invitations
        ),
        timeline=timeline,
        documents=tuple(files),
        stills=tuple(kept),
        generated_at=utcnow().astimezone(zone),
        labels={
            key: text
            for key, text in catalogue.bundle(language).items()
            if key.startswith("report.")
        },
    )


def file_name(report: Report, extension: str) -> str:
    """``rapport-visio-<date>-<id prefix>.<extension>``: the day it opened, in the centre's
    time zone."""
    day = report.opened_at.date().isoformat()
    return f"rapport-visio-{day}-{report.session_id[:8]}.{extension}"


def when(report: Report, moment: datetime | None, *, with_date: bool = True) -> str:
    """A time as the report writes it (``05/12/2026 14:03:27``), empty for none."""
    if moment is None:
        return ""
    return moment.strftime("%d/%m/%Y %H:%M:%S" if with_date else "%H:%M:%S")


def sequence(values: Sequence[str]) -> str:
    """Names joined for a sentence."""
    return ", ".join(values)
