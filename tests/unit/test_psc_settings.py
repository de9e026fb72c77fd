"""The ``[psc]`` settings: off by default, complete when on, each missing key named."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from visioregul.integration.production_checks import configuration_problems
from visioregul.integration.settings import PscSettings, ServiceSettings, Settings


def test_given_nothing_then_psc_is_off_with_its_defaults() -> None:
    psc = Settings().psc
    assert psc.enabled is False
    assert (psc.scopes, psc.acr_values, psc.identifier_claim) == (
        "openid scope_all",
        "eidas1",
        "SubjectNameID",
    )
    assert psc.provision_centre_id is None


def test_given_psc_on_without_its_keys_then_each_is_named() -> None:
    with pytest.raises(ValidationError) as caught:
        PscSettings(enabled=True)
    assert "psc.issuer, psc.client_id, psc.client_secret required" in str(caught.value)


def test_given_private_key_jwt_without_a_key_file_then_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        PscSettings(
            enabled=True,
            issuer="https://psc.example",
            client_id="visioregul",
            token_auth_method="private_key_jwt",
        )
    assert "psc.private_key_file required" in str(caught.value)


def test_given_complete_settings_then_accepted(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    psc = PscSettings(
        enabled=True,
        issuer="https://psc.example",
        client_id="visioregul",
        token_auth_method="private_key_jwt",
        private_key_file=key,
    )
    assert psc.private_key_file == key


def test_given_a_public_service_then_an_http_issuer_is_a_production_problem() -> None:
    public = ServiceSettings(public_url="https://visio.samu.example")
    psc = PscSettings(
        enabled=True,
        issuer="http://psc.example",
        client_id="visioregul",
        client_secret=SecretStr("s"),
    )
    problem = "psc.issuer is not https: Pro Santé Connect's tokens and codes would travel in clear"
    assert problem in configuration_problems(Settings(service=public, psc=psc))
    secure = psc.model_copy(update={"issuer": "https://auth.esante.gouv.fr/auth/realms/x"})
    assert problem not in configuration_problems(Settings(service=public, psc=secure))
