"""The service's settings: one typed object, read from a TOML file and ``VISIOREGUL_*`` variables.

The documented defaults live in ``config/visioregul.toml`` (also shipped inside the package as
``defaults.toml``); every key can be overridden by an environment variable whose name is the key's
path in upper case, joined by double underscores, e.g. ``VISIOREGUL_TELEPHONY__AMI__HOST``.
Tests build ``Settings(...)`` with keyword arguments, which win over everything else.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = [
    "AmiSettings",
    "AriSettings",
    "ConsoleSettings",
    "DatabaseSettings",
    "ServiceSettings",
    "Settings",
    "SettingsError",
    "TelephonySettings",
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

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


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
    """Stasis application name; the service never sends calls into it, it only subscribes."""


class TelephonySettings(_Section):
    """Where call events come from and how numbers are read."""

    source: Literal["ami", "ari", "none"] = "ami"
    region: str = "FR"
    """Region used to read national numbers (``0612345678``)."""
    lines: list[str] = ["15"]
    """Lines tagged by the shipped dialplan that VisioRegul offers video for."""
    reconnect_min: float = Field(default=0.5, gt=0)
    """First delay before reconnecting to Asterisk, doubled on each failure up to the maximum."""
    reconnect_max: float = Field(default=10.0, gt=0)
    ami: AmiSettings = AmiSettings()
    ari: AriSettings = AriSettings()


class ConsoleSettings(_Section):
    """The regulators' console and the CAD API."""

    api_keys: list[SecretStr] = []
    """Keys accepted in ``Authorization: Bearer`` by the CAD-facing API."""
    session_max_age: int = Field(default=12 * 3600, gt=0)
    """How long a console login lasts, in seconds (a regulator's shift)."""
    secure_cookies: bool = False
    """Set the ``Secure`` flag on cookies: required behind TLS in production."""
    login_attempts_per_minute: int = Field(default=10, gt=0)


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
