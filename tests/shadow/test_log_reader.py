"""Request logs read against a declared schema: each kind of bad row quarantined with its reason, label joins, the mirror's writer."""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.shadow.log import read_request_log as read_log
from evaluators.shadow.request_log.rows import LogSchema
from storage.log_writer import LogWriter
from storage.request_log import write_request_log
from suite.errors import DataError

SCHEMA = LogSchema(features=("x", "city"), classes=(0, 1), string_features=frozenset({"city"}))
XONLY = LogSchema(features=("x",), classes=(0, 1))


def read_request_log(path: Path, schema: LogSchema = SCHEMA, **options: object) -> object:
    return read_log(path, schema, **options)  # type: ignore[arg-type]


def row(rid: object = "a", **changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "request_id": rid,
        "timestamp": "2026-01-01T10:00:00Z",
        "x": 1.5,
        "city": "oslo",
        "prediction": 1,
        "scores": [0.25, 0.75],
        "latency_ms": 4.0,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not _DROP}


_DROP = object()

# (JSONL line, the reason it must be quarantined for, or None when valid)
CASES: list[tuple[str, str | None]] = [
    (json.dumps(row("a")), None),
    (json.dumps(row("b", label=0)), None),
    ("{not json", "unparseable_json"),
    ("[1, 2]", "unparseable_json"),
    (json.dumps(row(_DROP)), "missing_field:request_id"),
    (json.dumps(row("c", latency_ms=_DROP)), "missing_field:latency_ms"),
    (json.dumps(row("d", x=None)), "missing_field:x"),
    (json.dumps(row("e", prediction=_DROP, scores=_DROP)), "missing_field:prediction"),
    (json.dumps(row(True)), "wrong_type:request_id"),
    (json.dumps(row("f", timestamp="yesterday")), "wrong_type:timestamp"),
    (json.dumps(row("g", latency_ms="fast")), "wrong_type:latency_ms"),
    (json.dumps(row("h", prediction="one")), "wrong_type:prediction"),
    (json.dumps(row("i", x="abc")), "wrong_type:x"),
    (json.dumps(row("j", scores=[0.1, 0.2, 0.7])), "wrong_type:scores"),
    (json.dumps(row("k", scores="high")), "wrong_type:scores"),
    (json.dumps(row("l", label=[1])), "wrong_type:label"),
    (json.dumps(row("m", x=math.inf)), "non_finite:x"),
    (json.dumps(row("n", latency_ms=-math.inf)), "non_finite:latency_ms"),
    (json.dumps(row("o", scores=[math.nan, 1.0])), "non_finite:scores"),
    (json.dumps(row("a", x=9.0)), "duplicate_request_id"),
    (json.dumps(row("b", latency_ms=_DROP)), "missing_field:latency_ms"),  # one reason per row: the first
    (json.dumps(row(7, scores=_DROP)), None),  # integer ids become strings; prediction alone is enough
    (json.dumps(row("p", prediction=2)), "prediction_not_a_class:2"),
    (json.dumps(row("q", user_agent="curl")), None),  # keys outside the schema are ignored
    (json.dumps(row("r", x=_DROP, city=_DROP, features={"city": "bergen", "x": 2.5})), None),  # the features-object form
    (json.dumps(row("s", x=_DROP, city=_DROP, features=[2.5])), "wrong_type:features"),  # a list must have every feature
    ("", "empty_line"),  # blank lines are rows too, quarantined: nothing is dropped silently
]


@pytest.fixture()
def jsonl_log(tmp_path: Path) -> Path:
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(line for line, _ in CASES) + "\n")
    return path


def test_each_kind_of_bad_row_is_quarantined_with_its_reason(jsonl_log: Path) -> None:
    log = read_request_log(jsonl_log)
    rows = CASES
    expected = Counter(reason for _, reason in rows if reason)
    assert log.counts.rows_in == len(rows)
    assert log.counts.rows_quarantined == sum(expected.values())
    assert log.counts.rows_scored == len(rows) - sum(expected.values())
    assert log.counts.by_reason == dict(expected)
    assert log.quarantined["reason"].tolist() == [reason for _, reason in rows if reason]
    assert log.quarantined["row_number"].tolist() == [i for i, (_, reason) in enumerate(rows) if reason]
    assert log.frame["request_id"].tolist() == ["a", "b", "7", "q", "r"]
    assert log.frame["x"].tolist() == [1.5, 1.5, 1.5, 1.5, 2.5]  # the first "a" is kept, not its duplicate
    assert log.frame["city"].tolist() == ["oslo"] * 4 + ["bergen"]
    assert log.feature_names == ("x", "city")
    assert str(log.frame["timestamp"].dt.tz) == "UTC"
    assert log.frame["prediction"].dtype == np.int64


def test_quarantine_side_file_holds_the_raw_rows(jsonl_log: Path) -> None:
    log = read_request_log(jsonl_log)
    assert log.quarantine_path == jsonl_log.parent / "log.quarantine.parquet"
    side = pq.read_table(log.quarantine_path).to_pandas()
    pd.testing.assert_frame_equal(side, log.quarantined)
    assert side.loc[side["reason"] == "unparseable_json", "raw"].tolist() == ["{not json", "[1, 2]"]


def test_parquet_log_with_features_as_json_objects(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "request_id": ["a", "b", "c", "d", "b", "e"],
            "timestamp": pd.to_datetime(["2026-01-01T00:00:00Z"] * 4 + [None, "2026-01-01T00:00:05Z"], utc=True),
            "features": ['{"x": 1, "y": 2}', '{"x": 3, "y": 4}', "{oops", '{"x": 5}', '{"x": 1, "y": 1}', '{"x": 0, "y": 0}'],
            "prediction": [0.0, 1.0, 1.0, 0.0, 1.0, np.inf],
            "latency_ms": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    path = write_request_log(frame, tmp_path / "log.parquet")
    log = read_request_log(path, LogSchema(features=("x", "y"), classes=(0, 1)))
    assert log.counts.by_reason == {
        "unparseable_json": 1,
        "missing_field:y": 1,
        "missing_field:timestamp": 1,
        "non_finite:prediction": 1,
    }
    assert log.frame[["request_id", "x", "y"]].values.tolist() == [["a", 1.0, 2.0], ["b", 3.0, 4.0]]
    assert log.counts.rows_in == log.counts.rows_scored + log.counts.rows_quarantined == 6


def test_labels_file_is_joined_by_request_id(tmp_path: Path) -> None:
    log_path = write_request_log(
        pd.DataFrame(
            {
                "request_id": ["a", "b", "c"],
                "timestamp": ["2026-01-01T00:00:00Z"] * 3,
                "x": [1.0, 2.0, 3.0],
                "scores": [[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]],
                "latency_ms": [1.0, 1.0, 1.0],
            }
        ),
        tmp_path / "log.jsonl",
    )
    labels = pd.DataFrame({"request_id": ["c", "a", "a"], "label": [1, 0, 1]})
    labels.to_parquet(tmp_path / "labels.parquet")
    log = read_request_log(log_path, XONLY, labels_path=tmp_path / "labels.parquet")
    assert log.frame["label"].tolist()[0::2] == [0.0, 1.0]  # first label for "a" wins
    assert math.isnan(log.frame["label"].iloc[1])  # unlabelled rows stay, without a label
    assert log.frame["prediction"].tolist() == [0, 1, 0]  # argmax of scores when no prediction is logged
    np.testing.assert_allclose(log.production_scores(), [[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])


def test_missing_file_and_unknown_suffix_are_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such path"):
        read_request_log(tmp_path / "absent.jsonl")
    (tmp_path / "log.txt").write_text("x")
    with pytest.raises(DataError, match="expected suffix"):
        read_request_log(tmp_path / "log.txt")


WRITER_SCHEMA = pa.schema([("request_id", pa.string()), ("timestamp", pa.timestamp("us", tz="UTC")), ("x", pa.float64()), ("prediction", pa.float64()), ("latency_ms", pa.float64())])


def writer_row(i: int) -> dict[str, object]:
    return {"request_id": f"r{i}", "timestamp": pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(seconds=i), "x": float(i), "prediction": float(i % 2), "latency_ms": 1.0}


def test_writer_writes_a_part_per_batch_and_flushes_on_close(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path / "log", WRITER_SCHEMA, batch_rows=3, flush_seconds=3600, autoflush=True)
    for i in range(7):
        writer.append(writer_row(i))
    assert [len(pq.read_table(p)) for p in writer.parts] == [3, 3]
    assert writer.pending == 1
    assert writer.close() == 1
    assert len(writer.parts) == 3 and writer.rows_written == 7
    with pytest.raises(DataError, match="closed"):
        writer.append(writer_row(8))
    assert not list((tmp_path / "log").glob(".*"))  # no temporary files left behind
    log = read_request_log(tmp_path / "log", XONLY)
    assert log.frame["request_id"].tolist() == [f"r{i}" for i in range(7)]
    assert log.frame["prediction"].tolist() == [i % 2 for i in range(7)]


def test_writer_flushes_after_its_interval(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path / "log", WRITER_SCHEMA, batch_rows=1000, flush_seconds=0.05)
    writer.append(writer_row(0))
    assert writer.flush_if_due() == 0
    time.sleep(0.08)
    assert writer.flush_if_due() == 1
    assert writer.flush_if_due() == 0  # nothing waiting


def test_writer_loses_no_rows_under_concurrent_appends(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path / "log", WRITER_SCHEMA, batch_rows=50, autoflush=True)

    def append(offset: int) -> None:
        for i in range(250):
            writer.append(writer_row(offset + i))

    threads = [threading.Thread(target=append, args=(k * 1000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    ids = read_request_log(tmp_path / "log", XONLY).frame["request_id"]
    assert len(ids) == 1000 and ids.is_unique


def test_bad_labels_from_a_labels_file_are_quarantined(tmp_path: Path) -> None:
    log_path = write_request_log(pd.DataFrame([row("a"), row("b"), row("c")]), tmp_path / "log.jsonl")
    (tmp_path / "labels.jsonl").write_text('{"request_id": "a", "label": 1}\n{"request_id": "b", "label": [1]}\n{"request_id": "c", "label": Infinity}\n')
    log = read_request_log(log_path, XONLY, labels_path=tmp_path / "labels.jsonl")
    assert log.counts.by_reason == {"wrong_type:label": 1, "non_finite:label": 1}
    assert log.frame[["request_id", "label"]].values.tolist() == [["a", 1.0]]
