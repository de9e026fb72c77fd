"""Log lines as JSON objects, for a log collector (``service.log_format = "json"``).

Each line carries the time (UTC, ISO 8601), the level, the logger, the message, the instance's
name (several instances write to one collector) and the exception when there is one. Numbers and
addresses are masked in the message itself (``log_privacy``), whatever the format.
"""

from __future__ import annotations

import logging

from pythonjsonlogger.json import JsonFormatter

__all__ = ["json_formatter", "use_json_logs"]


def json_formatter(instance: str) -> logging.Formatter:
    """The formatter of one JSON object per line, tagged with ``instance``."""
    return JsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        static_fields={"instance": instance},
        timestamp="time",
        json_ensure_ascii=False,
    )


def use_json_logs(instance: str) -> None:
    """Write every log line of the process as JSON from now on."""
    formatter = json_formatter(instance)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
