"""The domain's refusals: each has its HTTP status in the one table of ``web/``, a message in
every language, and the domain's modules import nothing of the web layer."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import visioregul.integration
from visioregul.integration.errors import DomainError
from visioregul.integration.i18n import load_catalogue
from visioregul.integration.room_ownership import InstanceUnreachable
from visioregul.integration.web.errors import DOMAIN_STATUS
from visioregul.media import MediaError

ROOT = Path(visioregul.integration.__file__).parent


def refusal_classes() -> set[type[Exception]]:
    """Every refusal class of the domain, once every module of the service is imported."""
    for module in pkgutil.walk_packages(visioregul.integration.__path__, "visioregul.integration."):
        if ".migrations" not in module.name:  # Alembic's scripts run only under Alembic
            importlib.import_module(module.name)
    found: set[type[Exception]] = set()
    stack: list[type[Exception]] = [DomainError, MediaError]
    while stack:
        cls = stack.pop()
        found.add(cls)
        stack.extend(cls.__subclasses__())
    return found - {DomainError}


def test_given_every_refusal_of_the_domain_then_the_web_table_gives_it_a_status() -> None:
    missing = sorted(cls.__qualname__ for cls in refusal_classes() if cls not in DOMAIN_STATUS)
    assert not missing, f"no HTTP status in web/errors.py DOMAIN_STATUS for {missing}"
    # A refusal is the client's to act on (4xx); only an instance out of reach says "later".
    server_side = {cls for cls, status in DOMAIN_STATUS.items() if not 400 <= status < 500}
    assert server_side == {InstanceUnreachable}
    assert DOMAIN_STATUS[InstanceUnreachable] == 503


def test_given_the_refusals_default_ids_then_each_has_a_french_and_an_english_message() -> None:
    catalogue = load_catalogue()
    for cls in refusal_classes():
        error_id = getattr(cls, "error_id", None)
        if not isinstance(error_id, str) or error_id == "too_many_invitations":
            continue  # scoped at raise time: too_many_invitations_<scope>
        for language in ("fr", "en"):
            key = f"error.{error_id}"
            assert key in catalogue.messages[language], (cls.__qualname__, language)


MEDIA_ERROR_IDS = (
    "invalid_sdp",
    "audio_refused",
    "unsupported_media",
    "no_video",
    "too_many_video",
    "wrong_direction",
    "codec_unsupported",
    "codec_mismatch",
    "negotiation_timeout",
    "unknown_subscriber",
    "invalid_state",
    "no_publisher",
    "still_timeout",
    "still_failed",
    "room_closed",
    "invalid_candidate",
)
"""The ids :class:`MediaError` documents."""


def test_given_the_media_error_ids_then_each_has_a_french_and_an_english_message() -> None:
    catalogue = load_catalogue()
    documented = set(MEDIA_ERROR_IDS)
    assert documented <= set(
        (MediaError.__doc__ or "").replace("``", " ").replace(",", " ").split()
    )
    for error_id in MEDIA_ERROR_IDS:
        for language in ("fr", "en"):
            assert f"error.{error_id}" in catalogue.messages[language], (error_id, language)


def imported_modules(path: Path, package: str) -> set[str]:
    """Every module (or name) ``path``, of ``package``, imports, as absolute dotted names."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def web_imports(path: Path, package: str) -> list[str]:
    """What ``path`` imports of the web layer."""
    web = "visioregul.integration.web"
    return sorted(n for n in imported_modules(path, package) if n == web or n.startswith(web + "."))


def test_given_the_domain_then_nothing_of_the_web_layer_is_imported() -> None:
    domain = {
        "visioregul.integration.sessions": sorted((ROOT / "sessions").glob("*.py")),
        "visioregul.integration.telephony": sorted((ROOT / "telephony").glob("*.py")),
        "visioregul.integration": [
            ROOT / name
            for name in ("video.py", "destinations.py", "appkeys.py", "errors.py", "language.py")
        ],
        "visioregul.patient_page": sorted((ROOT.parent / "patient_page").glob("*.py")),
    }
    for package, paths in domain.items():
        for path in paths:
            assert not web_imports(path, package), f"{path.name} imports the web layer"
    # The check sees an import of the web layer where there is one.
    assert web_imports(ROOT / "app.py", "visioregul.integration")
