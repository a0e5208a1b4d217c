"""url_for gives exactly reverse()'s URLs, only cheaper."""

import pytest
from django.urls import (
    NoReverseMatch,
    URLPattern,
    URLResolver,
    get_resolver,
    reverse,
    set_script_prefix,
)
from django.urls.converters import IntConverter
from django.urls.resolvers import RoutePattern

from portal.reversing import url_for


def _named_int_patterns(resolver=None, namespace=""):
    """Yield (name, argument count) for every named URL whose arguments are
    all <int:...>."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _named_int_patterns(entry, inner)
        elif (
            isinstance(entry, URLPattern)
            and isinstance(entry.pattern, RoutePattern)
            and entry.name
        ):
            converters = entry.pattern.converters
            if all(isinstance(c, IntConverter) for c in converters.values()):
                yield f"{namespace}{entry.name}", len(converters)


NAMES = sorted(set(_named_int_patterns()))


def test_the_walk_finds_the_pages_links():
    assert ("incidents:detail", 1) in NAMES
    assert ("incidents:complete_action", 2) in NAMES


@pytest.mark.parametrize("values", [(0, 0), (7, 12), (123_456, 99)])
def test_every_numeric_url_is_the_one_reverse_gives(values):
    for name, count in NAMES:
        args = values[:count] if count <= 2 else (*values, *range(count - 2))
        assert url_for(name, *args) == reverse(name, args=args), name


def test_the_script_prefix_is_followed():
    try:
        set_script_prefix("/support/")
        assert url_for("incidents:detail", 42) == "/support/incidents/42/"
    finally:
        set_script_prefix("/")
    assert url_for("incidents:detail", 42) == "/incidents/42/"


def test_other_arguments_go_to_reverse():
    assert url_for("incidents:detail", "42") == reverse("incidents:detail", args=["42"])
    with pytest.raises(NoReverseMatch):
        url_for("incidents:detail", -1)
