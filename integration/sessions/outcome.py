"""What became of a session, in one word, with the regulator's next step: read from its log.

The log says everything that happened (the link's delivery, the page's camera, the video's path,
its stalls and losses, photos instead of video); the regulator under stress needs one line: is the
video there, and if not, why, and what to do. :func:`session_outcome` folds a session's events
into that one :class:`Outcome`, while the session runs (the current situation) and once it has
ended (the best it reached, or why it reached nothing). It reads the log only: the events other
parts write (a network path, photo mode, a browser without camera) count as soon as they appear.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

__all__ = [
    "OUTCOME_EVENTS",
    "LoggedEvent",
    "NextStep",
    "Outcome",
    "OutcomeKind",
    "session_outcome",
]


class OutcomeKind(StrEnum):
    """Where a session stands, or how it ended."""

    WAITING = "waiting"
    """Nothing to act on yet: the link is on its way, or no link was sent."""
    NOT_DELIVERED = "not_delivered"
    """The patient's SMS or e-mail could not be delivered."""
    LINK_NOT_OPENED = "link_not_opened"
    """The link was delivered (or sent) but not opened."""
    LINK_OPENED = "link_opened"
    """The patient opened the link; the camera is not allowed yet."""
    BROWSER_UNSUPPORTED = "browser_unsupported"
    """The patient's browser (an app's in-app view) has no camera access."""
    CAMERA_REFUSED = "camera_refused"
    """The patient refused the camera."""
    CAMERA_UNAVAILABLE = "camera_unavailable"
    """The camera would not start (used by another app, broken)."""
    CAMERA_ALLOWED = "camera_allowed"
    """Camera allowed, the video is on its way."""
    NO_PATH = "no_path"
    """No network path between the phone and the service (TURN unreachable, refused)."""
    NETWORK_WEAK = "network_weak"
    """The network is too weak for video: photos instead."""
    PHOTOS_ONLY = "photos_only"
    """No frame reached the service: the page sends photos."""
    VIDEO_FROZEN = "video_frozen"
    """The video was established, but no frame came for a while: the picture is frozen."""
    VIDEO_LOST = "video_lost"
    """The video was established, then lost: the page is reconnecting."""
    PATIENT_LEFT = "patient_left"
    """The patient stopped the video themselves."""
    VIDEO_ESTABLISHED = "video_established"
    """The regulator sees the patient's video (or saw it, once the session ended)."""


class NextStep(StrEnum):
    """What the room offers the regulator next (each maps to an existing action)."""

    RETRY = "retry"
    """Send the patient's last invitation again, on its channel."""
    RESEND = "resend"
    """A new link to the patient, on the same channel."""
    EMAIL = "email"
    """A new link to the patient by e-mail."""
    SMS = "sms"
    """A new link to the patient by SMS."""
    PHOTO = "photo"
    """Ask the patient's phone for a photo."""


_TONES: Mapping[OutcomeKind, str] = {
    OutcomeKind.WAITING: "progress",
    OutcomeKind.NOT_DELIVERED: "failed",
    OutcomeKind.LINK_NOT_OPENED: "warning",
    OutcomeKind.LINK_OPENED: "progress",
    OutcomeKind.BROWSER_UNSUPPORTED: "failed",
    OutcomeKind.CAMERA_REFUSED: "failed",
    OutcomeKind.CAMERA_UNAVAILABLE: "failed",
    OutcomeKind.CAMERA_ALLOWED: "progress",
    OutcomeKind.NO_PATH: "failed",
    OutcomeKind.NETWORK_WEAK: "warning",
    OutcomeKind.PHOTOS_ONLY: "warning",
    OutcomeKind.VIDEO_FROZEN: "warning",
    OutcomeKind.VIDEO_LOST: "warning",
    OutcomeKind.PATIENT_LEFT: "progress",
    OutcomeKind.VIDEO_ESTABLISHED: "good",
}

OUTCOME_EVENTS = frozenset(
    {
        "invitation.created",
        "invitation.sent",
        "invitation.simulated",
        "invitation.delivered",
        "invitation.failed",
        "invitation.undelivered",
        "invitation.retried",
        "link.opened",
        "link.not_opened",
        "patient.browser_unsupported",
        "camera.allowed",
        "camera.denied",
        "camera.unavailable",
        "video.path",
        "video.no_path",
        "video.live",
        "video.lost",
        "video.reconnecting",
        "video.stalled",
        "video.resumed",
        "video.photo_mode",
        "video.photo_mode_ended",
        "photo.taken",
        "document.received",
        "patient.left",
        "session.ended",
        "session.expired",
    }
)
"""The event kinds :func:`session_outcome` reads (a list of sessions loads only these)."""


class LoggedEvent(Protocol):
    """What the outcome needs of a log event (a :class:`~.models.SessionEvent` is one)."""

    @property
    def type(self) -> str:
        """The event's kind."""

    @property
    def details(self) -> Mapping[str, Any]:
        """Its facts."""

    @property
    def at(self) -> datetime:
        """When it happened."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """A session's outcome: what it is, how it reads, and what to do next."""

    kind: OutcomeKind
    final: bool
    """The session has ended: this is how it ended."""
    next_steps: tuple[NextStep, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    """Facts the sentence names: ``channel``, ``path``, ``rtt_ms``, ``minutes``, ``reason``,
    ``app``, ``photos``, ``interruptions``."""
    at: datetime | None = None
    """When the deciding event happened."""

    @property
    def tone(self) -> str:
        """``good``, ``progress``, ``warning`` or ``failed``: how the room draws it."""
        return _TONES[self.kind]

    def as_dict(self) -> dict[str, Any]:
        """The JSON the console reads."""
        return {
            "kind": self.kind.value,
            "tone": self.tone,
            "final": self.final,
            "next_steps": [step.value for step in self.next_steps],
            "details": self.details,
            "at": self.at.isoformat() if self.at else None,
        }


@dataclass
class _Fold:
    """What the log says so far, as :func:`session_outcome` reads it in order."""

    channels: dict[str, str] = field(default_factory=dict)
    """Patient invitations' channels, by id."""
    invitation: str | None = None
    """The newest patient invitation."""
    delivery: str | None = None
    """``sent``, ``delivered`` or ``failed`` for the newest patient invitation."""
    delivery_at: datetime | None = None
    not_opened: tuple[int, datetime] | None = None
    """Minutes and time of the reminder about the newest invitation."""
    opened: datetime | None = None
    browser: tuple[Mapping[str, Any], datetime] | None = None
    camera: tuple[str, datetime] | None = None
    """The latest word about the camera: ``allowed``, ``denied`` or ``unavailable``."""
    path: Mapping[str, Any] | None = None
    no_path: tuple[Mapping[str, Any], datetime] | None = None
    live: datetime | None = None
    """Since when the video is live (None when it is not now)."""
    live_ever: datetime | None = None
    lost: datetime | None = None
    """Since when the video is lost (None unless lost now)."""
    interruptions: int = 0
    publisher_lost: bool = False
    """``video.lost`` since the video was last live."""
    reconnecting: bool = False
    """The page said it builds a new connection while the service still held the old one (no
    ``video.lost``): the service logs no new ``video.live`` for it, the new connection's path
    report (or frames again) says the video is back."""
    stalled: datetime | None = None
    photo_mode: tuple[str, datetime] | None = None
    photo_mode_ever: tuple[str, datetime] | None = None
    photos: int = 0
    left: datetime | None = None
    ended: datetime | None = None

    def read(self, event: LoggedEvent) -> None:
        """Take one more event into account."""
        kind, details, at = event.type, event.details or {}, event.at
        invitation_id = str(details.get("invitation_id", ""))
        if kind == "invitation.created":
            if details.get("role", "patient") == "patient":
                self.channels[invitation_id] = str(details.get("channel", "sms"))
                self.invitation, self.delivery, self.delivery_at = invitation_id, None, at
                self.not_opened = None
        elif invitation_id and invitation_id == self.invitation:
            if kind in ("invitation.sent", "invitation.simulated", "invitation.retried"):
                self.delivery, self.delivery_at = "sent", at
            elif kind == "invitation.delivered":
                self.delivery, self.delivery_at = "delivered", at
            elif kind in ("invitation.failed", "invitation.undelivered"):
                self.delivery, self.delivery_at = "failed", at
            elif kind == "link.opened":
                self.opened = at
            elif kind == "link.not_opened":
                self.not_opened = (int(details.get("minutes", 0) or 0), at)
        if kind == "patient.browser_unsupported":
            self.browser = (details, at)
        elif kind in ("camera.allowed", "camera.denied", "camera.unavailable"):
            self.camera = (kind.partition(".")[2], at)
            if kind == "camera.allowed":  # a new attempt: what blocked the last one is past
                self.browser, self.no_path = None, None
        elif kind == "video.path":
            self.path, self.no_path = details, None
            if self.reconnecting:
                self._back(at)
        elif kind == "video.no_path":
            self.no_path = (details, at)
        elif kind == "video.live":
            self.live, self.lost, self.stalled, self.no_path, self.left = at, None, None, None, None
            self.publisher_lost = self.reconnecting = False
            self.live_ever = self.live_ever or at
        elif kind in ("video.lost", "video.reconnecting"):
            if self.live is not None:
                self.interruptions += 1
            if self.live is not None or self.lost is not None:
                self.live, self.stalled = None, None
                self.lost = self.lost or at
            # A publisher the service lost comes back with ``video.live``; a reconnection while
            # the service still held it does not.
            self.publisher_lost = self.publisher_lost or kind == "video.lost"
            self.reconnecting = self.lost is not None and not self.publisher_lost
        elif kind == "video.stalled" and details.get("participant_id", "patient") == "patient":
            self.stalled = at
        elif kind == "video.resumed" and details.get("participant_id", "patient") == "patient":
            self.stalled = None
            if self.reconnecting:
                self._back(at)
        elif kind == "video.photo_mode":
            self.photo_mode = self.photo_mode_ever = (str(details.get("reason", "")), at)
        elif kind == "video.photo_mode_ended":
            self.photo_mode = None
        elif kind in ("photo.taken", "document.received"):
            self.photos += 1
        elif kind == "patient.left":
            self.left, self.live, self.stalled = at, None, None
        elif kind in ("session.ended", "session.expired"):
            self.ended = at

    def _back(self, at: datetime) -> None:
        """The page's new connection carries the video again."""
        self.live, self.lost, self.reconnecting = at, None, False


def session_outcome(events: Iterable[LoggedEvent]) -> Outcome:
    """The outcome of a session from its log, in order (only :data:`OUTCOME_EVENTS` matter)."""
    fold = _Fold()
    for event in events:
        fold.read(event)
    if fold.ended is not None:
        return _final(fold)
    return _current(fold)


def _channel(fold: _Fold) -> str:
    return fold.channels.get(fold.invitation or "", "sms")


def _other_channel(fold: _Fold) -> NextStep:
    return NextStep.SMS if _channel(fold) == "email" else NextStep.EMAIL


def _path(fold: _Fold) -> dict[str, Any]:
    if not fold.path:
        return {}
    return {"path": fold.path.get("path"), "rtt_ms": fold.path.get("rtt_ms")}


def _video(fold: _Fold, *, final: bool) -> Outcome | None:
    """The video's outcome, once it has been established (or photos came instead)."""
    if fold.photo_mode is not None and (final or fold.live is None or fold.stalled):
        reason, at = fold.photo_mode
        kind = OutcomeKind.NETWORK_WEAK if reason == "weak_link" else OutcomeKind.PHOTOS_ONLY
        if not final or fold.live_ever is None:
            steps = () if final else (NextStep.PHOTO,)
            return Outcome(kind, final, steps, {"photos": fold.photos}, at)
    if fold.live_ever is not None and final:
        details = {**_path(fold), "interruptions": fold.interruptions}
        return Outcome(OutcomeKind.VIDEO_ESTABLISHED, True, (), details, fold.live_ever)
    if fold.live is not None and fold.stalled is not None:
        return Outcome(
            OutcomeKind.VIDEO_FROZEN, False, (NextStep.PHOTO,), _path(fold), fold.stalled
        )
    if fold.live is not None:
        return Outcome(OutcomeKind.VIDEO_ESTABLISHED, False, (), _path(fold), fold.live)
    if fold.left is not None and fold.live_ever is not None:
        return Outcome(OutcomeKind.PATIENT_LEFT, False, (NextStep.RESEND,), {}, fold.left)
    if fold.lost is not None and (fold.no_path is None or fold.no_path[1] < fold.lost):
        # No button: the page reconnects by itself, and a new link would revoke the one it holds.
        return Outcome(OutcomeKind.VIDEO_LOST, False, (), {}, fold.lost)
    if final and fold.photo_mode_ever is not None and fold.photos:
        # Photo mode came and went, and photos arrived: that is what the session got.
        reason, at = fold.photo_mode_ever
        kind = OutcomeKind.NETWORK_WEAK if reason == "weak_link" else OutcomeKind.PHOTOS_ONLY
        return Outcome(kind, True, (), {"photos": fold.photos}, at)
    return None


def _before_video(fold: _Fold, *, final: bool) -> Outcome:
    """Why there is no video (yet): the furthest step the patient reached, and what blocked."""
    channel: dict[str, Any] = {"channel": _channel(fold)}
    steps: tuple[NextStep, ...]
    # What blocks the video now: the latest of the network, the camera and the browser.
    blockers: list[Outcome] = []
    if fold.no_path is not None:
        details, at = fold.no_path
        steps = () if final else (NextStep.PHOTO,)
        facts = {"reason": details.get("reason")}
        blockers.append(Outcome(OutcomeKind.NO_PATH, final, steps, facts, at))
    if fold.camera is not None and fold.camera[0] != "allowed":
        state, at = fold.camera
        kind = OutcomeKind.CAMERA_REFUSED if state == "denied" else OutcomeKind.CAMERA_UNAVAILABLE
        # No button: the patient allows the camera on the page (the room shows how), no new link.
        blockers.append(Outcome(kind, final, (), {}, at))
    if fold.browser is not None:
        details, at = fold.browser
        facts = {"reason": details.get("reason"), "app": details.get("app"), **channel}
        steps = () if final else (_other_channel(fold),)
        blockers.append(Outcome(OutcomeKind.BROWSER_UNSUPPORTED, final, steps, facts, at))
    if blockers:
        return max(blockers, key=lambda outcome: outcome.at or datetime.min.replace(tzinfo=UTC))
    if fold.camera is not None:
        return Outcome(OutcomeKind.CAMERA_ALLOWED, final, (), {}, fold.camera[1])
    if fold.opened is not None:
        return Outcome(OutcomeKind.LINK_OPENED, final, (), {}, fold.opened)
    if fold.invitation is None:
        return Outcome(OutcomeKind.WAITING, final, (), {})
    if fold.delivery == "failed":
        retry: tuple[NextStep, ...] = () if final else (NextStep.RETRY, _other_channel(fold))
        return Outcome(OutcomeKind.NOT_DELIVERED, final, retry, channel, fold.delivery_at)
    if fold.not_opened is not None or final:
        minutes, reminded_at = fold.not_opened or (0, None)
        resend: tuple[NextStep, ...] = () if final else (NextStep.RESEND, _other_channel(fold))
        reminder = {**channel, "minutes": minutes} if minutes else channel
        when = reminded_at or fold.delivery_at
        return Outcome(OutcomeKind.LINK_NOT_OPENED, final, resend, reminder, when)
    return Outcome(OutcomeKind.WAITING, False, (), channel, fold.delivery_at)


def _current(fold: _Fold) -> Outcome:
    return _video(fold, final=False) or _before_video(fold, final=False)


def _final(fold: _Fold) -> Outcome:
    return _video(fold, final=True) or _before_video(fold, final=True)
