"""The CAD's deep link: a signed token of a minute opens the console once, signed in at the
position, on the call's card; every refusal is a French page and an audit entry. Tokens are
minted by ``config/examples/cad_deep_link.py``, the example CAD vendors are given."""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr

from tests.store.conftest import NewDatabase, backend, new_database  # noqa: F401  (fixtures)
from visioregul.integration import account_admin, accounts, audit, cad_links, retention
from visioregul.integration.app import create_app
from visioregul.integration.settings import CadIssuer, CadLinkSettings, DatabaseSettings
from visioregul.integration.store.models import CadLinkToken, Role
from visioregul.integration.telephony.events import CallAnswered, CallRinging
from visioregul.integration.web import appkeys
from visioregul.integration.web.console_login import COOKIE_NAME

from .conftest import ClientFactory, make_settings

Client = TestClient[web.Request, web.Application]

ROOT = Path(__file__).resolve().parents[2]
SECRET = "a-secret-shared-with-the-cad-0123456789"
ISSUER = "cad-samu-75"


def example() -> ModuleType:
    """``config/examples/cad_deep_link.py``, imported from its file."""
    spec = importlib.util.spec_from_file_location(
        "cad_deep_link", ROOT / "config" / "examples" / "cad_deep_link.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXAMPLE = example()


def mint(**overrides: Any) -> str:
    """A token as the CAD signs it, with the example's defaults."""
    arguments: dict[str, Any] = {
        "issuer": ISSUER,
        "key": SECRET,
        "regulator": "regulateur",
        "position": "PJSIP/1001",
    }
    arguments.update(overrides)
    token: str = EXAMPLE.mint_token(**arguments)
    return token


def cad_settings(tmp_path: Path, database_url: str, **cad: Any) -> Any:
    settings = make_settings(tmp_path)
    settings.database = DatabaseSettings(url=database_url)
    settings.cad_link = CadLinkSettings(
        **{
            "issuers": [CadIssuer(issuer=ISSUER, secret=SecretStr(SECRET))],
            "frame_ancestors": ["https://cad.samu75.example.fr"],
            **cad,
        }
    )
    return settings


async def with_accounts(client: Client) -> Client:
    async with client.app[appkeys.DB].begin() as db:
        await accounts.ensure_account(
            db,
            "regulateur",
            "correct horse battery",
            display_name="Dr Martin",
            role=Role.REGULATOR,
            position="PJSIP/1001",
            positions=["PJSIP/1001", "PJSIP/1002"],
        )
        await accounts.ensure_account(
            db, "gestion", "correct horse battery", display_name="Admin", role=Role.ADMIN
        )
    return client


@pytest.fixture
async def database_url(new_database: NewDatabase) -> str:  # noqa: F811
    return await new_database()


@pytest.fixture
async def client(aiohttp_client: ClientFactory, tmp_path: Path, database_url: str) -> Client:
    return await with_accounts(
        await aiohttp_client(create_app(cad_settings(tmp_path, database_url)))
    )


async def open_link(client: Client, token: str) -> Any:
    """Open the deep link; keep the login cookie it sets (``Secure``, which the test client on
    plain HTTP would not send back by itself, as a browser does on the HTTPS it requires)."""
    response = await client.get(f"/console/cad?token={token}", allow_redirects=False)
    for header in response.headers.getall("Set-Cookie", []):
        name, _, rest = header.partition("=")
        if name == COOKIE_NAME:
            client.session.cookie_jar.update_cookies({COOKIE_NAME: rest.split(";", 1)[0]})
    return response


async def entries(client: Client, action: str) -> list[Any]:
    async with client.app[appkeys.DB]() as db:
        return list(await audit.recent(db, action=action))


def answer_call(client: Client, call_id: str, uniqueid: str, position: str) -> None:
    registry = client.app[appkeys.REGISTRY]
    at = datetime.now(UTC)
    registry.apply(CallRinging(call_id, "15", "+33612345678", "PJSIP/trunk-1", uniqueid, at))
    registry.apply(CallAnswered(call_id, position, at))


async def test_given_a_token_naming_a_live_call_then_the_console_opens_on_its_card(
    client: Client,
) -> None:
    answer_call(client, "1733400000.41", "1733400000.42", "PJSIP/1001")
    # The CAD knows the caller's leg by its Uniqueid: the console finds the call.
    response = await open_link(client, mint(call="1733400000.42"))
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == "/console#/call/1733400000.41"
    # Signed in, position bound: no second login.
    me = await (await client.get("/console/api/me")).json()
    assert me["account"]["username"] == "regulateur"
    assert me["position"] == "PJSIP/1001"
    (entry,) = await entries(client, "console.cad_login")
    assert entry.actor == "regulateur"
    assert entry.details["issuer"] == ISSUER
    assert entry.details["call_known"] is True
    assert entry.details["position"] == "PJSIP/1001"


async def test_given_the_call_id_itself_then_the_card_is_that_call(client: Client) -> None:
    answer_call(client, "1733400000.51", "1733400000.51", "PJSIP/1002")
    response = await open_link(client, mint(call="1733400000.51", position="1002"))
    assert response.headers["Location"] == "/console#/call/1733400000.51"
    me = await (await client.get("/console/api/me")).json()
    assert me["position"] == "PJSIP/1002"


async def test_given_an_unknown_call_then_the_console_opens_with_a_notice(client: Client) -> None:
    # A call of another position is not this regulator's card either.
    answer_call(client, "1733400000.61", "1733400000.61", "PJSIP/1003")
    for call in ("1733400000.99", "1733400000.61"):
        response = await open_link(client, mint(call=call))
        assert response.status == 303
        assert response.headers["Location"] == "/console?notice=cad_call_unknown"
    page = await client.get("/console")
    assert page.status == 200
    assert "pas (ou plus) sur votre poste" in await page.text()


async def test_given_no_call_then_the_console_opens_on_the_position(client: Client) -> None:
    response = await open_link(client, mint())
    assert response.headers["Location"] == "/console"


async def test_given_a_framing_cad_then_the_cookie_is_partitioned_and_csrf_still_guards(
    client: Client,
) -> None:
    response = await open_link(client, mint())
    (header,) = response.headers.getall("Set-Cookie")
    attributes = [part.strip() for part in header.split(";")]
    assert attributes[0].startswith(f"{COOKIE_NAME}=")
    assert {"Secure", "SameSite=None", "Partitioned", "HttpOnly", "Path=/"} <= set(attributes)
    # The CSRF token is kept: an unsafe request without it is refused, with it accepted.
    me = await (await client.get("/console/api/me")).json()
    refused = await client.post("/console/api/position", json={"position": "PJSIP/1002"})
    assert refused.status == 403
    changed = await client.post(
        "/console/api/position",
        json={"position": "PJSIP/1002"},
        headers={"X-CSRF-Token": me["csrf_token"]},
    )
    assert changed.status == 200
    # Its new cookie keeps the attributes that let it live in the CAD's frame.
    assert "Partitioned" in changed.headers["Set-Cookie"]
    logout = await client.post("/console/logout", headers={"X-CSRF-Token": me["csrf_token"]})
    assert "Partitioned" in logout.headers["Set-Cookie"]
    assert "Max-Age=0" in logout.headers["Set-Cookie"]


async def test_given_a_framing_cad_then_the_language_choice_is_partitioned_too(
    client: Client,
) -> None:
    response = await client.get("/console/login?lang=en", allow_redirects=False)
    assert response.status == 303
    attributes = {part.strip() for part in response.headers["Set-Cookie"].split(";")}
    assert {"visioregul_lang=en", "Secure", "SameSite=None", "Partitioned"} <= attributes


async def test_given_frame_ancestors_then_the_console_may_be_framed_by_them_only(
    client: Client,
) -> None:
    for path in ("/console/login", "/console/cad?token=x"):
        response = await client.get(path, allow_redirects=False)
        assert "X-Frame-Options" not in response.headers
        assert (
            "frame-ancestors 'self' https://cad.samu75.example.fr;"
            in response.headers["Content-Security-Policy"]
        )
    # The patient's page and the rest are never framed.
    for path in ("/p/unknown-token-0123456789", "/test", "/healthz"):
        response = await client.get(path, allow_redirects=False)
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path


async def test_given_no_frame_ancestors_then_nothing_frames_the_console_and_cookies_are_strict(
    aiohttp_client: ClientFactory, tmp_path: Path, database_url: str
) -> None:
    settings = cad_settings(tmp_path, database_url, frame_ancestors=[])
    client = await with_accounts(await aiohttp_client(create_app(settings)))
    response = await open_link(client, mint())
    assert response.status == 303
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    header = response.headers["Set-Cookie"]
    assert "SameSite=Strict" in header and "Partitioned" not in header


@pytest.mark.parametrize(
    ("token", "reason", "text"),
    [
        (lambda: mint(key="another-secret-not-the-cads-0123456789"), "invalid", "pas valable"),
        (lambda: mint(issuer="cad-unknown"), "invalid", "pas valable"),
        (lambda: mint(audience="another-service"), "invalid", "pas valable"),
        (lambda: "not-a-token", "invalid", "pas valable"),
        (lambda: mint(now=time.time() - 120), "expired", "a expiré"),
        (lambda: mint(lifetime=3600), "too_long_lived", "trop longtemps"),
        (lambda: mint(regulator="inconnu"), "unknown_account", "compte inconnu ou désactivé"),
        (lambda: mint(regulator="gestion"), "unknown_account", "compte inconnu ou désactivé"),
        (lambda: mint(position="PJSIP/1003"), "position_not_allowed", "poste"),
        (lambda: mint(position="not a position"), "position_not_allowed", "poste"),
    ],
)
async def test_given_a_bad_token_then_a_french_refusal_and_an_audit_entry(
    client: Client, token: Any, reason: str, text: str
) -> None:
    response = await open_link(client, token())
    assert response.status == 403
    assert response.headers["Content-Type"].startswith("text/html")
    page = await response.text()
    assert '<html lang="fr">' in page
    assert "La console ne s'ouvre pas depuis ce lien" in page
    assert text in page
    assert "Set-Cookie" not in response.headers
    assert (await client.get("/console/api/me")).status == 401
    (entry,) = await entries(client, "console.cad_link_refused")
    assert entry.details["reason"] == reason
    # A forged token names nobody: what it claims goes to the details, not to the actor.
    assert entry.actor == ("anonymous" if reason == "invalid" else entry.details["sub"])


async def test_given_an_unsigned_or_hs_confused_token_then_refused(client: Client) -> None:
    """The algorithm is the issuer's, never the one the token names (``alg: none``)."""
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": "visioregul",
        "sub": "regulateur",
        "position": "PJSIP/1001",
        "iat": now,
        "exp": now + 30,
        "jti": "jti-unsigned-0001",
    }
    unsigned = jwt.encode(claims, key=None, algorithm="none")  # type: ignore[arg-type]
    response = await open_link(client, unsigned)
    assert response.status == 403
    missing = {key: value for key, value in claims.items() if key != "jti"}
    response = await open_link(client, jwt.encode(missing, SECRET, algorithm="HS256"))
    assert response.status == 403


async def test_given_a_disabled_account_then_refused(client: Client) -> None:
    async with client.app[appkeys.DB].begin() as db:
        await account_admin.disable_account(db, "regulateur")
    response = await open_link(client, mint())
    assert response.status == 403
    assert "compte inconnu ou désactivé" in await response.text()


# Several instances share PostgreSQL only: a second instance on one SQLite file is refused.
@pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_given_a_token_used_once_then_it_is_refused_on_every_instance(
    aiohttp_client: ClientFactory, tmp_path: Path, database_url: str
) -> None:
    """Single use holds across instances sharing the database."""
    first = await with_accounts(
        await aiohttp_client(create_app(cad_settings(tmp_path / "a", database_url)))
    )
    second = await aiohttp_client(create_app(cad_settings(tmp_path / "b", database_url)))
    token = mint()
    assert (await open_link(first, token)).status == 303
    replayed = await open_link(second, token)
    assert replayed.status == 403
    assert "déjà servi" in await replayed.text()
    assert (await open_link(first, token)).status == 403
    refusals = await entries(first, "console.cad_link_refused")
    assert [entry.details["reason"] for entry in refusals] == ["replayed", "replayed"]
    assert all(entry.actor == "regulateur" for entry in refusals)


async def test_given_a_refused_account_then_its_token_is_used_up_all_the_same(
    client: Client,
) -> None:
    token = mint(position="PJSIP/1003")
    assert (await open_link(client, token)).status == 403
    async with client.app[appkeys.DB]() as db:
        assert await db.get(CadLinkToken, (ISSUER, jti_of(token))) is not None


def jti_of(token: str) -> str:
    jti: str = jwt.decode(token, options={"verify_signature": False})["jti"]
    return jti


async def test_given_es256_then_the_cads_public_key_verifies(
    aiohttp_client: ClientFactory, tmp_path: Path, database_url: str
) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    public = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    issuer = CadIssuer(issuer=ISSUER, algorithm="ES256", public_key=public)
    settings = cad_settings(tmp_path, database_url, issuers=[issuer])
    client = await with_accounts(await aiohttp_client(create_app(settings)))
    assert (await open_link(client, mint(key=pem, algorithm="ES256"))).status == 303
    # An HS256 token signed with the public key as its secret: the classic confusion (signed by
    # hand, PyJWT itself refuses to make it).
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {
        "iss": ISSUER,
        "aud": "visioregul",
        "sub": "regulateur",
        "position": "PJSIP/1001",
        "iat": now,
        "exp": now + 30,
        "jti": "confused-jti-0001",
    }
    signing_input = ".".join(
        jwt.utils.base64url_encode(json.dumps(part).encode()).decode() for part in (header, claims)
    )
    signature = hmac.new(public.encode(), signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{jwt.utils.base64url_encode(signature).decode()}"
    assert (await open_link(client, forged)).status == 403


async def test_given_housekeeping_then_used_tokens_past_expiry_are_purged(client: Client) -> None:
    assert (await open_link(client, mint())).status == 303
    async with client.app[appkeys.DB].begin() as db:
        db.add(
            CadLinkToken(
                issuer=ISSUER,
                jti="long-gone-jti-0001",
                used_at=datetime.now(UTC) - timedelta(minutes=5),
                expires_at=datetime.now(UTC) - timedelta(minutes=4),
            )
        )
    await retention.purge_retained(client.app[appkeys.DB], client.app[appkeys.SETTINGS])
    async with client.app[appkeys.DB]() as db:
        assert await db.get(CadLinkToken, (ISSUER, "long-gone-jti-0001")) is None
        remaining = await cad_links.purge_used(db)
    assert remaining == 0


async def test_given_many_attempts_from_one_address_then_rate_limited(client: Client) -> None:
    for _ in range(20):
        await open_link(client, "not-a-token")
    response = await open_link(client, "not-a-token")
    assert response.status == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert "Trop de tentatives" in await response.text()


async def test_given_no_issuer_then_the_deep_link_is_off(
    aiohttp_client: ClientFactory, tmp_path: Path, database_url: str
) -> None:
    settings = cad_settings(tmp_path, database_url, issuers=[])
    client = await aiohttp_client(create_app(settings))
    response = await open_link(client, mint())
    assert response.status == 404
    assert "pas activée" in await response.text()


def test_given_bad_settings_then_they_are_refused() -> None:
    with pytest.raises(ValueError, match="32"):
        CadIssuer(issuer="cad", secret=SecretStr("short"))
    with pytest.raises(ValueError, match="PEM"):
        CadIssuer(issuer="cad", algorithm="RS256")
    with pytest.raises(ValueError, match="HTTPS origins"):
        CadLinkSettings(frame_ancestors=["http://cad.example.fr"])
    with pytest.raises(ValueError, match="HTTPS origins"):
        CadLinkSettings(frame_ancestors=["https://cad.example.fr/path"])
    with pytest.raises(ValueError):
        CadLinkSettings(max_lifetime=3600)
    assert CadLinkSettings(frame_ancestors=["HTTPS://Cad.Example.fr:8443/"]).frame_ancestors == [
        "https://cad.example.fr:8443"
    ]


def test_the_example_prints_a_url_that_opens_the_console(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAD_LINK_SECRET", SECRET)
    assert EXAMPLE.main(
        ["https://visio.example.fr/", "--issuer", ISSUER, "--regulator", "regulateur",
         "--position", "PJSIP/1001", "--call", "1733400000.42"]
    ) == 0  # fmt: skip
    url = capsys.readouterr().out.strip()
    assert url.startswith("https://visio.example.fr/console/cad?token=")
    token = url.split("token=", 1)[1]
    link = cad_links.verify(
        token, CadLinkSettings(issuers=[CadIssuer(issuer=ISSUER, secret=SecretStr(SECRET))])
    )
    assert (link.username, link.position, link.call) == (
        "regulateur",
        "PJSIP/1001",
        "1733400000.42",
    )
    assert link.expires_at - datetime.now(UTC) <= timedelta(seconds=60)
