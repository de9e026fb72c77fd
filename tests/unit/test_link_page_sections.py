"""The link's page is one template for both roles: each block written once, each role's own
sections kept for it only, and a section's lone tag line leaves no trace in the page."""

from __future__ import annotations

from visioregul.patient_page.http import STATIC_DIR, _sections

PATIENT = frozenset({"patient"})
THIRD_PARTY = frozenset({"third_party"})


def test_given_sections_then_only_the_shown_ones_stay_and_lone_tag_lines_vanish() -> None:
    template = (
        '<main{{#b}} data-role="b"{{/b}}>\n'
        "  {{#a}}\n"
        "  <p>a</p>\n"
        "  {{/a}}\n"
        "  {{#b}}\n"
        "  <p>b</p>\n"
        "  {{/b}}\n"
        "  <p>{{key}}</p>\n"
        "</main>\n"
    )

    assert (
        _sections(template, frozenset({"a"})) == "<main>\n  <p>a</p>\n  <p>{{key}}</p>\n</main>\n"
    )
    assert _sections(template, frozenset({"b"})) == (
        '<main data-role="b">\n  <p>b</p>\n  <p>{{key}}</p>\n</main>\n'
    )


def test_given_the_link_template_then_each_role_gets_its_own_blocks() -> None:
    template = (STATIC_DIR / "link.html").read_text(encoding="utf-8")

    patient = _sections(template, PATIENT)
    third = _sections(template, THIRD_PARTY)

    for page in (patient, third):
        assert "{{#" not in page and "{{/" not in page
        assert page.count('id="status"') == 1 and page.count('id="end"') == 1
    assert 'id="documents"' in patient and "{{=bundle}}" in patient and "{{=bundle}}" in third
    assert 'id="watch"' not in patient and "data-role" not in patient
    assert 'data-role="third_party"' in third and 'id="watch"' in third
    assert 'id="documents"' not in third and "photo-mode" not in third
