"""Request logs as bytes and Parquet: chunked reading with bounded lines, appending Parquet, labels files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from evaluators.shadow.request_log.format import MIRROR_COLUMNS, QUARANTINE_COLUMNS, ColumnType
from evaluators.shadow.request_log.reader import labels_by_request_id
from storage.request_log import LongLine, ParquetAppender, arrow_schema, iter_log_chunks, read_table_file
from suite.errors import DataError


def test_jsonl_lines_come_in_chunks_and_long_lines_are_not_held(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"a\n\nbb\n" + b"x" * 100 + b"\n\xff\r\nlast")
    chunks = list(iter_log_chunks(path, chunk_rows=2, max_line_bytes=10))
    assert [len(c) for c in chunks] == [2, 2, 2]
    rows = [r for c in chunks for r in c]
    assert rows[:3] == [b"a", b"", b"bb"] and rows[4:] == [b"\xff\r", b"last"]
    assert isinstance(rows[3], LongLine) and rows[3].length == 100 and len(rows[3].prefix) <= 4096
    # bytes bound a chunk too
    assert [len(c) for c in iter_log_chunks(path, chunk_rows=100, chunk_bytes=3, max_line_bytes=10)] == [3, 1, 2]
    path.write_bytes(b"a\n")
    assert list(iter_log_chunks(path)) == [[b"a"]]  # a newline at the end starts no further row
    path.write_bytes(b"")
    assert list(iter_log_chunks(path)) == []


def test_parquet_files_and_folders_of_parts_come_in_batches(tmp_path: Path) -> None:
    frame = pd.DataFrame({"request_id": [f"r{i}" for i in range(5)], "x": [0.5 * i for i in range(5)]})
    frame.to_parquet(tmp_path / "log.parquet")
    chunks = list(iter_log_chunks(tmp_path / "log.parquet", chunk_rows=2))
    assert [len(c) for c in chunks] == [2, 2, 1] and chunks[2] == [{"request_id": "r4", "x": 2.0}]
    (tmp_path / "parts").mkdir()
    frame.head(3).to_parquet(tmp_path / "parts" / "part-0001.parquet")
    frame.tail(2).to_parquet(tmp_path / "parts" / "part-0002.parquet")
    (tmp_path / "parts" / ".part-0003.parquet").write_bytes(b"half written")  # hidden: skipped
    assert [r["request_id"] for c in iter_log_chunks(tmp_path / "parts") for r in c] == list(frame["request_id"])
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match="broken.parquet: expected a readable Parquet file"):
        list(iter_log_chunks(tmp_path / "broken.parquet"))


def test_missing_file_and_unknown_suffix_are_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such path"):
        list(iter_log_chunks(tmp_path / "absent.jsonl"))
    (tmp_path / "log.txt").write_text("x")
    with pytest.raises(DataError, match="expected suffix"):
        list(iter_log_chunks(tmp_path / "log.txt"))


def test_parquet_appender_renames_into_place_only_when_closed(tmp_path: Path) -> None:
    target = tmp_path / "out.parquet"
    schema = pa.schema([("a", pa.int64()), ("b", pa.string())])
    out = ParquetAppender(target, schema)
    out.append_frame(pd.DataFrame({"b": ["x"], "a": [1]}))
    out.append(pa.table({"a": [2, 3], "b": ["y", None]}))
    assert not target.exists()
    out.close()
    assert pq.read_table(target).to_pydict() == {"a": [1, 2, 3], "b": ["x", "y", None]}
    failed = ParquetAppender(tmp_path / "failed.parquet", schema)
    failed.append(pa.table({"a": [1], "b": ["x"]}))
    failed.abort()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.parquet"]  # nothing half-written left


def read_labels(path: Path) -> dict[str, object]:
    return labels_by_request_id(read_table_file(path), str(path))


def test_labels_file_first_label_per_id(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text("request_id,label\n7,1\na,0\n7,2\n")
    assert read_labels(tmp_path / "labels.csv") == {"7": 1, "a": 0}
    (tmp_path / "bad.csv").write_text("id,label\n1,2\n")
    with pytest.raises(DataError, match="bad.csv: expected columns request_id and label"):
        read_labels(tmp_path / "bad.csv")
    (tmp_path / "broken.parquet").write_text("not parquet")
    with pytest.raises(DataError, match="labels file .*broken.parquet: expected a Parquet/JSONL/CSV file"):
        read_labels(tmp_path / "broken.parquet")


def test_log_formats_parquet_schemas_are_unchanged() -> None:
    """The mirror's log and the quarantine file keep the Parquet types they were first written with."""
    assert arrow_schema(MIRROR_COLUMNS) == pa.schema([
        ("request_id", pa.string()), ("timestamp", pa.timestamp("us", tz="UTC")), ("method", pa.string()),
        ("path", pa.string()), ("status", pa.int32()), ("features", pa.string()), ("prediction", pa.float64()),
        ("scores", pa.list_(pa.float64())), ("latency_ms", pa.float64()), ("candidate_prediction", pa.float64()),
        ("candidate_scores", pa.list_(pa.float64())), ("candidate_latency_ms", pa.float64()), ("candidate_status", pa.string()),
    ])
    assert arrow_schema(QUARANTINE_COLUMNS) == pa.schema(
        [("row_number", pa.int64()), ("request_id", pa.string()), ("reason", pa.string()), ("raw", pa.string())]
    )
    assert len(arrow_schema([(kind.value, kind) for kind in ColumnType])) == len(ColumnType)  # every type has a Parquet type
    with pytest.raises(DataError, match="expected column types among .* got \\['decimal'\\]"):
        arrow_schema([("x", "decimal")])


def test_staged_log_parquet_schema_is_unchanged() -> None:
    from evaluators.shadow.request_log.rows import LogSchema

    schema = LogSchema(features=("x", "s"), classes=(0, 1), string_features=frozenset({"s"}),
                       slice_columns=(("region", False), ("age", True)), mirror=True)
    f64, text, scores = pa.float64(), pa.string(), pa.list_(pa.float64())
    assert arrow_schema(schema.column_types()) == pa.schema([
        ("request_id", text), ("timestamp", pa.timestamp("us", tz="UTC")), ("x", f64), ("s", text), ("prediction", pa.int64()),
        ("scores", scores), ("latency_ms", f64), ("label", f64), ("region", text), ("age", f64), ("candidate_prediction", f64),
        ("candidate_scores", scores), ("candidate_latency_ms", f64), ("candidate_status", text),
    ])
    regression = LogSchema(features=("x",), task="regression")
    assert arrow_schema(regression.column_types()).field("prediction").type == f64
