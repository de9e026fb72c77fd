"""Every table of the store in one metadata: what Alembic and the schema tests compare.

Models live with their domain (``store.models`` for accounts and the audit log, ``sessions.models``
for sessions); importing this module registers them all.
"""

from __future__ import annotations

from .. import shared_login_throttle as _login_failure_models  # noqa: F401  (registers the table)
from .. import shared_ratelimit as _rate_limit_models  # noqa: F401  (registers the table)
from ..sessions import early_statuses as _early_status_models  # noqa: F401  (registers the table)
from ..sessions import location as _location_models  # noqa: F401  (registers the table)
from ..sessions import models as _session_models  # noqa: F401  (registers the tables)
from ..sessions import retry_tokens as _retry_token_models  # noqa: F401  (registers the table)
from . import claims as _claim_models  # noqa: F401  (registers the table)
from . import room_owners as _room_owner_models  # noqa: F401  (registers the table)
from .models import Base

__all__ = ["metadata"]

metadata = Base.metadata
