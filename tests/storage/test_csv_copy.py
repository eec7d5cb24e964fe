"""A large CSV dataset is parsed a chunk at a time into a Parquet copy and held like a Parquet one (issue 18).

``streamed_csv`` makes every CSV count as large and parses 7 rows at a time, so a
40-row file crosses six chunk boundaries: a column's type that changes further down
(an integer column with a gap, numbers then text) is where a chunked copy could go wrong.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.evaluate.prepare import prepare_run
from storage.checksums import sha256_file
from suite.errors import DataError
from tests.reliability.test_data_validity import ROWS, _frame, _suite, streamed_csv

GAP_BELOW = np.where(np.arange(ROWS) == 30, np.nan, np.arange(ROWS)).astype(object)  # ints, one gap in the fifth chunk


def _awkward() -> pd.DataFrame:
    frame = _frame(c=np.arange(ROWS) * 3)
    frame["b"] = GAP_BELOW  # a feature: int until row 30, then float
    frame["region"] = np.where(np.arange(ROWS) % 2 == 0, "north", "south")
    frame["note"] = [str(i) if i < 20 else f"n{i}" for i in range(ROWS)]  # numbers, then text
    frame["late"] = [None] * 25 + ["x"] * (ROWS - 25)  # empty, then text
    frame["score"] = [1] * 10 + [2.5] * (ROWS - 10)  # int, then float
    frame["code"] = [f"c{i}" for i in range(14)] + [str(i) for i in range(14, ROWS)]  # text, then chunks of numbers only
    return frame


def test_a_large_csv_is_held_in_its_parquet_copy_with_a_whole_reads_types(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                          vigil_home: Path) -> None:
    suite = _suite(tmp_path, _awkward(), dataset={"features": ["a", "b", "c"], "allow_nan": ["b"]})
    whole = prepare_run(suite).data("test")  # a small CSV: read whole, as before
    assert whole.feature_file is None
    streamed_csv(monkeypatch)
    data = prepare_run(suite).data("test")
    sha = sha256_file(tmp_path / "data.csv")
    assert data.feature_file == str(vigil_home / "cache" / "csv" / f"{sha}.parquet")
    assert (data.sha256, data.source) == (whole.sha256, whole.source) == (sha, str(tmp_path / "data.csv"))  # provenance: the CSV
    assert set(data.meta.columns).isdisjoint(["a", "b", "c"])  # the features stay in the copy
    assert list(data.frame.columns) == list(whole.frame.columns)
    shown = whole.frame.dtypes.astype(str).to_dict()
    assert data.frame.dtypes.astype(str).to_dict() == shown and shown["b"] == "float64" and shown["score"] == "float64"
    pd.testing.assert_frame_equal(data.frame.drop(columns=["note", "late"]), whole.frame.drop(columns=["note", "late"]))
    assert data.frame["note"].tolist() == whole.frame["note"].astype(str).tolist()  # numbers and text: text throughout
    assert data.frame["late"].isna().sum() == 25 and data.frame["late"].dropna().tolist() == ["x"] * (ROWS - 25)
    assert [p.name for p in (vigil_home / "cache" / "csv").iterdir()] == [f"{sha}.parquet"]  # no partial copy left behind


def test_the_copy_is_made_once_per_version_of_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vigil_home: Path) -> None:
    streamed_csv(monkeypatch)
    suite = _suite(tmp_path, _frame())
    first = Path(prepare_run(suite).data("test").feature_file or "")
    made = first.stat().st_mtime_ns
    os.utime(first, ns=(made - 10**9, made - 10**9))
    assert prepare_run(suite).data("test").feature_file == str(first) and first.stat().st_mtime_ns == made - 10**9  # parsed once
    _suite(tmp_path, _frame(a=np.arange(ROWS, dtype=float)))  # the file changes: its checksum, and so its copy
    edited = prepare_run(suite).data("test")
    assert edited.feature_file != str(first) and Path(edited.feature_file or "").is_file()
    np.testing.assert_array_equal(edited.select(["a"])["a"], np.arange(ROWS, dtype=float))


@pytest.mark.parametrize("text", ["a,b,label\n1,2,0\n3,4,1,9\n5,6,0\n",  # a row with a field too many
                                  "a,b,label\n1,2,0\n\"3,4,1\n"])  # an unclosed quote
def test_a_csv_that_cannot_be_parsed_fails_as_a_whole_read_does(text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite = _suite(tmp_path, _frame())
    (tmp_path / "data.csv").write_text(text)
    with pytest.raises(DataError) as whole:
        prepare_run(suite)
    streamed_csv(monkeypatch)
    with pytest.raises(DataError) as streamed:
        prepare_run(suite)
    assert str(streamed.value) == str(whole.value) and "cannot read data.csv" in str(whole.value)


_COPY_AND_HOLD = """
import sys, time
from pathlib import Path
from storage.csv_files import parquet_copy
copy = parquet_copy(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), chunk_rows=3)
print(copy.name if copy else "none", flush=True)
if sys.argv[4] == "hold":
    time.sleep(120)
"""


def test_a_new_versions_copy_removes_earlier_versions_nobody_uses(tmp_path: Path) -> None:
    """Earlier copies of the same CSV made by runs that ended are removed; one a live run reads, and other CSVs' copies, stay."""
    from storage.csv_files import parquet_copy

    folder, csv, other = tmp_path / "cache" / "csv", tmp_path / "data.csv", tmp_path / "other.csv"
    root = Path(__file__).resolve().parents[2]

    def copy_in_another_process(path: Path, version: str, hold: bool) -> subprocess.Popen[str]:
        pd.DataFrame({"x": np.arange(10.0) + int(version, 16), "label": np.arange(10) % 2}).to_csv(path, index=False)
        child = subprocess.Popen([sys.executable, "-c", _COPY_AND_HOLD, str(path), version * 64, str(folder), "hold" if hold else "exit"],
                                 stdout=subprocess.PIPE, text=True, cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
        assert child.stdout is not None and child.stdout.readline().strip() == f"{version * 64}.parquet"
        return child

    assert copy_in_another_process(csv, "1", hold=False).wait() == 0  # yesterday's run, ended
    assert copy_in_another_process(other, "2", hold=False).wait() == 0  # another CSV's copy
    reader = copy_in_another_process(csv, "3", hold=True)  # a run still reading its version
    try:
        pd.DataFrame({"x": np.arange(10.0), "label": np.arange(10) % 2}).to_csv(csv, index=False)  # today's version
        assert parquet_copy(csv, "4" * 64, folder, chunk_rows=3) == folder / ("4" * 64 + ".parquet")
        assert sorted(p.name[0] for p in folder.iterdir()) == ["2", "3", "4"]  # version 1's copy removed
        pd.DataFrame({"x": np.arange(10.0) * 2, "label": np.arange(10) % 2}).to_csv(csv, index=False)
        assert parquet_copy(csv, "5" * 64, folder, chunk_rows=3) is not None
        assert sorted(p.name[0] for p in folder.iterdir()) == ["2", "3", "4", "5"]  # 4 is this process's own, in use
    finally:
        reader.kill()
        reader.wait()
    pd.DataFrame({"x": np.arange(10.0) * 3, "label": np.arange(10) % 2}).to_csv(csv, index=False)
    parquet_copy(csv, "6" * 64, folder, chunk_rows=3)
    assert sorted(p.name[0] for p in folder.iterdir()) == ["2", "4", "5", "6"]  # the reader is gone: its version 3 too
    pd.testing.assert_frame_equal(pd.read_parquet(folder / ("6" * 64 + ".parquet")), pd.read_csv(csv))
