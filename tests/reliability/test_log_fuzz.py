"""Random bytes mixed with valid rows: every line is counted once, every valid row is scored, nothing raises.

The expected counts come from how the lines were generated (which are valid rows, how
many lines there are), never from the reader.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluators.shadow.request_log.decode import LogLimits
from pipeline.shadow.log import read_request_log
from evaluators.shadow.request_log.rows import LogSchema
from pipeline.shadow.log import stage_log

SCHEMA = LogSchema(features=("a", "b"), classes=(0, 1, 2))
LIMITS = LogLimits(max_line_bytes=4096, max_depth=32, chunk_rows=7, chunk_bytes=2048)  # small, so chunks and limits are crossed often
finite = st.floats(allow_nan=False, allow_infinity=False, width=32)


@st.composite
def valid_row(draw: st.DrawFn) -> dict:
    """A row the schema accepts, in any of the accepted forms, with extra keys sometimes (its id is set later)."""
    a, b = draw(finite), draw(st.integers(-10**6, 10**6))
    row: dict = {"timestamp": draw(st.sampled_from(["2026-01-01T00:00:00Z", "2026-03-02T10:11:12+02:00", "2026-01-01 00:00:00"])),
                 "latency_ms": draw(st.floats(0, 1e6)), "prediction": draw(st.sampled_from([0, 1, 2, 1.0]))}
    form = draw(st.sampled_from(["flat", "object", "list", "string"]))
    if form == "flat":
        row |= {"a": a, "b": b}
    elif form == "object":
        row["features"] = {"b": b, "a": a}
    elif form == "list":
        row["features"] = [a, b]
    else:
        row["features"] = json.dumps({"a": a, "b": b})
    if draw(st.booleans()):
        row["scores"] = draw(st.lists(st.floats(0, 1), min_size=3, max_size=3))
    if draw(st.booleans()):
        row[draw(st.sampled_from(["user_agent", "path", "extra", "label2"]))] = draw(st.text(max_size=5))
    return row


def _valid_line(row: dict, rid: str) -> bytes:
    return json.dumps({"request_id": rid, **row}).encode()


deep = st.integers(33, 10_000).map(lambda n: b"[" * n + b"]" * n)
deep_object = st.integers(33, 3_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n)
junk = st.binary(max_size=200).map(lambda b: b.replace(b"\n", b" "))
not_utf8 = st.binary(min_size=1, max_size=50).map(lambda b: b'{"request_id": "x' + b.replace(b"\n", b"") + b'\xff"}')
huge = st.integers(4097, 20_000).map(lambda n: b'{"request_id": "big", "pad": "' + b"a" * n + b'"}')
tokens = st.sampled_from([
    b'{"request_id": "t1", "timestamp": "2026-01-01T00:00:00Z", "a": NaN, "b": 1, "prediction": 0, "latency_ms": 1}',
    b'{"request_id": "t2", "timestamp": "2026-01-01T00:00:00Z", "a": Infinity, "b": 1, "prediction": 0, "latency_ms": 1}',
    b'{"request_id": "t3", "timestamp": "2026-01-01T00:00:00Z", "a": "1.5", "b": "2", "prediction": "0", "latency_ms": "1"}',
    b'{"request_id": "t4", "timestamp": "2026-01-01T00:00:00Z", "a": 1, "a": 2, "b": 1, "prediction": 0, "latency_ms": 1}',
    b'{"request_id": "t5", "timestamp": "2026-01-01T00:00:00Z", "a": 1e999, "b": 1, "prediction": 0, "latency_ms": 1}',
    b'{"request_id": "t6", "timestamp": "2026-01-01T00:00:00Z", "a": 1, "b": ' + b"9" * 5000 + b', "prediction": 0, "latency_ms": 1}',
    b'{"request_id": "\\ud800", "timestamp": "2026-01-01T00:00:00Z", "a": 1, "b": 1, "prediction": 0, "latency_ms": 1}',
    b'{"request_id": "t7", "timestamp": "2026-01-01T00:00:00Z", "a": 1, "b": 1, "prediction": 7, "latency_ms": 1}',
    b'{"request_id": "t8", "timestamp": 5, "a": true, "b": 1, "prediction": 0, "latency_ms": -1}',
    b'{"request_id": "t9", "timestamp": "2026-01-01T00:00:00Z", "features": "[[[[", "prediction": 0, "latency_ms": 1}',
    b'{"request_id": "t10", "timestamp": "2026-01-01T00:00:00Z", "a": 1, "b": 1, "scores": [1, 0, ' + b"9" * 400 + b'], "latency_ms": 1}',
    b'{"request_id": "t11", "timestamp": "0001-01-01T00:00:00+01:00", "a": 1, "b": 1, "prediction": 0, "latency_ms": 1}',
    b'{"request_id": "t12", "timestamp": "9999-12-31T23:59:59", "a": 1, "b": 1, "prediction": 0, "latency_ms": 1}',
    b'{"request_id": "t13", "timestamp": "2026-01-01T00:00:00Z", "features": [1, ' + b"9" * 400 + b'], "prediction": 0, "latency_ms": ' + b"9" * 400 + b"}",
    b'{"request_id": 1.5, "timestamp": "2026-01-01T00:00:00Z", "a": 1, "b": 1, "prediction": 0, "latency_ms": 1, "label": ' + b"9" * 400 + b"}",
    b"", b"   ", b"\r", b"null", b"[]", b'"text"', b"{", b"}",
])
bad_line = st.one_of(deep, deep_object, junk, not_utf8, huge, tokens)


@pytest.mark.slow  # 60 fuzzed logs, each decoded and scored (~7 CPU s)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(lines=st.lists(st.one_of(valid_row(), bad_line), min_size=1, max_size=40), valid_first=valid_row(), trailing_newline=st.booleans())
def test_rows_in_equals_scored_plus_quarantined_for_any_bytes(lines: list, valid_first: dict, trailing_newline: bool) -> None:
    lines = [valid_first, *lines]
    encoded, valid_ids = [], []
    for i, line in enumerate(lines):
        if isinstance(line, dict):
            valid_ids.append(f"valid-{i}")
            encoded.append(_valid_line(line, f"valid-{i}"))
        else:
            encoded.append(line)
    data = b"\n".join(encoded) + (b"\n" if trailing_newline else b"")
    # a row is a line; a newline at the very end starts no further line (so a last empty line without one is no row)
    n = len(data.split(b"\n")) - data.endswith(b"\n")
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "log.jsonl"
        log.write_bytes(data)
        parsed = read_request_log(log, SCHEMA, limits=LIMITS)
        counts = parsed.counts
        assert counts.rows_in == n
        assert counts.rows_scored + counts.rows_quarantined == counts.rows_in
        assert sum(counts.by_reason.values()) == counts.rows_quarantined
        assert sorted(parsed.frame["request_id"]) == sorted(valid_ids)  # every valid row, and only those, is scored
        assert sorted(parsed.quarantined["row_number"]) == [i for i, line in enumerate(lines[:n]) if not isinstance(line, dict)]
        side = pq.read_table(parsed.quarantine_path).to_pandas()
        assert len(side) == counts.rows_quarantined and (side["raw"].str.len() <= LIMITS.raw_chars + 40).all()

        staged = stage_log(log, SCHEMA, Path(tmp) / "staged.parquet", Path(tmp) / "q.parquet", limits=LIMITS)
        assert staged == counts
        assert pq.read_table(Path(tmp) / "staged.parquet").num_rows == counts.rows_scored


def test_a_line_past_the_default_limit_and_a_10000_deep_line() -> None:
    good = _valid_line({"timestamp": "2026-01-01T00:00:00Z", "a": 1, "b": 2, "prediction": 1, "latency_ms": 1.0}, "ok")
    data = b"\n".join([good, b'{"pad": "' + b"x" * (2 << 20) + b'"}', b"[" * 10_000 + b"]" * 10_000, b'{"a":' * 10_000 + b"1" + b"}" * 10_000])
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "log.jsonl"
        log.write_bytes(data)
        parsed = read_request_log(log, SCHEMA)
    assert parsed.counts.by_reason == {"line_too_long": 1, "too_deep": 2}
    assert parsed.frame["request_id"].tolist() == ["ok"]
    raw = parsed.quarantined.set_index("reason")["raw"]
    assert raw["line_too_long"].endswith(f"… ({(2 << 20) + 11} bytes)")
