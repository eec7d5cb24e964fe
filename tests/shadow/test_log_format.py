"""The request-log format has one owner: the writer, the stats and the docs agree with it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evaluators.shadow.request_log.format import DROPPED, MIRROR_COLUMNS, CandidateStatus, candidate_answered
from evaluators.shadow.request_log.rows import LogSchema, validate_row
from mirror.config import MirrorConfig
from mirror.shadow import MirrorStats, ShadowDispatcher, ShadowItem

DOCS = Path(__file__).resolve().parents[2] / "docs" / "shadow.md"


class _Rows:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def append(self, row: dict[str, Any]) -> None:
        self.rows.append(row)


def test_the_mirror_writes_exactly_the_format_columns_and_counts_each_drop_by_its_status(tmp_path: Path) -> None:
    writer = _Rows()
    config = MirrorConfig(production_url="http://127.0.0.1:9", log_dir=str(tmp_path), port=0)
    dispatcher = ShadowDispatcher(config, None, writer)  # type: ignore[arg-type]
    item = ShadowItem("r1", datetime(2026, 1, 1, tzinfo=UTC), "POST", "/predict", b'{"features": {"x": 1}}', 200,
                      b'{"prediction": 1, "scores": [0.2, 0.8]}', 3.0)
    for status in DROPPED:
        dispatcher._drop(item, status)
    assert [list(row) for row in writer.rows] == [[name for name, _ in MIRROR_COLUMNS]] * len(DROPPED)
    assert [row["candidate_status"] for row in writer.rows] == [s.value for s in DROPPED]
    counters = dispatcher.stats.as_dict()
    assert {name for name in counters if name.startswith("dropped_")} == {s.value for s in DROPPED}
    assert all(counters[s.value] == 1 for s in DROPPED) and counters["dropped"] == len(DROPPED)
    assert {f.name for f in dataclasses.fields(MirrorStats) if f.name.startswith("dropped_")} == {s.value for s in DROPPED}


def test_a_mirror_row_reads_back_and_each_status_but_ok_is_refused_by_name() -> None:
    schema = LogSchema(features=("x",), classes=(0, 1), mirror=True, require_candidate=True)
    row = {"request_id": "r", "timestamp": "2026-01-01T00:00:00Z", "features": '{"x": 1}', "prediction": 1.0,
           "scores": [0.2, 0.8], "latency_ms": 3.0, "candidate_scores": [0.4, 0.6], "candidate_latency_ms": 2.0}
    ok = validate_row(row | {"candidate_status": "ok"}, schema)
    assert isinstance(ok, dict) and candidate_answered(schema.frame([ok])).tolist() == [True]
    for status in CandidateStatus:
        if status is not CandidateStatus.OK:
            assert validate_row(row | {"candidate_status": status.value}, schema) == f"no_candidate_answer:{status.value}"
    assert validate_row(row, schema) == "no_candidate_answer:missing"
    assert validate_row(row | {"candidate_status": "ok", "candidate_scores": [1.0]}, schema) == "no_candidate_answer:empty"


def test_the_docs_list_every_status() -> None:
    text = DOCS.read_text()
    assert all(f"`{status.value}`" in text for status in CandidateStatus)
