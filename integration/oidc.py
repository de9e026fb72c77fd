"""Pro Santé Connect's side of a sign-in: an OpenID Connect relying party.

The authorization code flow with PKCE (S256), ``state`` and ``nonce``, on the provider's
discovery document. Authlib talks OAuth 2.0 (the authorization URL, the code exchange with
``client_secret_basic``, ``client_secret_post`` or ``private_key_jwt``); joserfc verifies every
JWT against the provider's JWKS (the ID token, a signed userinfo, a back-channel logout token);
Authlib's OpenID Connect claims check the ID token's issuer, audience, times, nonce and
``at_hash``. Nothing here knows HTTP servers: a refusal raises :class:`SignInRefused` with a
reason slug, which the web layer turns into a page in the reader's language.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import (
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet, RSAKey

from .settings import PscSettings

__all__ = [
    "BACKCHANNEL_LOGOUT_EVENT",
    "PendingSignIn",
    "ProviderIdentity",
    "ProviderLogout",
    "RelyingParty",
    "SignInRefused",
    "state_hash",
]

log = logging.getLogger(__name__)

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
_SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")


class SignInRefused(Exception):
    """A sign-in (or a logout notice) the service does not accept; ``reason`` is a slug that
    names what was wrong (``state``, ``issuer``, ``audience``, ``expired``, ``nonce``...)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def state_hash(state: str) -> str:
    """How a ``state`` is kept on the server: its SHA-256, never the bearer value itself."""
    return hashlib.sha256(state.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class PendingSignIn:
    """What one sign-in sent to the provider and must find again in its answer."""

    state: str
    nonce: str
    code_verifier: str

    @classmethod
    def new(cls) -> PendingSignIn:
        """Fresh random values (256 bits of ``state`` and ``nonce``; a 64-character verifier)."""
        return cls(secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48))


@dataclass(frozen=True, slots=True)
class ProviderIdentity:
    """A practitioner the provider vouched for."""

    national_id: str
    """The national identifier (RPPS/ADELI) from the configured userinfo claim."""
    sub: str
    sid: str | None
    """The provider's session, named again by its back-channel logout."""
    id_token: str
    """Kept for ``id_token_hint`` at sign-out."""
    acr: str | None
    given_name: str
    family_name: str


@dataclass(frozen=True, slots=True)
class ProviderLogout:
    """What a back-channel logout token names: the provider's session, or all of a subject's."""

    sub: str | None
    sid: str | None


class RelyingParty:
    """The service as Pro Santé Connect's client, on one issuer (discovery read once, JWKS
    read again when a token names a key it does not know)."""

    def __init__(
        self,
        settings: PscSettings,
        redirect_uri: str,
        transport: httpx2.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self.redirect_uri = redirect_uri
        self._transport = transport
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._private_key: RSAKey | None = None
        if settings.token_auth_method == "private_key_jwt" and settings.private_key_file:
            self._private_key = _load_private_key(settings.private_key_file.read_bytes())

    # -- the provider's documents ------------------------------------------------------------

    def _http(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(timeout=self.settings.timeout, transport=self._transport)

    async def metadata(self) -> dict[str, Any]:
        """The discovery document; its issuer must be exactly the configured one."""
        if self._metadata is None:
            url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
            body = await self._get_json(url)
            if body.get("issuer") != self.settings.issuer:
                raise SignInRefused("provider_unreachable", f"discovery names {body.get('issuer')}")
            for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(body.get(field), str):
                    raise SignInRefused("provider_unreachable", f"discovery lacks {field}")
            self._metadata = body
        return self._metadata

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with self._http() as client:
                response = await client.get(url, headers={"Accept": "application/json"})
                response.raise_for_status()
                body = response.json()
        except (httpx2.HTTPError, ValueError) as exc:
            raise SignInRefused("provider_unreachable", f"{url}: {exc}") from exc
        if not isinstance(body, dict):
            raise SignInRefused("provider_unreachable", f"{url}: not a JSON object")
        return body

    async def _key_set(self, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            metadata = await self.metadata()
            try:
                self._keys = KeySet.import_key_set(await self._get_json(metadata["jwks_uri"]))  # type: ignore[arg-type]
            except (JoseError, ValueError, TypeError) as exc:
                raise SignInRefused("provider_unreachable", f"JWKS: {exc}") from exc
        return self._keys

    async def _decode(self, token: str, algorithms: list[str]) -> jwt.Token:
        """A JWT of the provider, its signature checked against the JWKS (read again once when
        the key is unknown: the provider rotated its keys)."""
        try:
            try:
                return jwt.decode(token, await self._key_set(), algorithms=algorithms)
            except InvalidKeyIdError:
                return jwt.decode(token, await self._key_set(refresh=True), algorithms=algorithms)
        except JoseError as exc:
            raise SignInRefused("signature", str(exc)) from exc
        except ValueError as exc:  # not a JWT at all
            raise SignInRefused("signature", str(exc)) from exc

    async def _algorithms(self, field: str) -> list[str]:
        offered = (await self.metadata()).get(field) or ["RS256"]
        # Never "none", never a symmetric algorithm keyed by a public secret.
        return [alg for alg in offered if alg in _SIGNING_ALGORITHMS] or ["RS256"]

    def _client(self, **kwargs: Any) -> AsyncOAuth2Client:
        method: Any = self.settings.token_auth_method
        secret: Any = self.settings.client_secret.get_secret_value()
        if method == "private_key_jwt":
            method, secret = PrivateKeyJWT(), self._private_key
        return AsyncOAuth2Client(
            client_id=self.settings.client_id,
            client_secret=secret,
            token_endpoint_auth_method=method,
            scope=self.settings.scopes,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            timeout=self.settings.timeout,
            transport=self._transport,
            **kwargs,
        )

    # -- the flow ----------------------------------------------------------------------------

    async def authorization_url(self, pending: PendingSignIn) -> str:
        """Where to send the browser: the provider's sign-in, asking for the configured scopes
        and ``acr_values``, with PKCE's challenge, the ``state`` and the ``nonce``."""
        metadata = await self.metadata()
        extra = {"acr_values": self.settings.acr_values} if self.settings.acr_values else {}
        async with self._client() as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"],
                state=pending.state,
                code_verifier=pending.code_verifier,
                nonce=pending.nonce,
                **extra,
            )
        return str(url)

    async def finish(
        self, pending: PendingSignIn, code: str, issuer_param: str | None
    ) -> ProviderIdentity:
        """Exchange the code, check the ID token, read the userinfo; the practitioner."""
        metadata = await self.metadata()
        # RFC 9207: a provider that names itself in the answer must name the right issuer.
        if issuer_param is not None and issuer_param != self.settings.issuer:
            raise SignInRefused("issuer", f"callback names {issuer_param}")
        try:
            async with self._client() as client:
                token = await client.fetch_token(
                    metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=pending.code_verifier,
                )
        except (httpx2.HTTPError, ValueError) as exc:
            raise SignInRefused("provider_unreachable", f"token endpoint: {exc}") from exc
        except Exception as exc:  # Authlib's OAuthError: invalid_grant (a code used twice)...
            raise SignInRefused("token", str(exc)) from exc
        id_token = token.get("id_token")
        access_token = token.get("access_token")
        if not isinstance(id_token, str) or not isinstance(access_token, str):
            raise SignInRefused("token", "no id_token or access_token")
        claims = await self.check_id_token(id_token, pending.nonce, access_token)
        # The level asked for (eidas1: a CPS card or e-CPS) must be the level given.
        wanted = self.settings.acr_values.split()
        if wanted and claims.get("acr") not in wanted:
            raise SignInRefused("acr", f"acr {claims.get('acr')!r}, asked {wanted}")
        userinfo = await self.userinfo(access_token, claims["sub"])
        national_id = userinfo.get(self.settings.identifier_claim)
        if not isinstance(national_id, str) or not national_id.strip():
            raise SignInRefused("identifier", f"no {self.settings.identifier_claim}")
        return ProviderIdentity(
            national_id=national_id.strip()[:32],
            sub=str(claims["sub"]),
            sid=str(claims["sid"]) if claims.get("sid") else None,
            id_token=id_token,
            acr=str(claims["acr"]) if claims.get("acr") else None,
            given_name=str(userinfo.get("given_name") or ""),
            family_name=str(userinfo.get("family_name") or ""),
        )

    async def check_id_token(
        self, id_token: str, nonce: str, access_token: str | None = None
    ) -> dict[str, Any]:
        """The ID token's claims once its signature, issuer, audience, times, nonce (and
        ``at_hash``) are right; :class:`SignInRefused` naming the first that is wrong."""
        decoded = await self._decode(
            id_token, await self._algorithms("id_token_signing_alg_values_supported")
        )
        params: dict[str, Any] = {"nonce": nonce, "client_id": self.settings.client_id}
        if access_token:
            params["access_token"] = access_token
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {
                "iss": {"essential": True, "value": self.settings.issuer},
                "aud": {"essential": True, "value": self.settings.client_id},
                "exp": {"essential": True},
                "iat": {"essential": True},
                "nonce": {"essential": True, "value": nonce},
            },
            params,
        )
        try:
            claims.validate(now=int(self._clock()), leeway=self.settings.leeway)
        except ExpiredTokenError as exc:
            raise SignInRefused("expired", str(exc)) from exc
        except (InvalidClaimError, MissingClaimError) as exc:
            raise SignInRefused(_CLAIM_REASONS.get(exc.claim, "id_token"), str(exc)) from exc
        except JoseError as exc:
            raise SignInRefused("id_token", str(exc)) from exc
        return dict(claims)

    async def userinfo(self, access_token: str, sub: str) -> dict[str, Any]:
        """The userinfo, as JSON or as a JWT signed by the provider (Pro Santé Connect may
        answer either); its ``sub`` must be the ID token's."""
        url = (await self.metadata()).get("userinfo_endpoint")
        if not isinstance(url, str):
            raise SignInRefused("userinfo", "no userinfo_endpoint")
        try:
            async with self._http() as client:
                response = await client.get(
                    url,
                    headers={
                        "Authorization": f"Bearer {access_token}",
                        "Accept": "application/jwt, application/json",
                    },
                )
                response.raise_for_status()
        except httpx2.HTTPError as exc:
            raise SignInRefused("userinfo", str(exc)) from exc
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type == "application/jwt":
            decoded = await self._decode(
                response.text.strip(),
                await self._algorithms("userinfo_signing_alg_values_supported"),
            )
            registry = jwt.JWTClaimsRegistry(
                iss={"essential": False, "value": self.settings.issuer},
            )
            try:
                registry.validate(decoded.claims)
            except JoseError as exc:
                raise SignInRefused("userinfo", str(exc)) from exc
            if "aud" in decoded.claims and self.settings.client_id not in _audiences(
                decoded.claims
            ):
                raise SignInRefused("userinfo", "userinfo for another client")
            info: Any = decoded.claims
        else:
            try:
                info = json.loads(response.content)
            except ValueError as exc:
                raise SignInRefused("userinfo", "neither JSON nor a JWT") from exc
        if not isinstance(info, dict) or info.get("sub") != sub:
            raise SignInRefused("userinfo", "userinfo of another subject")
        return info

    # -- sign-out ----------------------------------------------------------------------------

    async def logout_url(self, id_token: str | None, post_logout_redirect_uri: str) -> str | None:
        """The provider's end-session URL (RP-initiated logout), or None when it offers none."""
        metadata = await self.metadata()
        endpoint = metadata.get("end_session_endpoint")
        if not isinstance(endpoint, str):
            return None
        params = {
            "client_id": self.settings.client_id,
            "post_logout_redirect_uri": post_logout_redirect_uri,
        }
        if id_token:
            params["id_token_hint"] = id_token
        return str(httpx2.URL(endpoint).copy_merge_params(params))

    async def check_logout_token(self, logout_token: str) -> ProviderLogout:
        """A back-channel logout token once checked (OpenID Connect Back-Channel Logout 1.0,
        2.6): signature, ``iss``, ``aud``, ``iat``, the logout event, ``sub`` or ``sid``, and
        no ``nonce``."""
        decoded = await self._decode(
            logout_token, await self._algorithms("id_token_signing_alg_values_supported")
        )
        registry = jwt.JWTClaimsRegistry(
            now=int(self._clock()),
            leeway=self.settings.leeway,
            iss={"essential": True, "value": self.settings.issuer},
            aud={"essential": True, "value": self.settings.client_id},
            iat={"essential": True},
        )
        claims = decoded.claims
        try:
            registry.validate(claims)
        except ExpiredTokenError as exc:
            raise SignInRefused("expired", str(exc)) from exc
        except (InvalidClaimError, MissingClaimError) as exc:
            raise SignInRefused(_CLAIM_REASONS.get(exc.claim, "logout_token"), str(exc)) from exc
        except JoseError as exc:
            raise SignInRefused("logout_token", str(exc)) from exc
        events = claims.get("events")
        if not isinstance(events, dict) or not isinstance(
            events.get(BACKCHANNEL_LOGOUT_EVENT), dict
        ):
            raise SignInRefused("logout_token", "no back-channel logout event")
        if "nonce" in claims:
            raise SignInRefused("logout_token", "a logout token carries no nonce")
        sub = claims.get("sub")
        sid = claims.get("sid")
        if not (isinstance(sub, str) and sub) and not (isinstance(sid, str) and sid):
            raise SignInRefused("logout_token", "neither sub nor sid")
        return ProviderLogout(
            sub=sub if isinstance(sub, str) and sub else None,
            sid=sid if isinstance(sid, str) and sid else None,
        )


_CLAIM_REASONS = {"iss": "issuer", "aud": "audience", "exp": "expired", "nonce": "nonce"}


def _audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    return [aud] if isinstance(aud, str) else [a for a in aud or [] if isinstance(a, str)]


def _load_private_key(data: bytes) -> RSAKey:
    """The service's key for ``private_key_jwt``: PEM or a JWK (JSON)."""
    text = data.strip()
    if text.startswith(b"{"):
        return RSAKey.import_key(json.loads(text))
    return RSAKey.import_key(text)
