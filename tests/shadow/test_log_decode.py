"""One JSONL line decoded on its own: each line-level reason, and the limits."""

from __future__ import annotations

import pytest

from evaluators.shadow.request_log.decode import LogLimits, decode_line, raw_text, too_deep

CASES: list[tuple[bytes, object]] = [
    (b'{"a": 1}', {"a": 1}),
    (b'  {"a": [1, {"b": 2}]}\r', {"a": [1, {"b": 2}]}),
    (b'{"a": NaN, "b": -Infinity}', "nan-and-inf"),
    (b"", "empty_line"),
    (b" \t\r", "empty_line"),
    (b'{"a": "\xff"}', "not_utf8"),
    (b'{"a": "\\ud800"}', "not_utf8"),  # a lone surrogate cannot be written back as UTF-8
    (b'{"a": "\\ud83d\\ude00"}', {"a": "\U0001f600"}),  # a surrogate pair is one character
    (b'{"a": 1, "a": 2}', "duplicate_key:a"),
    (b'{"o": {"k": 1, "k": 1}}', "duplicate_key:k"),
    (b"[1, 2]", "unparseable_json"),
    (b'"text"', "unparseable_json"),
    (b"{not json", "unparseable_json"),
    (b'{"a": ' + b"9" * 5000 + b"}", "unparseable_json"),  # past Python's digit limit for int()
    (b"[" * 10_000 + b"]" * 10_000, "too_deep"),
    (b'{"a":' * 33 + b"1" + b"}" * 33, "too_deep"),
    (b'{"a":' * 32 + b"1" + b"}" * 32, "deep-but-allowed"),
    (b'{"s": "' + b"[" * 100 + b'\\"[[[["}', {"s": "[" * 100 + '"[[[['}),  # brackets inside strings are text
]


@pytest.mark.parametrize(("line", "expected"), CASES)
def test_each_line_gets_an_object_or_one_reason(line: bytes, expected: object) -> None:
    got = decode_line(line)
    if expected == "nan-and-inf":
        assert isinstance(got, dict) and got["a"] != got["a"] and got["b"] == float("-inf")
    elif expected == "deep-but-allowed":
        assert isinstance(got, dict)
    else:
        assert got == expected


def test_line_length_limit_and_raw_text() -> None:
    limits = LogLimits(max_line_bytes=10, raw_chars=5)
    assert decode_line(b'{"a": 123}', limits) == {"a": 123}
    assert decode_line(b'{"a": 1234}', limits) == "line_too_long"
    assert raw_text(b"ab\xffcdefgh", limits) == "ab\\xf"  # undecodable bytes escaped, then cut to raw_chars
    assert not too_deep('{"a": [1, 2]}', 2) and too_deep("[[[]]]", 2)
