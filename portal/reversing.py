"""URL reversing for the hot pages: the same URLs as reverse(), cheaper.

A page that links every row to its incident calls reverse() dozens of times,
and each call walks the resolver, converts, matches a regular expression and
quotes (a sixth of My work's rendering in a profile). For numeric arguments
the result is a fixed text around the numbers, so each (name, argument
count) is reversed once with stand-in numbers and later calls fill the
numbers in.
"""

from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse

# Two sets of stand-ins of different lengths: a pattern that reverses both
# the same way takes any non-negative integer there (path()'s <int:...>).
_LONG = 7_391_048_260
_SHORT = 5

_pieces: dict[tuple, list[str] | None] = {}


def _split(name: str, count: int) -> list[str] | None:
    """Return the literal text between the arguments, or None when this name
    cannot be reversed by filling numbers in."""
    long_args = [_LONG + i for i in range(count)]
    try:
        long_url = reverse(name, args=long_args)
        short_url = reverse(name, args=[_SHORT + i for i in range(count)])
    except NoReverseMatch:
        return None
    pieces, rest = [], long_url
    for arg in long_args:
        before, found, rest = rest.partition(str(arg))
        if not found or str(arg) in rest:
            return None
        pieces.append(before)
    pieces.append(rest)
    if _join(pieces, [_SHORT + i for i in range(count)]) != short_url:
        return None
    return pieces


def _join(pieces: list[str], args) -> str:
    parts = [pieces[0]]
    for arg, piece in zip(args, pieces[1:], strict=True):
        parts.append(str(arg))
        parts.append(piece)
    return "".join(parts)


def url_for(name: str, *args) -> str:
    """Return reverse(name, args=args), from the cached text when every
    argument is a non-negative integer."""
    if not all(type(arg) is int and arg >= 0 for arg in args):
        return reverse(name, args=args)
    key = (get_script_prefix(), get_urlconf(), name, len(args))
    try:
        pieces = _pieces[key]
    except KeyError:
        pieces = _pieces[key] = _split(name, len(args))
    if pieces is None:
        return reverse(name, args=args)
    return _join(pieces, args)
