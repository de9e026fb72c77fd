"""Malformed HTTP from clients, logged as what it is.

aiohttp answers a request it cannot parse (a NUL in a header, a bad method, garbage on the
port) with 400 and logs it at ERROR with a traceback. On an endpoint open to the Internet that
is client noise, not a fault of the service: one WARNING line, no traceback, so that the errors
left in the log are the ones an operator must look at.
"""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError

__all__ = ["install_malformed_request_filter"]

_SERVER_LOGGER = "aiohttp.server"


class _MalformedRequestFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.msg = "malformed request from %s refused (%s): %s"
            record.args = (remote, error.code, error.message)
            record.exc_info = None
            record.exc_text = None
            record.levelno = logging.WARNING
            record.levelname = logging.getLevelName(logging.WARNING)
        return True


def install_malformed_request_filter() -> None:
    """Add the filter to aiohttp's server logger, once."""
    logger = logging.getLogger(_SERVER_LOGGER)
    if not any(isinstance(existing, _MalformedRequestFilter) for existing in logger.filters):
        logger.addFilter(_MalformedRequestFilter())
