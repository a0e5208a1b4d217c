"""Render admin-written message templates safely.

Templates are Jinja2 in an immutable sandbox with strict undefined, plus
guards the sandbox lacks: a small `range`, bounded `*`/`**`, an allowlist of
filters and string methods, a nesting limit, a size cap on every value a
template builds, an output size cap, and a work budget (a count of steps and
a deadline) that holds in any thread, not only where a signal can reach. A
template can read only the variables of the catalogue; it cannot reach
settings, the ORM or Python internals.
"""

import contextlib
import functools
import itertools
import re
import signal
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache

from jinja2 import (
    StrictUndefined,
    TemplateSyntaxError,
    UndefinedError,
    nodes,
    pass_environment,
)
from jinja2.compiler import CodeGenerator, optimizeconst
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.filters import make_attrgetter
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_OUTPUT_CHARS = 50_000
MAX_RANGE = 1_000
TIME_LIMIT_SECONDS = 1.0
# Blocks, brackets, filters and operators inside one another. CPython
# refuses more than 20 nested loops in one function, so a higher limit
# would only move the failure from the save to the compiler.
MAX_NESTING = 20
# Any text or list a template builds, counting the items and text of nested
# lists: a list of 5,000 references to one long text is short to build but
# huge once printed or joined.
MAX_TEXT_CHARS = 50_000
MAX_ITEMS = 10_000
# Loop rounds, attribute and item lookups, calls, filters and operators per
# render. The shipped templates take at most a few dozen; the count stops a
# render in any thread, where no signal can reach it.
MAX_OPERATIONS = 100_000

SAFE_FILTERS = {
    "abs",
    "capitalize",
    "default",
    "d",
    "e",
    "escape",
    "first",
    "float",
    "int",
    "last",
    "length",
    "list",
    "lower",
    "max",
    "min",
    "round",
    "sort",
    "sum",
    "title",
    "trim",
    "truncate",
    "unique",
    "upper",
    "wordcount",
    "count",
    "select",
    "reject",
    "selectattr",
    "rejectattr",
    "map",
    "dictsort",
    "items",
}
SAFE_STR_METHODS = {
    "upper",
    "lower",
    "title",
    "capitalize",
    "strip",
    "lstrip",
    "rstrip",
    "startswith",
    "endswith",
    "split",
    "splitlines",
    "isdigit",
    "isalpha",
}
_CONTAINERS = (list, tuple, dict, set, frozenset)
# Nodes that wrap another without nesting anything the author wrote.
_TRANSPARENT_NODES = (nodes.Output, nodes.Operand, nodes.Keyword, nodes.Pair)


class RenderError(Exception):
    """A template that cannot be rendered, with a reason fit for the admin."""

    def __init__(self, message: str, *, line: int | None = None):
        self.line = line
        super().__init__(f"Line {line}: {message}" if line else message)


class _Budget:
    """The work one render may still do, and when it must stop."""

    __slots__ = ("remaining", "deadline")

    def __init__(self):
        self.remaining = MAX_OPERATIONS
        self.deadline = _clock() + TIME_LIMIT_SECONDS


# Per thread (and asyncio task), and cheaper to read than a threading.local;
# None outside a render, where nothing is counted.
_current_budget: ContextVar[_Budget | None] = ContextVar(
    "template_budget", default=None
)
_clock = time.monotonic


def _too_slow() -> RenderError:
    return RenderError(
        f"The template took longer than {TIME_LIMIT_SECONDS:g} s to render."
    )


def _spend() -> None:
    """Count one step of template work; stop past the budget or the deadline."""
    budget = _current_budget.get()
    if budget is None:
        return
    budget.remaining -= 1
    if budget.remaining < 0:
        raise RenderError(
            f"The template does too much work: more than {MAX_OPERATIONS:,} "
            "steps (loop rounds, lookups, calls, filters and operators)."
        )
    if _clock() > budget.deadline:
        raise _too_slow()


def _within_limits(value):
    """Return ``value``, or raise if it holds too much text or too many items.

    Nested lists count in full, as often as they are referenced; the walk
    stops as soon as a limit is passed, so it costs at most the limits.
    """
    if isinstance(value, str):
        if len(value) > MAX_TEXT_CHARS:
            raise RenderError(
                f"A text in the template would be longer than "
                f"{MAX_TEXT_CHARS:,} characters."
            )
        return value
    if not isinstance(value, _CONTAINERS):
        return value
    chars, items, pending = 0, 0, [value]
    while pending:
        current = pending.pop()
        items += len(current)
        if items > MAX_ITEMS:
            raise RenderError(
                f"A list in the template would hold more than {MAX_ITEMS:,} items."
            )
        members = (
            itertools.chain.from_iterable(current.items())
            if isinstance(current, dict)
            else current
        )
        for member in members:
            if isinstance(member, str):
                chars += len(member)
            elif isinstance(member, int):
                # Printed, a big number takes a digit per 3.3 bits.
                chars += member.bit_length() // 3
            elif isinstance(member, _CONTAINERS):
                pending.append(member)
        if chars > MAX_TEXT_CHARS:
            raise RenderError(
                f"A list in the template would hold more than "
                f"{MAX_TEXT_CHARS:,} characters of text."
            )
    return value


def _counted(iterable):
    for item in iterable:
        _spend()
        yield item


def _guarded_range(*args):
    bounds = range(*args)
    if len(bounds) > MAX_RANGE:
        raise RenderError(f"range() is limited to {MAX_RANGE} items in templates.")
    return bounds


def _size(value) -> int | None:
    return len(value) if isinstance(value, str | list | tuple) else None


@pass_environment
def _guarded_join(environment, value, separator="", attribute=None):
    if attribute is not None:
        value = map(make_attrgetter(environment, attribute), value)
    items = [str(item) for item in value]
    separator = str(separator)
    total = sum(len(item) for item in items) + len(separator) * max(len(items) - 1, 0)
    if total > MAX_TEXT_CHARS:
        raise RenderError("The joined text would be too long.")
    return separator.join(items)


@pass_environment
def _guarded_sum(environment, iterable, attribute=None, start=0):
    # The builtin sum() would concatenate lists of lists (start=[]) without
    # looking at the size; add one by one so each step is checked.
    if attribute is not None:
        iterable = map(make_attrgetter(environment, attribute), iterable)
    total = start
    for value in iterable:
        total = environment.call_binop(None, "+", total, value)
    return total


def _guarded_filter(func):
    @functools.wraps(func)  # keeps Jinja's pass_* markers
    def guarded(*args, **kwargs):
        _spend()
        return _within_limits(func(*args, **kwargs))

    return guarded


def _counted_rounds(node: nodes.Expr) -> nodes.Call:
    # Jinja forbids custom node types; templates cannot write an
    # EnvironmentAttribute, so this call is recognised when compiling.
    return nodes.Call(
        nodes.EnvironmentAttribute("count_rounds"), [node], [], None, None
    )


class GuardedCodeGenerator(CodeGenerator):
    """Compile ``~``, loops and literals through the environment's guards."""

    @optimizeconst
    def visit_Concat(self, node, frame):  # noqa: N802
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"environment.concat_values({join}, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_Call(self, node, frame, forward_caller=False):  # noqa: N802
        # The loop guard is called directly, not through the sandbox.
        if (
            isinstance(node.node, nodes.EnvironmentAttribute)
            and node.node.name == "count_rounds"
        ):
            self.write("environment.count_rounds(")
            self.visit(node.args[0], frame)
            self.write(")")
            return
        super().visit_Call(node, frame, forward_caller=forward_caller)

    def _checked_literal(self, visit, node, frame):
        self.write("environment.checked_value(")
        visit(node, frame)
        self.write(")")

    def visit_List(self, node, frame):  # noqa: N802
        self._checked_literal(super().visit_List, node, frame)

    def visit_Dict(self, node, frame):  # noqa: N802
        self._checked_literal(super().visit_Dict, node, frame)

    def visit_Tuple(self, node, frame):  # noqa: N802
        if node.ctx == "store":
            super().visit_Tuple(node, frame)
        else:
            self._checked_literal(super().visit_Tuple, node, frame)


class GuardedEnvironment(ImmutableSandboxedEnvironment):
    code_generator_class = GuardedCodeGenerator
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "**", "%"})

    @staticmethod
    def concat(parts) -> str:
        # Joins the output of macros, call blocks and {% set %} blocks: each
        # part is small, but a loop can gather many references to one text.
        parts = list(parts)
        if sum(map(len, parts)) > MAX_TEXT_CHARS:
            raise RenderError(
                f"A text in the template would be longer than "
                f"{MAX_TEXT_CHARS:,} characters."
            )
        return "".join(parts)

    @staticmethod
    def concat_values(join, values) -> str:
        # The operands are within the limits (or context data), so even
        # printed lists make at most a few times the limit before the check.
        _spend()
        return _within_limits(join(values))

    @staticmethod
    def count_rounds(iterable):
        return _counted(iterable)

    @staticmethod
    def checked_value(value):
        _spend()
        return _within_limits(value)

    def call_binop(self, context, operator, left, right):
        _spend()
        if operator == "%" and isinstance(left, str):
            raise SecurityError("Use filters, not % formatting, in templates.")
        elif operator == "**":
            if not isinstance(right, int | float) or abs(right) > 64:
                raise SecurityError("Exponents in templates are limited to 64.")
            if isinstance(left, int) and left.bit_length() * abs(right) > 4096:
                raise SecurityError("That number would be too large.")
        elif operator == "*":
            for seq, times in ((left, right), (right, left)):
                size = _size(seq)
                if size is None or not isinstance(times, int):
                    continue
                limit = MAX_TEXT_CHARS if isinstance(seq, str) else MAX_ITEMS
                if size * times > limit:
                    raise SecurityError("That repetition would be too long.")
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and (left.bit_length() + right.bit_length() > 4096)
            ):
                raise SecurityError("That number would be too large.")
        return _within_limits(self.binop_table[operator](left, right))

    def getattr(self, obj, attribute):
        _spend()
        # Templates see plain data. Only the listed text methods are
        # reachable (Jinja hands str.format back before any safety check);
        # dicts give their keys, never their methods; numbers and lists give
        # nothing (int.to_bytes can allocate any amount of memory).
        if isinstance(obj, str):
            if attribute not in SAFE_STR_METHODS:
                return self.unsafe_undefined(obj, attribute)
        elif isinstance(obj, dict):
            if attribute in obj:
                return obj[attribute]
            return self.undefined(obj=obj, name=attribute)
        elif isinstance(obj, int | float | list | tuple | set | frozenset | bytes):
            return self.unsafe_undefined(obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj, argument):
        if isinstance(obj, str) and isinstance(argument, str):
            return self.getattr(obj, argument)
        _spend()
        return super().getitem(obj, argument)

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805
        _spend()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str) and __obj.__name__ not in SAFE_STR_METHODS:
            raise SecurityError(f"The text method {__obj.__name__}() is not allowed.")
        if isinstance(__obj, LoopContext) and args:
            # loop(children) in a recursive for: count those rounds too.
            args = (_counted(args[0]), *args[1:])
        return _within_limits(super().call(__context, __obj, *args, **kwargs))


@lru_cache(maxsize=1)
def environment() -> GuardedEnvironment:
    env = GuardedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    filters = {name: env.filters[name] for name in SAFE_FILTERS}
    filters["join"] = _guarded_join
    filters["sum"] = _guarded_sum
    env.filters = {name: _guarded_filter(func) for name, func in filters.items()}
    env.globals = {"range": _guarded_range}
    env.tests = {
        name: env.tests[name]
        for name in ("defined", "undefined", "none", "number", "string", "even", "odd")
    }
    return env


def _too_deep(line: int | None = None) -> RenderError:
    return RenderError(
        f"The template is nested too deeply: blocks, brackets, filters and "
        f"operators can be nested at most {MAX_NESTING} levels.",
        line=line,
    )


def _check_nesting(tree: nodes.Template) -> None:
    # Iterative on purpose: the tree is only known to be shallow afterwards.
    pending = [(tree, 0)]
    while pending:
        node, depth = pending.pop()
        for child in node.iter_child_nodes():
            level = depth if isinstance(child, _TRANSPARENT_NODES) else depth + 1
            if level > MAX_NESTING and next(child.iter_child_nodes(), None):
                raise _too_deep(child.lineno)
            pending.append((child, level))


def _parse(source: str) -> nodes.Template:
    """Parse a template, refusing syntax errors and deep nesting."""
    try:
        tree = environment().parse(source)
    except TemplateSyntaxError as exc:
        raise RenderError(exc.message or "Syntax error.", line=exc.lineno) from None
    except RecursionError:
        # The parser recurses once or more per level: far beyond the limit
        # it runs out of stack before the tree can be measured.
        raise _too_deep() from None
    _check_nesting(tree)
    return tree


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def variable_uses(source: str) -> list[tuple[str, int]]:
    """Return (dotted name, line) for every variable read, outermost first.

    ``{{ incident.title }}`` gives ("incident.title", n); a bare ``{{ x }}``
    gives ("x", n). Names a template assigns itself are left out.
    """
    tree = _parse(source)
    assigned = {
        node.name
        for node in tree.find_all(nodes.Name)
        if node.ctx in ("store", "param")
    }
    uses, inner = [], set()
    for node in tree.find_all(nodes.Getattr):
        parts, current = [], node
        while isinstance(current, nodes.Getattr):
            parts.append(current.attr)
            inner.add(id(current.node))
            current = current.node
        if isinstance(current, nodes.Name) and current.name not in assigned:
            inner.add(id(current))
            uses.append((".".join([current.name, *reversed(parts)]), node.lineno))
    for node in tree.find_all(nodes.Name):
        if node.ctx == "load" and id(node) not in inner and node.name not in assigned:
            uses.append((node.name, node.lineno))
    # find_all visits parents before children, so drop the partial paths of
    # nested Getattr nodes (incident from incident.title).
    full = {path for path, _ in uses}
    return [
        (path, line)
        for path, line in uses
        if not any(other.startswith(path + ".") for other in full)
    ]


@lru_cache(maxsize=2048)
def _compiled(source: str):
    tree = _parse(source)
    for loop in list(tree.find_all(nodes.For)):
        loop.iter = _counted_rounds(loop.iter).set_lineno(loop.iter.lineno)
    try:
        return environment().from_string(tree)
    except TemplateSyntaxError as exc:
        raise RenderError(exc.message or "Syntax error.", line=exc.lineno) from None
    except (RecursionError, SyntaxError):
        raise _too_deep() from None


@contextlib.contextmanager
def _limits():
    token = _current_budget.set(_Budget())
    # The budget holds in any thread. In the main thread (gunicorn sync
    # workers, q2 workers) an alarm also backs it up, for work between
    # counted steps.
    use_alarm = threading.current_thread() is threading.main_thread() and hasattr(
        signal, "SIGALRM"
    )
    if use_alarm:

        def _expired(signum, frame):
            raise _too_slow()

        previous = signal.signal(signal.SIGALRM, _expired)
        signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT_SECONDS + 0.5)
    try:
        yield
    finally:
        _current_budget.reset(token)
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def render_text(source: str, context: dict) -> str:
    """Render one template string against ``context`` within the limits."""
    produced, size = [], 0
    try:
        with _limits():
            template = _compiled(source)
            for chunk in template.generate(**context):
                size += len(chunk)
                if size > MAX_OUTPUT_CHARS:
                    raise RenderError(
                        f"The text would be longer than {MAX_OUTPUT_CHARS:,} "
                        "characters."
                    )
                # Every chunk comes from counted work or from the
                # template's own text: no clock reading needed here.
                produced.append(chunk)
    except UndefinedError as exc:
        raise RenderError(f"Unknown variable or field: {exc.message}") from None
    except SecurityError as exc:
        raise RenderError(f"Not allowed in templates: {exc}") from None
    except RenderError:
        raise
    except RecursionError:
        raise RenderError("The template calls itself without end.") from None
    except (TemplateError, Exception) as exc:
        # Anything else an admin-written template does wrong is reported to
        # the admin, never turned into a server error.
        raise RenderError(f"The template failed: {exc}") from None
    return "".join(produced)


def render(subject: str, body: str, context: dict) -> Rendered:
    """Render a subject and body; the subject is one line, the body's
    paragraphs flow (see ``reflow``)."""
    rendered_subject = " ".join(render_text(subject, context).split())
    return Rendered(subject=rendered_subject, body=reflow(render_text(body, context)))


# A line that starts a list item or a "Label: value" line keeps its own line.
_OWN_LINE = re.compile(r"^\s*(?:[-*•>]\s|\d+[.)]\s|[A-Z][\w /&'()#-]{0,40}:\s)")
# Lines at least this long were wrapped to fit the template's source, not
# ended on purpose (a greeting, a sign-off, a label line is shorter).
_WRAPPED_AT = 55
# A line shorter than this, with a line in lower case after it, is a heading
# over a value, not the start of a sentence.
_SENTENCE_AT = 40


def reflow(text: str) -> str:
    """Join the lines a template wrapped for its own source into paragraphs.

    Templates are written with short lines, and an e-mail client shows each
    break, so a sentence broke mid-way ("handed it over with all the /
    details"). A paragraph's long lines join the line after them unless
    that one starts a list item or a label, and a line starting in lower
    case always joins the one before; short lines, blank lines and lists
    stay as written.
    """
    paragraphs = []
    for paragraph in re.split(r"\n[ \t]*\n", text):
        lines = paragraph.split("\n")
        joined = [lines[0]]
        for line in lines[1:]:
            previous = joined[-1]
            # A line that starts in lower case goes on the sentence before
            # it, when that line is a sentence (not a short heading such as
            # "What was affected") and the line is not a link.
            goes_on = (
                line.strip()[:1].islower()
                and not line.strip().startswith(("http", "www."))
                and len(previous.strip()) >= _SENTENCE_AT
                and not previous.rstrip().endswith(":")
            )
            if goes_on or (
                len(previous.rstrip()) >= _WRAPPED_AT
                and line.strip()
                and not previous.rstrip().endswith(":")
                and not _OWN_LINE.match(line)
            ):
                joined[-1] = previous.rstrip() + " " + line.strip()
            else:
                joined.append(line)
        paragraphs.append("\n".join(joined))
    return "\n\n".join(paragraphs)
