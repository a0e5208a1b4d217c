"""Remember the library's answers for the length of one sweep.

A sweep fires thousands of follow-ups that ask the same few questions:
which template fits a P3 customer follow-up #2, what the policy promises
at P3, how a customer message leaves. Inside ``remembering()`` each answer
is read once; outside it (pages, the composer, the admin) every call reads
the database, so an admin's edit shows at once. A sweep is a snapshot of
the library taken when it starts, and the next sweep is a minute away.

The answers are shared objects: callers read them and never change them.
"""

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

_answers: ContextVar[dict | None] = ContextVar("sweep_answers", default=None)


@contextmanager
def remembering() -> Iterator[None]:
    """Answer repeated library questions from memory until the block ends."""
    token = _answers.set({})
    try:
        yield
    finally:
        _answers.reset(token)


def recall(key: Hashable, compute: Callable[[], T]) -> T:
    """Return the remembered answer for ``key``, computing it the first time."""
    answers = _answers.get()
    if answers is None:
        return compute()
    if key not in answers:
        answers[key] = compute()
    return answers[key]
