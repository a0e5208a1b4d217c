"""Every page carries a strict Content-Security-Policy that its markup obeys."""

import re

import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories import IncidentFactory

# Code or styles written into markup, all refused by the policy: a <script>
# without src or with a body, an on*= handler, a style= attribute, a <style>
# block, a javascript: URL.
INLINE = re.compile(
    r"<script\b(?![^>]*\bsrc=)[^>]*>"
    r"|<script\b[^>]*>\s*+(?!</script>)\S"
    r"|<[a-z][^>]*\son[a-z]+\s*="
    r"|<[a-z][^>]*\sstyle\s*="
    r"|<style\b"
    r"|javascript:",
    re.IGNORECASE,
)


# Template tags may hold ">" ({% static %}); the finder reads around them.
TEMPLATE_CODE = re.compile(r"{%.*?%}|{{.*?}}|{#.*?#}", re.DOTALL)


def inline_code(markup):
    return INLINE.search(TEMPLATE_CODE.sub("X", markup))


def template_files():
    """Django templates and the Jinja2 bodies of the hot pages."""
    templates = settings.BASE_DIR / "templates"
    return sorted([*templates.rglob("*.html"), *templates.rglob("*.jinja")])


@pytest.mark.parametrize(
    "markup",
    [
        "<script>alert(1)</script>",
        '<script type="module">\n  go();\n</script>',
        "<script>\n</script>",
        '<script src="/static/js/a.js">go();</script>',
        '<button type="button" onclick="go()">Go</button>',
        '<body\n  onload="go()">',
        '<pre style="white-space: pre-wrap">',
        "<style>p { color: red }</style>",
        '<a href="javascript:go()">Go</a>',
    ],
)
def test_inline_finder_spots_inline_code(markup):
    assert inline_code(markup)


@pytest.mark.parametrize(
    "markup",
    [
        "<script src=\"{% static 'js/customer-search.js' %}\"></script>",
        '<script id="c"\n  src="{% static \'a.js\' %}"\n  data-x="{{ x }}">\n</script>',
        '<input data-customer-search list="customers" name="customer">',
        '<a class="online" href="/">Online</a>',
    ],
)
def test_inline_finder_lets_external_code_through(markup):
    assert not inline_code(markup)


def test_no_template_contains_inline_code():
    files = template_files()
    offenders = {
        str(path): match.group(0)
        for path in files
        for match in [inline_code(path.read_text())]
        if match
    }

    assert any(path.name == "base.html" for path in files)
    assert any(path.name == "incident_list_body.jinja" for path in files)
    assert offenders == {}


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["anonymous", "agent", "admin"])
def test_pages_carry_the_policy(client, agent, admin_user, who):
    incident = IncidentFactory()
    pages = [reverse("login")]
    if who == "agent":
        client.force_login(agent)
        pages += [reverse("incidents:list"), incident.get_absolute_url(), "/admin/"]
    if who == "admin":
        client.force_login(admin_user)
        pages += [reverse("admin:index"), reverse("admin:comms_messagetemplate_add")]

    for page in pages:
        response = client.get(page)

        policy = directives(response.headers.get("Content-Security-Policy", ""))
        assert response.status_code in (200, 403), page
        assert policy["default-src"] == ["'self'"], page
        assert policy["script-src"] == ["'self'"], page
        assert policy["style-src"] == ["'self'"], page
        assert policy["object-src"] == ["'none'"], page
        assert policy["frame-ancestors"] == ["'none'"], page


def directives(header):
    parts = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in parts}


@pytest.mark.django_db
def test_admin_pages_load_the_styles_moved_out_of_templates(client, admin_user):
    client.force_login(admin_user)

    response = client.get(reverse("admin:index"))

    assert "css/admin.css" in response.content.decode()
    assert "Switchboard administration" in response.content.decode()
