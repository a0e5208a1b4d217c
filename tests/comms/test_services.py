import pytest
from django.core.exceptions import ValidationError

from comms import services
from comms.models import MessageTemplate
from tests.assertions import error_codes


@pytest.fixture
def template(db):
    return MessageTemplate.objects.get(key="customer-follow-up-1")


def test_check_template_source_names_the_line_of_a_syntax_error():
    with pytest.raises(ValidationError) as exc_info:
        services.check_template_source(subject="", body="Hi\n{% if x %}\nno end")

    assert "Line 3" in " ".join(exc_info.value.message_dict["body"])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Hello {{ customr.name }}", "Line 1: unknown variable “customr.name”"),
        ("Hi\n{{ incident.titel }}", "Line 2: “incident.titel” is not in the"),
    ],
)
def test_check_template_source_names_unknown_variables(body, expected):
    with pytest.raises(ValidationError) as exc_info:
        services.check_template_source(subject="", body=body)

    assert expected in " ".join(exc_info.value.message_dict["body"])
    assert error_codes(exc_info.value) == {"invalid_template"}


def test_check_template_source_checks_the_subject_too():
    with pytest.raises(ValidationError) as exc_info:
        services.check_template_source(subject="{{ secret }}", body="ok")

    assert "subject" in exc_info.value.message_dict


def test_check_template_source_refuses_what_fails_at_render_time():
    with pytest.raises(ValidationError) as exc_info:
        services.check_template_source(subject="", body="{{ 'x' * 10000000 }}")

    assert error_codes(exc_info.value) == {"render_failed"}


def test_check_template_source_stops_a_template_that_never_finishes():
    endless = (
        "{% for a in 'x' * 40000 %}{% for b in 'x' * 40000 %}{% endfor %}{% endfor %}"
    )

    with pytest.raises(ValidationError) as exc_info:
        services.check_template_source(subject="", body=endless)

    assert error_codes(exc_info.value) == {"render_failed"}


def test_check_template_source_accepts_loops_and_local_names():
    services.check_template_source(
        subject="{{ incident.reference }}",
        body="{% for tag in incident.tags %}{{ loop.index }} {{ tag }}{% endfor %}"
        "{% set n = follow_up_number %}{{ n }}",
    )


@pytest.mark.django_db
def test_revise_template_saves_a_new_version_and_keeps_the_old(template, agent):
    first = template.current_version

    second = services.revise_template(
        template=template,
        subject="New {{ incident.reference }}",
        body="Hi",
        actor=agent,
    )

    template.refresh_from_db()
    assert second.number == first.number + 1
    assert template.current_version == second
    first.refresh_from_db()
    assert first.body != "Hi"  # the old wording is untouched
    assert second.created_by == agent


@pytest.mark.django_db
def test_revise_template_with_the_same_wording_adds_no_version(template, agent):
    current = template.current_version

    again = services.revise_template(
        template=template, subject=current.subject, body=current.body, actor=agent
    )

    assert again == current
    assert template.versions.count() == 1


@pytest.mark.django_db
def test_revise_template_refuses_bad_wording_and_keeps_the_current(template, agent):
    with pytest.raises(ValidationError):
        services.revise_template(
            template=template, subject="", body="{{ nope }}", actor=agent
        )

    assert template.versions.count() == 1


def test_check_template_source_renders_every_priority_before_accepting():
    only_on_p1 = "{% if incident.priority == 'P1' %}{{ 'x' * 10000000 }}{% endif %}ok"

    with pytest.raises(ValidationError) as exc_info:
        services.check_template_source(subject="", body=only_on_p1)

    assert error_codes(exc_info.value) == {"render_failed"}
