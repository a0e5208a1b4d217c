import itertools
import threading

import pytest

from comms import rendering
from comms.catalogue import sample_context
from comms.library import LIBRARY
from comms.rendering import RenderError, render, render_text, variable_uses

SSTI_PAYLOADS = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ config.items() }}",
    "{{ settings.SECRET_KEY }}",
    "{{ request.application.__globals__ }}",
    "{{ incident.__class__.__base__.__subclasses__() }}",
    "{{ incident.title.__class__ }}",
    "{{ ''|attr('__class__') }}",
    "{% for c in ().__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ incident.items.__self__.__class__ }}",
    "{{ 'x'.format_map }}",
    "{{ '{0.__class__}'.format(incident) }}",
    "{% set x = incident.tags.append('y') %}{{ x }}",
    "{{ incident.tags.pop() }}",
    "{% import 'os' as os %}",
    "{% include '/etc/passwd' %}",
    "{% extends 'base.html' %}",
]


@pytest.mark.parametrize("payload", SSTI_PAYLOADS)
def test_known_template_injection_payloads_fail_cleanly(payload):
    with pytest.raises(RenderError):
        render_text(payload, sample_context())


@pytest.mark.parametrize(
    "payload",
    [
        "{{ 'x' * 100000000 }}",
        "{{ [1] * 100000000 }}",
        "{{ 9 ** 9999999 }}",
        "{% for a in range(100000) %}x{% endfor %}",
        "{{ 'x'.ljust(100000000) }}",
        "{{ '%0100000000d'|format(1) }}",
        "{{ 'x'|center(100000000) }}",
        "{{ range(1000)|join('x' * 40000) }}",
        "{% for a in range(1000) %}{% for b in range(1000) %}{{ 'x' * 49 }}"
        "{% endfor %}{% endfor %}",
        "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
        "{{ 1 / 0 }}",
        "{{ '%300000000s' % 'x' }}",
        "{{ [1]|batch(100000000, 0)|list }}",
        "{{ (['x' * 50000] * 5000)|string }}",
        "{{ (1).to_bytes(300000000, 'big') }}",
        "{{ (((10 ** 64) ** 64) ** 64) ** 64 }}",
        "{{ incident.items() }}",
    ],
)
def test_resource_hungry_templates_fail_within_limits(payload):
    with pytest.raises(RenderError):
        render_text(payload, sample_context())


def test_loops_that_print_nothing_are_stopped_by_the_work_budget():
    nested = (
        "{% for a in range(1000) %}{% for b in range(1000) %}"
        "{% for c in range(1000) %}{% endfor %}{% endfor %}{% endfor %}"
    )

    with pytest.raises(RenderError, match="too much work"):
        render_text(nested, {})


def test_loops_over_long_text_are_stopped_by_the_work_budget():
    nested = (
        "{% for a in 'x' * 40000 %}{% for b in 'x' * 40000 %}{% endfor %}{% endfor %}"
    )

    with pytest.raises(RenderError, match="too much work"):
        render_text(nested, {})


def test_unknown_variables_are_errors_not_blanks():
    with pytest.raises(RenderError, match="titel"):
        render_text("{{ incident.titel }}", sample_context())


def test_syntax_errors_name_the_line():
    with pytest.raises(RenderError) as exc_info:
        render_text("Hello\n{{ incident.title \n", sample_context())

    assert exc_info.value.line == 2


def test_render_fills_variables_and_keeps_the_subject_on_one_line():
    rendered = render(
        "Update on\n{{ incident.reference }}",
        "Hi {{ customer.first_name }}, {{ incident.title|upper }}.",
        sample_context(),
    )

    assert rendered.subject == "Update on INC-00042"
    assert rendered.body == "Hi Priya, ESIM STUCK IN PROVISIONING."


def test_rendering_is_not_html_escaped_for_plain_text_messages():
    context = sample_context()
    context["incident"]["title"] = "Tom & Jerry <test>"

    assert render_text("{{ incident.title }}", context) == "Tom & Jerry <test>"


def _nested(opening: str, middle: str, closing: str, levels: int) -> str:
    return opening * levels + middle + closing * levels


DEEP_TEMPLATES = [
    _nested("{% if 1 %}", "x", "{% endif %}", 300),
    _nested("{% for a in [1] %}", "x", "{% endfor %}", 300),
    _nested("{% for a in [1] %}", "x", "{% endfor %}", 25),
    "{{ " + "(" * 300 + "1" + ")" * 300 + " }}",
    "{{ " + "[" * 300 + "1" + "]" * 300 + " }}",
    "{{ " + "not " * 1000 + "1 }}",
    "{{ " + "-" * 1000 + "1 }}",
    "{{ " + " + ".join(["1"] * 3000) + " }}",
    "{{ incident.title" + "|upper" * 1000 + " }}",
    "{{ incident" + ".title" * 1000 + " }}",
]


@pytest.mark.parametrize("source", DEEP_TEMPLATES)
def test_deeply_nested_templates_are_refused_naming_the_limit(source):
    for check in (variable_uses, lambda source: render_text(source, {})):
        with pytest.raises(RenderError, match="at most 20 levels"):
            check(source)


def test_templates_nested_up_to_the_limit_render():
    loops = _nested("{% for a in items %}", "{{ a }}", "{% endfor %}", 20)

    assert render_text(loops, {"items": [7]}) == "7"


def test_templates_that_recurse_without_end_fail_cleanly():
    endless = "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}"

    with pytest.raises(RenderError):
        render_text(endless, {})


@pytest.mark.parametrize(
    "payload",
    [
        # Each prints a short number, but builds a large value on the way.
        "{% macro twice(s, n) %}{% if n %}{{ twice(s ~ s, n - 1) }}{% else %}"
        "{{ s|length }}{% endif %}{% endmacro %}{{ twice('x' * 1000, 7) }}",
        "{% set s = 'x' * 30000 %}{% set s = s ~ s %}{{ s|length }}",
        "{% set s = 'x' * 30000 %}{{ (s + s)|length }}",
        "{% set l = [1] * 1000 %}{% set l = l + l %}{% set l = l + l %}"
        "{% set l = l + l %}{% set l = l + l %}{{ l|length }}",
        "{% set a = ['x' * 40000] %}{% set b = [a, a, a, a] %}{{ b|length }}",
        "{% set a = 'x' * 40000 %}{{ (a, a)|length }}",
        "{% set a = 'x' * 40000 %}{{ {'a': a, 'b': a}|length }}",
        "{% set r = range(1000)|list %}"
        "{{ [r, r, r, r, r, r, r, r, r, r, r]|sum(start=[])|length }}",
        "{% set l = ['x' * 10000] * 10 %}{{ l|upper|length }}",
        "{% set l = ['x' * 10000] * 10 %}{{ (l ~ '')|length }}",
        "{{ ([2 ** 64 * 2 ** 64 * 2 ** 64] * 10000)|length }}",
        "{{ ('x ' * 20000).split()|length }}",
        "{{ ('x' * 20000)|list|length }}",
        "{% macro m() %}{% for i in range(1000) %}{{ 'x' * 100 }}{% endfor %}"
        "{% endmacro %}{{ m()|length }}",
        "{% set s %}{% for i in range(1000) %}{{ 'x' * 100 }}{% endfor %}"
        "{% endset %}{{ s|length }}",
    ],
)
def test_large_intermediate_values_are_refused(payload):
    with pytest.raises(RenderError, match="more than|longer than"):
        render_text(payload, sample_context())


@pytest.mark.parametrize("name", ["replace", "center", "format", "indent", "wordwrap"])
def test_filters_that_can_grow_text_are_not_available(name):
    with pytest.raises(RenderError, match=f"No filter named '{name}'"):
        render_text(f"{{{{ 'x'|{name} }}}}", {})


def _render_in_thread(source: str, context: dict) -> dict:
    outcome = {}

    def target():
        try:
            outcome["text"] = render_text(source, context)
        except RenderError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    return outcome


_LEAVES = [{"children": []}] * 100
_TREE = [{"children": [{"children": _LEAVES}] * 100}] * 100


@pytest.mark.parametrize(
    ("source", "context"),
    [
        (
            "{% for a in items %}{% for b in items %}{% endfor %}{% endfor %}",
            {"items": list(range(3000))},
        ),
        (
            "{% for node in items recursive %}{{ loop(node.children) }}{% endfor %}",
            {"items": _TREE},
        ),
    ],
)
def test_slow_data_dependent_templates_stop_in_any_thread(source, context, monkeypatch):
    # A frozen clock: on a busy machine the deadline must not win the race
    # with the work budget this test is about.
    monkeypatch.setattr(rendering, "_clock", lambda: 0.0)

    outcome = _render_in_thread(source, context)

    assert "too much work" in str(outcome.get("error"))
    assert "100,000 steps" in str(outcome["error"])


def test_renders_past_the_deadline_stop_in_any_thread(monkeypatch):
    ticks = itertools.count()
    # Each reading of the clock is a hundredth of a second later.
    monkeypatch.setattr(rendering, "_clock", lambda: next(ticks) / 100)
    rounds = "{% for a in range(1000) %}{% for b in range(3) %}{% endfor %}{% endfor %}"

    outcome = _render_in_thread(rounds, {})

    assert "longer than 1 s" in str(outcome.get("error"))


def test_shipped_templates_render_well_within_the_budget(monkeypatch):
    monkeypatch.setattr(rendering, "MAX_OPERATIONS", 1_000)
    context = sample_context()

    for entry in LIBRARY:
        render(entry["subject"], entry["body"], context)


def test_a_paragraph_wrapped_in_the_template_reads_as_one_in_the_email():
    from comms.rendering import reflow

    body = (
        "Hello Ana,\n"
        "\n"
        "We know INC-00008 cost you time and trouble, and we want to\n"
        "make up for it. We have closed\n"
        "INC-00013.\n"
        "\n"
        "We are escalating it to you as ConnectX's\n"
        "management contact.\n"
        "\n"
        "What we have done\n"
        "restarted the tracking service.\n"
        "https://support.example/incidents/8/\n"
        "\n"
        "Customer: Acme Corp <ops@acme.example> and a long enough line here\n"
        "Priority: P1\n"
        "- first point that is long enough to have been wrapped by the\n"
        "- second point\n"
        "\n"
        "The Customer Support team\n"
    )

    flowed = reflow(body)

    assert "we want to make up for it. We have closed INC-00013.\n" in flowed
    # A short line followed by one in lower case was cut mid-sentence too.
    assert "We are escalating it to you as ConnectX's management contact.\n" in flowed
    # A heading keeps its value on the next line, and a link its own line.
    assert "What we have done\nrestarted the tracking service.\nhttps://" in flowed
    assert (
        "Customer: Acme Corp <ops@acme.example> and a long enough line here\n"
        "Priority: P1"
    ) in flowed
    assert "wrapped by the\n- second point" in flowed
    assert flowed.startswith("Hello Ana,\n\n")
    assert flowed.endswith("The Customer Support team\n")
