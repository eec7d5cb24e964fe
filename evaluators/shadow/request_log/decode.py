"""Decode one line of a JSONL request log on its own, within fixed limits, never raising.

Every line becomes either a JSON object or one quarantine reason:

* ``empty_line``: nothing but whitespace;
* ``line_too_long``: more than :attr:`LogLimits.max_line_bytes` bytes (the reader stops
  keeping the line's bytes at the limit, so a huge line costs no memory);
* ``not_utf8``: bytes that are not UTF-8, or a ``\\uD800``-style escape of a lone
  surrogate (text that could not be written back as UTF-8);
* ``too_deep``: arrays/objects nested deeper than :attr:`LogLimits.max_depth`, found by
  counting brackets outside strings (no recursion, so ``[[[[…]]]]`` 10,000 deep is cheap);
* ``duplicate_key:<k>``: the same key twice in one object (which value counts is ambiguous);
* ``unparseable_json``: anything else that is not one JSON object.

``NaN``, ``Infinity`` and ``-Infinity`` tokens are accepted here and judged by the
row schema (NaN is missing, ±inf is ``non_finite``).

Example:
    >>> decode_line(b'{"a": 1}'), decode_line(b'[[1]]'), decode_line(b'\\xff'), decode_line(b'{"a": 1, "a": 2}')
    ({'a': 1}, 'unparseable_json', 'not_utf8', 'duplicate_key:a')
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class LogLimits:
    """Bounds on what one read of a request log holds in memory.

    Attributes:
        max_line_bytes: longest JSONL line decoded; longer lines are quarantined ``line_too_long``.
        max_depth: deepest JSON nesting accepted (the row itself is depth 1).
        chunk_rows: rows validated and handed on at a time.
        chunk_bytes: JSONL bytes read per chunk at most (a chunk ends at whichever bound comes first).
        raw_chars: characters of a quarantined row kept in the quarantine file's ``raw``.
    """

    max_line_bytes: int = 1 << 20
    max_depth: int = 32
    chunk_rows: int = 10_000
    chunk_bytes: int = 2 << 20
    raw_chars: int = 4096


DEFAULT_LIMITS = LogLimits()

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates)


class TruncatedLine(Protocol):
    """A JSONL line longer than the limit, as a chunked reader hands it on: its first bytes and its length."""

    prefix: bytes
    length: int


def too_deep(text: str, max_depth: int) -> bool:
    """Whether JSON ``text`` nests arrays/objects deeper than ``max_depth`` (brackets inside strings don't count)."""
    if text.count("[") + text.count("{") <= max_depth:
        return False
    bare = _STRING.sub("", text).encode("utf-8", "surrogatepass")
    codes = np.frombuffer(bare, dtype=np.uint8)
    steps = np.isin(codes, (ord("["), ord("{"))).astype(np.int32) - np.isin(codes, (ord("]"), ord("}"))).astype(np.int32)
    return bool(steps.size) and int(np.cumsum(steps).max()) > max_depth


def decode_line(raw: bytes, limits: LogLimits = DEFAULT_LIMITS) -> dict[str, Any] | str:
    """One JSONL line as a JSON object, or the reason it is quarantined (see the module docstring)."""
    if len(raw) > limits.max_line_bytes:
        return "line_too_long"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "not_utf8"
    if not text.strip():
        return "empty_line"
    if too_deep(text, limits.max_depth):
        return "too_deep"
    try:
        obj = _DECODER.decode(text)
    except _DuplicateKey as exc:
        return f"duplicate_key:{exc.key[:40]}"
    except (ValueError, RecursionError):
        return "unparseable_json"
    if not isinstance(obj, dict):
        return "unparseable_json"
    if "\\u" in text and _SURROGATE.search(text):
        try:
            json.dumps(obj, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return "not_utf8"
    return obj


def raw_text(raw: bytes, limits: LogLimits = DEFAULT_LIMITS) -> str:
    """A line as text for the quarantine file: undecodable bytes escaped, cut to ``raw_chars``."""
    text = raw[: limits.raw_chars * 4].decode("utf-8", "backslashreplace")
    return text[: limits.raw_chars]
