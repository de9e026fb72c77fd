"""The service's settings: one typed object, read from a TOML file and ``VISIOREGUL_*`` variables.

The documented defaults live in ``config/visioregul.toml`` (also shipped inside the package as
``defaults.toml``); every key can be overridden by an environment variable whose name is the key's
path in upper case, joined by double underscores, e.g. ``VISIOREGUL_TELEPHONY__AMI__HOST``.
Tests build ``Settings(...)`` with keyword arguments, which win over everything else.
"""

from __future__ import annotations

import os
import re
import socket
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .telephony.numbers import PLAN_REGIONS, TrunkFormat, time_zone_for_region

__all__ = [
    "DEFAULT_CENTRE_CODE",
    "AmiSettings",
    "ApiKey",
    "AriSettings",
    "AuditSettings",
    "CadIssuer",
    "CadLinkSettings",
    "CentreSettings",
    "ConsoleSettings",
    "DatabaseSettings",
    "GeocodingSettings",
    "InvitationSettings",
    "LocationSettings",
    "MessagingSettings",
    "PscSettings",
    "ServiceSettings",
    "SessionSettings",
    "Settings",
    "SettingsError",
    "SmtpSettings",
    "TelephonySettings",
    "TwilioSettings",
    "VideoSettings",
    "WebhookEndpoint",
    "WebhookSettings",
    "load_settings",
]

CONFIG_ENV = "VISIOREGUL_CONFIG"
"""Environment variable naming the TOML file to read instead of the default one."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServiceSettings(_Section):
    """The HTTP service itself."""

    host: str = "127.0.0.1"
    """Address the HTTP server listens on (a reverse proxy terminates TLS in production)."""
    port: int = Field(default=8015, ge=1, le=65535)
    public_url: str = "http://127.0.0.1:8015"
    """Base URL as seen by browsers: links in SMS and e-mails are built from it."""
    language: str = "fr"
    """Default language of the user interface."""
    data_dir: Path = Path("var")
    """Where files that must survive a restart are kept (SQLite database, uploads)."""
    trusted_proxies: list[IPv4Network | IPv6Network] = []
    """Reverse proxies (addresses or CIDR networks) whose ``X-Forwarded-For`` is believed; empty:
    the client is the socket's peer, and ``X-Forwarded-For`` is ignored."""
    time_zone: str = "Europe/Paris"
    """The centre's IANA time zone: times in messages and on screens. When not set, that of
    ``telephony.region`` (``Indian/Reunion`` for a centre in Réunion)."""
    instance_id: str = Field(default="", max_length=64, pattern=r"^[A-Za-z0-9._-]*$")
    """This process's name among several (in ``/readyz`` and every JSON log line); empty: the
    host's name."""
    direct_url: str = ""
    """This instance's own URL, reached by the other instances only (``http://10.0.0.11:8015``):
    a socket or request about a room another instance holds is passed to it there. Empty: one
    instance (or none reachable), every room is held here."""
    cluster_secret: SecretStr = SecretStr("")
    """Shared by the instances: it authenticates what one passes to another. Required with
    ``direct_url``; at least 32 characters."""
    log_format: Literal["text", "json"] = "text"
    """``json``: one JSON object per log line, for a log collector."""
    metrics_allow: list[IPv4Network | IPv6Network] = [
        IPv4Network("127.0.0.0/8"),
        IPv6Network("::1/128"),
    ]
    """Who may read ``/metrics`` (addresses or CIDR networks of the Prometheus servers, as the
    real client address behind ``trusted_proxies``); empty: nobody."""

    @property
    def instance(self) -> str:
        """``instance_id``, or the host's name."""
        return self.instance_id or socket.gethostname()

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Paris)") from exc
        return value

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("direct_url")
    @classmethod
    def _direct_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _secret_with_direct_url(self) -> ServiceSettings:
        if self.direct_url and len(self.cluster_secret.get_secret_value()) < 32:
            raise ValueError(
                "service.cluster_secret must hold at least 32 characters when "
                "service.direct_url is set (the instances authenticate each other with it)"
            )
        return self


class DatabaseSettings(_Section):
    """The store."""

    url: str = "sqlite+aiosqlite:///var/visioregul.db"
    """SQLAlchemy async URL: ``sqlite+aiosqlite:///path`` or ``postgresql+asyncpg://...``."""
    echo: bool = False
    auto_upgrade: bool = True
    """Apply pending migrations at start. Production may prefer ``visioregul db upgrade``."""

    @field_validator("url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value


class AmiSettings(_Section):
    """Asterisk Manager Interface connection (the default telephony source)."""

    host: str = "127.0.0.1"
    port: int = Field(default=5038, ge=1, le=65535)
    username: str = "visioregul"
    secret: SecretStr = SecretStr("visioregul-sandbox-ami")


class AriSettings(_Section):
    """Asterisk REST Interface connection."""

    url: str = "http://127.0.0.1:8088"
    username: str = "visioregul"
    password: SecretStr = SecretStr("visioregul-sandbox-ari")
    app: str = "visioregul"
    """Stasis application name; the service never sends calls into it, it only subscribes.
    Unless set, an instance with a ``service.instance_id`` uses ``visioregul-<instance_id>``:
    each instance needs a name of its own."""


class TelephonySettings(_Section):
    """Where call events come from and how numbers are read."""

    source: Literal["ami", "ari", "none"] = "ami"
    region: str = "FR"
    """The centre's region in the French numbering plan: ``FR`` (metropolitan France), ``RE``,
    ``YT``, ``GP``, ``MQ``, ``GF``, ``BL``, ``MF`` or ``PM``. National numbers are read in the
    whole plan whatever the region; it decides the short numbers and the default time zone."""
    trunk_format: TrunkFormat = TrunkFormat.AUTO
    """How the trunk presents callers' numbers: ``e164``, ``international`` (without ``+``),
    ``national`` (with the 0), ``national_without_zero`` (9 digits) or ``auto``."""
    lines: list[str] = ["15"]
    """Lines tagged by the shipped dialplan that VisioRegul offers video for (the argument of
    ``Gosub(visioregul-tag,s,1(<line>))``); a tagged line not listed here is logged once and
    ignored."""
    position_pattern: str = r"PJSIP/1[0-9]{3}"
    """The regular expression a desk-phone endpoint must fully match to be a position (such as
    ``PJSIP/1001``); trunks and helper channels never match."""

    @field_validator("position_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from exc
        return value

    reconnect_min: float = Field(default=0.5, gt=0)
    """First delay before reconnecting to Asterisk, doubled on each failure up to the maximum."""
    reconnect_max: float = Field(default=10.0, gt=0)
    ami: AmiSettings = AmiSettings()
    ari: AriSettings = AriSettings()

    @field_validator("region")
    @classmethod
    def _plan_region(cls, value: str) -> str:
        region = value.strip().upper()
        if region not in PLAN_REGIONS:
            regions = ", ".join(PLAN_REGIONS)
            raise ValueError(f"{value!r} is not a region of the French plan: {regions}")
        return region


DEFAULT_CENTRE_CODE = "default"
"""The code of the centre the migrations create, where single-centre data lives."""
_CENTRE_CODE = r"^[a-z0-9][a-z0-9_-]{0,31}$"
"""A centre's code where a key, an issuer or a webhook names it: as :data:`CENTRE_CODE`."""


class ApiKey(_Section):
    """A CAD API key and the console account it acts for."""

    key: SecretStr
    """The key itself, or ``sha256:<hex>`` of it (so the file need not hold the key)."""
    account: str | None = Field(default=None, min_length=1, max_length=64)
    """Username of the regulator (or doctor) the key acts for, within that account's rights and
    centre; None (a key written as a plain string) acts for nobody and reads live calls only."""
    centre: str | None = Field(default=None, min_length=1, max_length=32, pattern=_CENTRE_CODE)
    """The code of the centre the key belongs to. A key naming no account reads the live calls
    and events of this centre only (None: ``default``); a key naming an account acts within that
    account's centre, and when ``centre`` is given too it must be that one (or the key does
    nothing). A code that no centre has stops the service at start."""

    @property
    def centre_code(self) -> str:
        """The centre a key naming no account belongs to."""
        return self.centre or DEFAULT_CENTRE_CODE


class ConsoleSettings(_Section):
    """The regulators' console and the CAD API."""

    api_keys: list[ApiKey] = []
    """Keys accepted in ``Authorization: Bearer`` by the CAD-facing API: ``{key = "sha256:…",
    account = "regulateur"}`` acts for that account; a plain string is a key acting for nobody."""
    positions: list[str] = ["PJSIP/1001", "PJSIP/1002", "PJSIP/1003"]
    """Desk-phone endpoints declared at start (added if missing, never removed); each must match
    ``telephony.position_pattern``."""
    session_max_age: int = Field(default=12 * 3600, gt=0)
    """How long a console login lasts, in seconds (a regulator's shift)."""
    secure_cookies: bool = False
    """Set the ``Secure`` flag on cookies: required behind TLS in production."""
    login_failures_before_delay: int = Field(default=5, ge=1)
    """Failed logins in a row (per client address and per username) before each further attempt
    must wait a delay that doubles with every failure; successful logins never count."""
    login_max_delay: int = Field(default=300, ge=1)
    """The longest wait imposed between two login attempts, in seconds."""

    @field_validator("api_keys", mode="before")
    @classmethod
    def _plain_keys(cls, value: object) -> object:
        # A plain string (the form before keys named their account) stays readable.
        if isinstance(value, list):
            return [{"key": item} if isinstance(item, str | SecretStr) else item for item in value]
        return value


CENTRE_CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
"""A centre's code: short, stable, lower case (``samu31``, ``samu-973``)."""


class CentreSettings(_Section):
    """One centre of the installation: its lines, its desk phones, its time zone."""

    code: str
    """Short stable name (``samu31``); ``default`` is the centre every installation has (id 1),
    which holds ``console.positions`` and the lines no other centre takes."""
    name: str = Field(min_length=1, max_length=128)
    """Name shown to people, e.g. ``SAMU 31``."""
    time_zone: str | None = None
    """The centre's IANA time zone (``America/Cayenne``); None: ``service.time_zone``."""
    lines: list[str] = []
    """The tagged lines this centre answers (each one of ``telephony.lines``): a call on one of
    them is this centre's, whichever desk answers it."""
    positions: list[str] = []
    """The centre's desk-phone endpoints (each matching ``telephony.position_pattern``)."""

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not CENTRE_CODE.fullmatch(value):
            raise ValueError(
                f"centre code {value!r}: 1 to 32 lower-case letters, digits, - or _ (e.g. samu31)"
            )
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (e.g. America/Cayenne)") from exc
        return value


class CadIssuer(_Section):
    """A CAD allowed to open the console with a signed token (one per CAD or per centre)."""

    issuer: str = Field(min_length=1, max_length=200)
    """The token's ``iss``, naming this CAD."""
    algorithm: Literal["HS256", "RS256", "ES256"] = "HS256"
    """HS256 with ``secret``; RS256 or ES256 with the CAD's ``public_key``."""
    secret: SecretStr | None = None
    """The secret shared with the CAD (HS256), 32 characters at least."""
    public_key: str | None = None
    """The CAD's public key in PEM (RS256, ES256): the service holds no secret of the CAD's."""
    centre: str | None = Field(default=None, min_length=1, max_length=32, pattern=_CENTRE_CODE)
    """The code of the only centre whose regulators this CAD may sign in (a token naming an
    account of another centre is refused); None: any centre's (a CAD shared by a platform). A
    code that no centre has stops the service at start."""

    @model_validator(mode="after")
    def _one_key(self) -> CadIssuer:
        if self.algorithm == "HS256":
            if self.secret is None or len(self.secret.get_secret_value()) < 32:
                raise ValueError(f"cad_link issuer {self.issuer!r}: HS256 needs a secret of 32+")
            if self.public_key is not None:
                raise ValueError(f"cad_link issuer {self.issuer!r}: HS256 takes no public_key")
        else:
            if not self.public_key or "BEGIN PUBLIC KEY" not in self.public_key:
                raise ValueError(
                    f"cad_link issuer {self.issuer!r}: {self.algorithm} needs a PEM public_key"
                )
            if self.secret is not None:
                raise ValueError(
                    f"cad_link issuer {self.issuer!r}: {self.algorithm} takes no secret"
                )
        return self


_ORIGIN = re.compile(r"https://[a-z0-9.-]+(:[0-9]{1,5})?|https://\[[0-9a-f:.]+\](:[0-9]{1,5})?")


class CadLinkSettings(_Section):
    """The CAD's deep link into the console (``/console/cad?token=``) and framing by the CAD."""

    issuers: list[CadIssuer] = []
    """The CADs that may sign tokens; none: the deep link is off."""
    audience: str = Field(default="visioregul", min_length=1, max_length=200)
    """The ``aud`` every token must name."""
    max_lifetime: int = Field(default=60, ge=5, le=60)
    """The longest ``exp - iat`` accepted, in seconds (a minute at most)."""
    clock_skew: int = Field(default=5, ge=0, le=30)
    """Seconds of clock difference tolerated between the CAD and the service."""
    frame_ancestors: list[str] = []
    """Origins (``https://cad.example.fr``) whose pages may frame the console; none: never
    framed. When set, the console's cookie is ``SameSite=None; Secure; Partitioned``."""

    @field_validator("frame_ancestors")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        cleaned = [origin.strip().lower().rstrip("/") for origin in value]
        wrong = [origin for origin in cleaned if not _ORIGIN.fullmatch(origin)]
        if wrong:
            raise ValueError(f"not HTTPS origins: {', '.join(wrong)}")
        return cleaned

    @field_validator("issuers")
    @classmethod
    def _distinct(cls, value: list[CadIssuer]) -> list[CadIssuer]:
        names = [issuer.issuer for issuer in value]
        if len(set(names)) != len(names):
            raise ValueError("cad_link issuers must have distinct names")
        return value


class SessionSettings(_Section):
    """Video sessions and the links that open them."""

    link_ttl: int = Field(default=2 * 3600, ge=60)
    """How long an invitation link stays valid, in seconds (2 hours)."""
    idle_expiry: int = Field(default=24 * 3600, ge=300)
    """A session nobody ended expires this long after its last event, in seconds."""
    retention_days: int = Field(default=30, ge=1)
    """Sessions, their events and files are purged this many days after they end; the local
    outbox's messages this many days after they were stored."""


class InvitationSettings(_Section):
    """What the service does about the links it sends."""

    remind_after_minutes: float = Field(default=2, ge=0, le=24 * 60)
    """A patient's link not opened this many minutes after it was sent is said so in the room
    (``link.not_opened``, once per link); 0: never."""


class DocumentSettings(_Section):
    """Documents and photos exchanged in a session (both ways)."""

    max_file_mb: float = Field(default=20, gt=0, le=1024)
    """The largest file one may send, in megabytes (10^6 bytes)."""
    max_session_mb: float = Field(default=200, gt=0, le=100_000)
    """All the documents and photos of one session together, in megabytes."""
    per_minute: int = Field(default=30, ge=1, le=10_000)
    """Files one side of a session may send in a minute: a flood is refused."""


class AuditSettings(_Section):
    """The audit log (logins, account changes, API use)."""

    retention_days: int = Field(default=3650, ge=1)
    """Entries are purged this many days after they were written (10 years by default): the
    audit log outlives the sessions it speaks of."""


class TwilioSettings(_Section):
    """SMS through Twilio's Messages API."""

    account_sid: str = ""
    auth_token: SecretStr = SecretStr("")
    from_number: str = ""
    """Sender in E.164 (or an alphanumeric sender ID where the country allows it)."""
    messaging_service_sid: str = ""
    """Used instead of ``from_number`` when set."""
    api_base_url: str = "https://api.twilio.com"
    """Twilio's API; only changed to point at a local stand-in in tests."""
    timeout: float = Field(default=10.0, gt=0)


class SmtpSettings(_Section):
    """E-mail through an SMTP relay."""

    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "none"
    """``starttls`` (port 587) or ``tls`` (port 465) in production."""
    username: str = ""
    password: SecretStr = SecretStr("")
    from_address: str = "visio@samu.invalid"
    timeout: float = Field(default=10.0, gt=0)


class MessagingSettings(_Section):
    """How invitations reach the caller, and how many may be sent."""

    sms: Literal["outbox", "twilio"] = "outbox"
    """``outbox`` keeps messages in the service (shown on the console: development, demo)."""
    email: Literal["outbox", "smtp"] = "outbox"
    sender_name: str = "SAMU 15"
    """Who the message says it comes from."""
    per_regulator_per_hour: int = Field(default=30, gt=0)
    per_destination_per_hour: int = Field(default=5, gt=0)
    """Several invitations to one number within an hour look like SMS pumping."""
    global_per_minute: int = Field(default=60, gt=0)
    twilio: TwilioSettings = TwilioSettings()
    smtp: SmtpSettings = SmtpSettings()


class WebhookEndpoint(_Section):
    """One CAD endpoint that receives the session events of one centre."""

    url: str
    centre: str = Field(
        default=DEFAULT_CENTRE_CODE, min_length=1, max_length=32, pattern=_CENTRE_CODE
    )
    """The code of the centre whose session events go to this URL (and no other's). A code that
    no centre has stops the service at start."""

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} must start with http:// or https://")
        return value


class WebhookSettings(_Section):
    """Session events pushed to the CAD (optional)."""

    urls: list[str] = []
    """The events of the ``default`` centre's sessions are POSTed as JSON to every URL here (as
    if each were an endpoint naming ``centre = "default"``): never another centre's."""
    endpoints: list[WebhookEndpoint] = []
    """Endpoints of a named centre: ``{url = "https://…", centre = "samu31"}``; each receives the
    events of that centre's sessions only."""
    secret: SecretStr = SecretStr("")
    """Key of the HMAC-SHA256 signature (``X-VisioRegul-Signature``); required when urls are set."""
    timeout: float = Field(default=5.0, gt=0)
    max_attempts: int = Field(default=8, ge=1)
    """Attempts per event, with exponential backoff (1 s, 2 s, 4 s... capped at 60 s)."""
    queue_size: int = Field(default=10_000, ge=1)
    """Events waiting per URL; beyond it the oldest are dropped (and logged)."""

    @field_validator("urls")
    @classmethod
    def _http_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} must start with http:// or https://")
        return value


class VideoSettings(_Section):
    """ICE servers given to the patient's page, the consoles and the server's own peers."""

    stun_urls: list[str] = []
    """``stun:host:port`` URLs; empty: none (never a public server by default)."""
    turn_urls: list[str] = []
    """``turn:``/``turns:`` URLs of a coturn using ``static-auth-secret``; empty: none."""
    turn_secret: SecretStr = SecretStr("")
    """coturn's ``static-auth-secret``; required when turn_urls are set."""

    @field_validator("stun_urls")
    @classmethod
    def _stun_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("stun:", "stuns:")):
                raise ValueError(f"{url!r} must start with stun: or stuns:")
        return value

    @field_validator("turn_urls")
    @classmethod
    def _turn_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("turn:", "turns:")):
                raise ValueError(f"{url!r} must start with turn: or turns:")
        return value


class GeocodingSettings(_Section):
    """Reverse geocoding of the caller's position (the address shown to the regulator).

    On, the caller's coordinates leave the centre for the provider (no other data goes with
    them); off, the regulator sees the coordinates and the map links only.
    """

    enabled: bool = True
    url: str = "https://data.geopf.fr/geocodage/reverse"
    """The reverse endpoint: ``lon``, ``lat``, ``limit=1`` (and ``index``), GeoJSON back."""
    index: str = "address"
    """The provider's ``index`` parameter; empty: not sent."""
    timeout: float = Field(default=3.0, gt=0, le=30)
    """Seconds; past them the coordinates are shown alone."""
    per_second: int = Field(default=20, ge=1, le=49)
    """Requests a second at most (the national provider allows 50 from one address)."""

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} must start with http:// or https://")
        return value


class LocationSettings(_Section):
    """The caller's position, asked by the regulator."""

    imprecise_above: float = Field(default=500.0, gt=0, le=100_000)
    """Metres: a fix less accurate than this is shown as « position imprécise »."""
    answer_timeout: float = Field(default=60.0, ge=5, le=600)
    """Seconds the service waits for the phone's answer (the patient reads, then agrees)."""
    follow_interval: float = Field(default=10.0, ge=1, le=600)
    """While following: at most one fix kept per this many seconds..."""
    follow_distance: float = Field(default=20.0, ge=0, le=10_000)
    """...unless the phone moved at least this many metres."""


class PscSettings(_Section):
    """Sign-in through Pro Santé Connect (OpenID Connect), beside the local passwords."""

    enabled: bool = False
    """Offer « Se connecter avec Pro Santé Connect » on the login page."""
    issuer: str = ""
    """The provider's issuer; its ``/.well-known/openid-configuration`` is read at first use
    (e.g. ``https://auth.esante.gouv.fr/auth/realms/esante-wallet``)."""
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    token_auth_method: Literal["client_secret_basic", "client_secret_post", "private_key_jwt"] = (
        "client_secret_basic"
    )
    """How the service proves itself at the token endpoint."""
    private_key_file: Path | None = None
    """PEM or JWK file of the service's private key, for ``private_key_jwt``."""
    scopes: str = "openid scope_all"
    acr_values: str = "eidas1"
    identifier_claim: str = "SubjectNameID"
    """The userinfo claim holding the practitioner's national identifier (RPPS/ADELI)."""
    provision_centre_id: int | None = None
    """None: an unknown practitioner is refused. A centre id: an account is created for them in
    that centre, with ``provision_role``."""
    provision_role: Literal["regulator", "doctor"] = "doctor"
    timeout: float = Field(default=10.0, gt=0, le=60)
    """Bound on each request to the provider, in seconds."""
    leeway: int = Field(default=60, ge=0, le=600)
    """Clock skew tolerated on the tokens' times, in seconds."""

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> PscSettings:
        if not self.enabled:
            return self
        missing = [name for name in ("issuer", "client_id") if not getattr(self, name)]
        if self.token_auth_method == "private_key_jwt":
            if self.private_key_file is None:
                missing.append("private_key_file")
        elif not self.client_secret.get_secret_value():
            missing.append("client_secret")
        if missing:
            raise ValueError(f"psc.{', psc.'.join(missing)} required when psc.enabled is true")
        return self


class Settings(BaseSettings):
    """All of the service's settings."""

    model_config = SettingsConfigDict(
        env_prefix="VISIOREGUL_",
        env_nested_delimiter="__",
        extra="forbid",
        toml_file=None,
    )

    service: ServiceSettings = ServiceSettings()
    database: DatabaseSettings = DatabaseSettings()
    telephony: TelephonySettings = TelephonySettings()
    console: ConsoleSettings = ConsoleSettings()
    cad_link: CadLinkSettings = CadLinkSettings()
    sessions: SessionSettings = SessionSettings()
    invitations: InvitationSettings = InvitationSettings()
    documents: DocumentSettings = DocumentSettings()
    audit: AuditSettings = AuditSettings()
    messaging: MessagingSettings = MessagingSettings()
    webhooks: WebhookSettings = WebhookSettings()
    video: VideoSettings = VideoSettings()
    geocoding: GeocodingSettings = GeocodingSettings()
    location: LocationSettings = LocationSettings()
    psc: PscSettings = PscSettings()
    centres: list[CentreSettings] = []
    """The installation's centres (``[[centres]]``); none: one centre, ``default``, with
    ``console.positions`` and every line of ``telephony.lines``."""

    @model_validator(mode="after")
    def _time_zone_of_the_region(self) -> Settings:
        # Not set anywhere: the zone where the centre is, not metropolitan France's.
        if "time_zone" not in self.service.model_fields_set:
            zone = time_zone_for_region(self.telephony.region)
            if zone != self.service.time_zone:
                self.service = self.service.model_copy(update={"time_zone": zone})
        return self

    @model_validator(mode="after")
    def _an_ari_application_per_instance(self) -> Settings:
        # Asterisk gives an application's events to its newest connection only: two instances
        # under one name would silently take each other's calls away.
        ari = self.telephony.ari
        if self.service.instance_id and "app" not in ari.model_fields_set:
            app = f"{ari.app}-{self.service.instance_id}"
            self.telephony.ari = ari.model_copy(update={"app": app})
        return self

    @model_validator(mode="after")
    def _webhooks_need_a_secret(self) -> Settings:
        webhooks = self.webhooks.urls or self.webhooks.endpoints
        if webhooks and not self.webhooks.secret.get_secret_value():
            raise ValueError(
                "webhooks.secret is required when webhooks.urls or webhooks.endpoints is set"
            )
        if self.video.turn_urls and not self.video.turn_secret.get_secret_value():
            raise ValueError("video.turn_secret is required when video.turn_urls is set")
        pattern = re.compile(self.telephony.position_pattern)
        wrong = [p for p in self.console.positions if not pattern.fullmatch(p)]
        if wrong:
            raise ValueError(
                f"console.positions: {', '.join(wrong)} do not match telephony.position_pattern "
                f"{self.telephony.position_pattern!r}"
            )
        return self

    @model_validator(mode="after")
    def _centres_apart(self) -> Settings:
        # Each line and each desk belongs to one centre: a call must have one centre only.
        codes: set[str] = set()
        line_centre: dict[str, str] = {}
        position_centre: dict[str, str] = {}
        if self.centres and "positions" in self.console.model_fields_set:
            # Set on purpose: the default centre's desks, beside those of [[centres]].
            for position in self.console.positions:
                position_centre[position] = "default"
        pattern = re.compile(self.telephony.position_pattern)
        for centre in self.centres:
            where = f"centres ({centre.code})"
            if centre.code in codes:
                raise ValueError(f"{where}: the code {centre.code!r} is declared twice")
            codes.add(centre.code)
            for line in centre.lines:
                if line not in self.telephony.lines:
                    raise ValueError(
                        f"{where}: line {line!r} is not one of telephony.lines "
                        f"{self.telephony.lines!r} (add it there to offer video on it)"
                    )
                other = line_centre.setdefault(line, centre.code)
                if other != centre.code:
                    raise ValueError(f"{where}: line {line!r} is centre {other!r}'s already")
            for position in centre.positions:
                if not pattern.fullmatch(position):
                    raise ValueError(
                        f"{where}: position {position!r} does not match "
                        f"telephony.position_pattern {self.telephony.position_pattern!r}"
                    )
                other = position_centre.setdefault(position, centre.code)
                if other != centre.code:
                    raise ValueError(
                        f"{where}: position {position!r} is centre {other!r}'s already"
                    )
        return self

    def default_centre_positions(self) -> list[str]:
        """The desks declared in the default centre at start: ``console.positions`` when no
        centre is declared or when it is set on purpose beside ``[[centres]]``."""
        if self.centres and "positions" not in self.console.model_fields_set:
            return []
        return list(self.console.positions)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Keyword arguments win, then the environment, then the file (``toml_file`` is set by
        # ``load_settings`` on a subclass; the base class reads no file).
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


class SettingsError(Exception):
    """Settings that cannot be used; the message names each bad key."""


def load_settings(config_file: Path | None = None) -> Settings:
    """Read settings from ``config_file`` (or ``$VISIOREGUL_CONFIG``) and the environment.

    Without either, the embedded defaults apply (they are those of ``config/visioregul.toml``).
    """
    if config_file is None and os.environ.get(CONFIG_ENV):
        config_file = Path(os.environ[CONFIG_ENV])
    settings_cls: type[Settings] = Settings
    if config_file is not None:
        if not config_file.is_file():
            raise SettingsError(f"configuration file not found: {config_file}")
        settings_cls = type(
            "Settings",
            (Settings,),
            {"model_config": {**Settings.model_config, "toml_file": config_file}},
        )
    try:
        return settings_cls()
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            key = ".".join(str(part) for part in error["loc"])
            lines.append(f"  {key}: {error['msg']}")
        source = str(config_file) if config_file else "environment"
        raise SettingsError(
            f"invalid settings ({source} and VISIOREGUL_* variables):\n" + "\n".join(lines)
        ) from exc
    except Exception as exc:  # a TOML syntax error is not a ValidationError
        raise SettingsError(f"cannot read {config_file}: {exc}") from exc
