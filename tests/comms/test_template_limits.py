"""Save-time checks of templates against the rendering limits."""

import pytest
from django.core.exceptions import ValidationError

from comms import services
from tests.assertions import error_codes


@pytest.mark.parametrize(
    "body",
    [
        "{% if 1 %}" * 300 + "x" + "{% endif %}" * 300,
        "{{ " + "(" * 300 + "1" + ")" * 300 + " }}",
        "{% for a in [1] %}" * 21 + "x" + "{% endfor %}" * 21,
    ],
)
def test_check_template_source_refuses_deep_nesting_naming_the_limit(body):
    with pytest.raises(ValidationError) as exc_info:
        services.check_template_source(subject="", body=body)

    assert "at most 20 levels" in " ".join(exc_info.value.message_dict["body"])
    assert error_codes(exc_info.value) == {"invalid_template"}


def test_check_template_source_refuses_large_intermediate_values():
    doubled = "{% set s = 'x' * 30000 %}{% set s = s ~ s %}{{ s|length }}"

    with pytest.raises(ValidationError) as exc_info:
        services.check_template_source(subject="", body=doubled)

    assert "longer than 50,000 characters" in exc_info.value.message_dict["body"][0]
    assert error_codes(exc_info.value) == {"render_failed"}
