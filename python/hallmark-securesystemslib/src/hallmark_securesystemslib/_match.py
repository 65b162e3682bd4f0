"""Exact values and anchored regular expressions, as Hallmark layouts write them.

A constraint is a JSON string (exact match) or ``{"regex": "<RE>"}``: the whole value must
match (``re.fullmatch``; Hallmark compiles ``^(?:RE)$`` with Rust's ``regex`` crate).

Python ``re`` and Rust ``regex`` differ, so a pattern could match a value in one verifier and
not in the other. Patterns are therefore restricted to what both read the same way, and
anything else is refused when the layout is loaded (``ValueError`` naming the construct):

- refused because Rust has no such thing: backreferences and octal escapes (``\\1``, ``\\0``,
  ``(?P=name)``), lookaround (``(?=``, ``(?!``, ``(?<=``, ``(?<!``), conditionals ``(?(``,
  atomic groups ``(?>``, comments ``(?#``, possessive quantifiers (``*+``, ``++``, ``?+``,
  ``}+``; write ``\\}+`` for a literal brace repeated), ``\\Z``, ``\\N{...}``;
- refused because the meaning differs: inline flags other than ``i``, ``m``, ``s`` (Python's
  ``a``, ``L``, ``u``, ``x`` against Rust's ``u``, ``U``, ``x``, ``R``); anything Python warns
  about as a possible future change, which covers Rust's nested classes and class set
  operations (``[[...]]``, ``&&``, ``--``, ``~~``, ``||``) that Python reads as literals;
- patterns longer than 1024 bytes (Hallmark's own bound).

Remaining differences, not checked: Unicode classes (``\\w``, ``\\s``, ``\\b``, case folding
under ``(?i)``) follow Python's Unicode tables, which differ from Rust's UTS#18 definitions for
some non-ASCII characters; Rust-only syntax (``\\p{...}``, ``\\x{...}``, ``[[:alpha:]]``) fails
to compile in Python, so such a layout loads in Hallmark but not here; Python's ``{,n}`` and a
literal ``{`` that is not a quantifier compile in Python while Rust rejects them. Python's
matcher backtracks (exponential in the worst case) where Rust's is linear: patterns come from
the signed layout, which is checked before any link is matched, so only the layout's author
chooses them.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

MAX_REGEX_LEN = 1024
"""The longest pattern (in UTF-8 bytes) a layout may hold, as in Hallmark."""

_ALLOWED_FLAGS = frozenset("ims")
_REFUSED_GROUPS = {
    "=": "lookahead (?=",
    "!": "negative lookahead (?!",
    "<=": "lookbehind (?<=",
    "<!": "negative lookbehind (?<!",
    "P=": "backreference (?P=",
    "(": "conditional (?(",
    ">": "atomic group (?>",
    "#": "comment (?#",
}


def _refuse(pattern: str, what: str) -> ValueError:
    return ValueError(
        f"regex {pattern!r} uses {what}, which Rust's regex (Hallmark) does not read the same "
        "way; see hallmark_securesystemslib._match"
    )


def _check_portable(pattern: str) -> None:
    """Refuses constructs that Python's ``re`` and Rust's ``regex`` read differently."""
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            nxt = pattern[i + 1] if i + 1 < n else ""
            if nxt.isdigit():
                raise _refuse(pattern, f"the escape \\{nxt} (backreference or octal)")
            if nxt in ("Z", "N"):
                raise _refuse(pattern, f"the escape \\{nxt}")
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            i += 1
            continue
        if c == "[":
            in_class = True
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            if i < n and pattern[i] == "]":  # a leading ] is literal in both
                i += 1
            continue
        if c in "*+?}" and i + 1 < n and pattern[i + 1] == "+":
            raise _refuse(pattern, f"the possessive quantifier {c}+")
        if c == "(" and pattern.startswith("(?", i):
            rest = pattern[i + 2 :]
            for prefix, what in _REFUSED_GROUPS.items():
                if rest.startswith(prefix):
                    raise _refuse(pattern, what)
            if not rest.startswith("P<") and not rest.startswith(":"):
                m = re.match(r"([A-Za-z]*)(?:-([A-Za-z]*))?[:)]", rest)
                if m is not None:
                    flags = set((m.group(1) or "") + (m.group(2) or ""))
                    bad = sorted(flags - _ALLOWED_FLAGS)
                    if bad:
                        raise _refuse(pattern, f"the inline flag(s) {''.join(bad)}")
            i += 2
            continue
        i += 1


@dataclass(frozen=True)
class AnchoredRegex:
    """A regular expression that must match the whole value."""

    source: str
    compiled: re.Pattern[str]

    @classmethod
    def new(cls, source: str) -> AnchoredRegex:
        """Compiles ``source``.

        Raises:
            ValueError: Too long, not portable to Rust's regex, or does not compile.
        """
        if len(source.encode("utf-8")) > MAX_REGEX_LEN:
            raise ValueError(
                f"regex is {len(source.encode('utf-8'))} bytes long, more than {MAX_REGEX_LEN}"
            )
        _check_portable(source)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                compiled = re.compile(source)
        except (re.error, FutureWarning, DeprecationWarning) as e:
            raise ValueError(f"regex {source!r} is not accepted: {e}") from e
        return cls(source, compiled)

    def is_match(self, value: str) -> bool:
        """Whether the whole of ``value`` matches."""
        return self.compiled.fullmatch(value) is not None


@dataclass(frozen=True)
class TextMatch:
    """An exact value (``exact``) or an anchored regular expression (``regex``)."""

    exact: str | None = None
    regex: AnchoredRegex | None = None

    @classmethod
    def parse(cls, field: str, raw: Any) -> TextMatch:
        """Reads a constraint: a string, or ``{"regex": str}`` and nothing else.

        Raises:
            ValueError: Another shape, or a regex :meth:`AnchoredRegex.new` refuses.
        """
        if isinstance(raw, str):
            return cls(exact=raw)
        if isinstance(raw, dict) and set(raw) == {"regex"} and isinstance(raw["regex"], str):
            try:
                return cls(regex=AnchoredRegex.new(raw["regex"]))
            except ValueError as e:
                raise ValueError(f"keyval.{field}: {e}") from e
        raise ValueError(
            f'keyval.{field} must be a string or {{"regex": "<RE>"}} (and nothing else), '
            f"not {raw!r}"
        )

    def is_match(self, value: str) -> bool:
        """Whether ``value`` satisfies the constraint."""
        if self.regex is not None:
            return self.regex.is_match(value)
        return value == self.exact

    def __str__(self) -> str:
        if self.regex is not None:
            return f"/{self.regex.source}/"
        return repr(self.exact)
