"""The invitation's SMS and e-mail, in French and English, for the patient and a third party."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest

from visioregul.integration.messaging import (
    SMS_GSM7_MAX,
    Channel,
    InvitationRole,
    format_expiry,
    gsm7_length,
    render_invitation,
)
from visioregul.integration.messaging.invitations import TEMPLATES_DIR

ROLES: tuple[InvitationRole, ...] = ("patient", "third_party")
LANGUAGES = ("fr", "en")

# 14:32 in Paris, in winter (UTC+1) and in summer (UTC+2).
WINTER_EXPIRY = datetime(2026, 11, 30, 13, 32, tzinfo=UTC)
WINTER_NOW = WINTER_EXPIRY - timedelta(hours=2)
SUMMER_EXPIRY = datetime(2026, 7, 1, 12, 32, tzinfo=UTC)


def realistic_link() -> str:
    """A link of the length the service sends: 32 random bytes, base64url (43 characters)."""
    token = secrets.token_urlsafe(32)
    assert len(token) == 43
    return f"https://visio.samu-75.fr/p/{token}"


def render_sms(
    language: str, role: InvitationRole, *, expires_at: datetime, now: datetime, link: str
) -> str:
    return render_invitation(
        language,
        Channel.SMS,
        role=role,
        link=link,
        expires_at=expires_at,
        sender_name="SAMU 15",
        now=now,
    ).text


def test_given_each_language_and_role_then_every_template_file_exists() -> None:
    for language in LANGUAGES:
        for prefix in ("invitation", "thirdparty"):
            for suffix in ("sms.txt", "email_subject.txt", "email.txt", "email.html"):
                assert (TEMPLATES_DIR / language / f"{prefix}_{suffix}").is_file()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("expires_at", "now"),
    [
        pytest.param(WINTER_EXPIRY, WINTER_NOW, id="same-day"),
        # Past midnight in Paris the date is added: the longest SMS.
        pytest.param(
            datetime(2026, 11, 30, 23, 59, tzinfo=UTC),
            datetime(2026, 11, 30, 21, 59, tzinfo=UTC),
            id="next-day",
        ),
    ],
)
def test_given_a_realistic_link_when_rendering_the_sms_then_it_fits_one_gsm7_sms(
    language: str, role: InvitationRole, expires_at: datetime, now: datetime
) -> None:
    link = realistic_link()

    sms = render_sms(language, role, expires_at=expires_at, now=now, link=link)

    length = gsm7_length(sms)
    assert length is not None, f"not GSM-7: {sms!r}"
    assert length <= SMS_GSM7_MAX, f"{length} septets: {sms!r}"
    assert sms.startswith("SAMU 15")
    assert sms.endswith(link), "the link comes last, so that nothing sticks to it"


@pytest.mark.parametrize(
    ("language", "role", "expected"),
    [
        (
            "fr",
            "patient",
            "SAMU 15 : lien vidéo pour montrer la scène au régulateur, "
            "valable jusqu'à 14h32\nhttps://visio.samu-75.fr/p/abc",
        ),
        (
            "fr",
            "third_party",
            "SAMU 15 : lien pour rejoindre la vidéo du régulateur, "
            "valable jusqu'à 14h32\nhttps://visio.samu-75.fr/p/abc",
        ),
        (
            "en",
            "patient",
            "SAMU 15: video link to show the scene to the regulator, "
            "valid until 14:32\nhttps://visio.samu-75.fr/p/abc",
        ),
        (
            "en",
            "third_party",
            "SAMU 15: link to join the regulator's video, "
            "valid until 14:32\nhttps://visio.samu-75.fr/p/abc",
        ),
    ],
)
def test_given_a_language_and_role_when_rendering_the_sms_then_the_exact_text(
    language: str, role: InvitationRole, expected: str
) -> None:
    sms = render_sms(
        language,
        role,
        expires_at=WINTER_EXPIRY,
        now=WINTER_NOW,
        link="https://visio.samu-75.fr/p/abc",
    )

    assert sms == expected


@pytest.mark.parametrize(
    ("expires_at", "now", "language", "expected"),
    [
        (WINTER_EXPIRY, WINTER_NOW, "fr", "14h32"),
        (WINTER_EXPIRY, WINTER_NOW, "en", "14:32"),
        (SUMMER_EXPIRY, SUMMER_EXPIRY - timedelta(hours=2), "fr", "14h32"),
        # 00:30 in Paris on 1 December, asked at 22:30 on 30 November.
        (
            datetime(2026, 11, 30, 23, 30, tzinfo=UTC),
            datetime(2026, 11, 30, 21, 30, tzinfo=UTC),
            "fr",
            "00h30 le 01/12",
        ),
        (
            datetime(2026, 11, 30, 23, 30, tzinfo=UTC),
            datetime(2026, 11, 30, 21, 30, tzinfo=UTC),
            "en",
            "00:30 on 1 Dec",
        ),
    ],
)
def test_given_an_expiry_in_utc_when_formatting_then_paris_local_time(
    expires_at: datetime, now: datetime, language: str, expected: str
) -> None:
    assert format_expiry(language, expires_at, now=now) == expected


def test_given_another_timezone_when_formatting_then_its_local_time() -> None:
    expires_at = datetime(2026, 11, 30, 13, 32, tzinfo=UTC)

    shown = format_expiry("fr", expires_at, timezone="America/Martinique", now=expires_at)

    assert shown == "09h32"


def test_given_a_naive_expiry_when_rendering_then_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        render_invitation(
            "fr",
            Channel.SMS,
            role="patient",
            link="https://visio.samu-75.fr/p/abc",
            expires_at=datetime(2026, 11, 30, 14, 32),
            sender_name="SAMU 15",
        )


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "https://visio.samu-75.fr/p/abc def",
        "https://visio.samu-75.fr/p/abc\nBcc: x",
        'https://visio.samu-75.fr/p/"><script>',
        "ftp://visio.samu-75.fr/p/abc",
    ],
)
def test_given_a_link_that_is_not_a_plain_url_when_rendering_then_refused(link: str) -> None:
    with pytest.raises(ValueError, match="link"):
        render_invitation(
            "fr",
            Channel.EMAIL,
            role="patient",
            link=link,
            expires_at=WINTER_EXPIRY,
            sender_name="SAMU 15",
        )


def test_given_french_when_rendering_the_patient_email_then_subject_text_and_html() -> None:
    link = "https://visio.samu-75.fr/p/abc"

    rendered = render_invitation(
        "fr",
        Channel.EMAIL,
        role="patient",
        link=link,
        expires_at=WINTER_EXPIRY,
        sender_name="SAMU 15",
        now=WINTER_NOW,
    )

    assert rendered.subject == "SAMU 15 : lien vidéo pour montrer la scène au régulateur"
    assert rendered.html is not None
    for part in (rendered.text, rendered.html):
        assert "vous pourrez montrer la scène en vidéo au régulateur" in part
        assert "la conversation continue au téléphone" in part
        assert link in part
        assert "valable jusqu'à" in part and "14h32" in part
        assert "rappelez le 15" in part
        assert "$" not in part
    assert f'<a href="{link}"' in rendered.html
    assert '<html lang="fr">' in rendered.html


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("role", ROLES)
def test_given_any_language_and_role_when_rendering_the_email_then_every_value_is_filled(
    language: str, role: InvitationRole
) -> None:
    link = realistic_link()

    rendered = render_invitation(
        language,
        Channel.EMAIL,
        role=role,
        link=link,
        expires_at=WINTER_EXPIRY,
        sender_name="SAMU 75",
        now=WINTER_NOW,
    )

    assert rendered.subject is not None and rendered.subject.startswith("SAMU 75")
    assert "\n" not in rendered.subject
    assert rendered.html is not None
    for part in (rendered.text, rendered.html):
        assert link in part
        assert "SAMU 75" in part
        assert "15" in part
        assert "$" not in part
    assert f'<html lang="{language}">' in rendered.html


def test_given_english_when_rendering_the_third_party_email_then_english_words() -> None:
    rendered = render_invitation(
        "en-GB",
        Channel.EMAIL,
        role="third_party",
        link="https://visio.samu-75.fr/p/abc",
        expires_at=WINTER_EXPIRY,
        sender_name="SAMU 15",
        now=WINTER_NOW,
    )

    assert rendered.subject == "SAMU 15: invitation to join a video session"
    assert "valid until 14:32" in rendered.text
    assert "join a video session in progress" in rendered.text


def test_given_a_language_without_templates_when_rendering_then_french() -> None:
    rendered = render_invitation(
        "de",
        Channel.SMS,
        role="patient",
        link="https://visio.samu-75.fr/p/abc",
        expires_at=WINTER_EXPIRY,
        sender_name="SAMU 15",
        now=WINTER_NOW,
    )

    assert "valable jusqu'à 14h32" in rendered.text
    assert rendered.subject is None and rendered.html is None


def test_given_markup_in_values_when_rendering_the_email_then_html_escapes_and_text_does_not() -> (
    None
):
    link = "https://visio.samu-75.fr/p/abc?lang=fr&from='sms'"
    sender = 'SAMU <b>75</b> & "Paris"'

    rendered = render_invitation(
        "fr",
        Channel.EMAIL,
        role="patient",
        link=link,
        expires_at=WINTER_EXPIRY,
        sender_name=sender,
        now=WINTER_NOW,
    )

    assert rendered.html is not None
    assert "SAMU &lt;b&gt;75&lt;/b&gt; &amp; &quot;Paris&quot;" in rendered.html
    assert "<b>75</b>" not in rendered.html
    assert 'href="https://visio.samu-75.fr/p/abc?lang=fr&amp;from=&#x27;sms&#x27;"' in (
        rendered.html
    )
    assert sender in rendered.text
    assert link in rendered.text


def test_given_a_sender_name_with_a_line_break_when_rendering_then_refused() -> None:
    with pytest.raises(ValueError, match="sender name"):
        render_invitation(
            "fr",
            Channel.SMS,
            role="patient",
            link="https://visio.samu-75.fr/p/abc",
            expires_at=WINTER_EXPIRY,
            sender_name="SAMU 15\nSTOP au 36180",
        )
