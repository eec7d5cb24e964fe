"""Issue 18: the driver of `vigil run` holds a few bytes per row, not the features (measured, not modelled).

Two real `vigil run`s in child processes over synthetic Parquet tables (64 float32 features,
10 classes, a 4-value slice column; a small torchscript MLP and a baseline with paired drop
gates on accuracy, per slice too, and log loss; 2 resamples so the bootstrap's own memory,
another issue's, stays out) read their driver's own peak RSS at exit. The growth
per row between the two sizes is the driver's per-row cost: before issue 18 it was ~2 KB
(the features as a frame, as a matrix, in the object store, and re-joined for slices).
"""

from __future__ import annotations

from pathlib import Path

from bench.driver_memory import run_vigil, write_model, write_suite, write_table

SMALL, LARGE = 150_000, 750_000
MAX_BYTES_PER_ROW = 300


def _peak(tmp_path: Path, rows: int, services: dict[str, str], data: str = "data.parquet") -> dict[str, float]:
    folder = tmp_path / f"rows-{rows}"
    folder.mkdir()
    write_table(folder / data, rows)
    write_model(folder / "mlp.pt", hidden=32)
    write_model(folder / "mlp-baseline.pt", hidden=32, seed=1)
    suite = write_suite(folder, resamples=2, metrics="[accuracy, log_loss]", baseline=True, data=data)  # the gates' paired tests stream too
    # the session's Ray and Prefect: their memory is not the driver's; a child still running at 240 s (~10 s here) prints its stacks
    return run_vigil(suite, folder / "home", env=services, timeout_s=240)


def test_driver_peak_rss_grows_by_few_bytes_per_row(tmp_path: Path, session_services: dict[str, str]) -> None:
    small, large = _peak(tmp_path, SMALL, session_services), _peak(tmp_path, LARGE, session_services)
    per_row = (large["peak_rss_bytes"] - small["peak_rss_bytes"]) / (LARGE - SMALL)
    print(f"driver peak RSS: {small['peak_rss_bytes'] / 1e6:.0f} MB at {SMALL} rows, {large['peak_rss_bytes'] / 1e6:.0f} MB at {LARGE}: {per_row:.0f} B/row")
    assert per_row < MAX_BYTES_PER_ROW, (
        f"driver peak RSS {small['peak_rss_bytes'] / 1e6:.0f} MB at {SMALL} rows, {large['peak_rss_bytes'] / 1e6:.0f} MB at {LARGE}: "
        f"{per_row:.0f} bytes per row (expected < {MAX_BYTES_PER_ROW})")


def test_a_large_csv_grows_the_driver_by_as_few_bytes_per_row(tmp_path: Path, session_services: dict[str, str]) -> None:
    """The same tables as CSV (106 MB and 317 MB: both past storage.csv_files.IN_MEMORY_BYTES), held in their Parquet copies.

    Read whole, the features alone were 512 bytes a row as float64, before the parser's own buffers.
    """
    small, large = _peak(tmp_path, SMALL, session_services, "data.csv"), _peak(tmp_path, 3 * SMALL, session_services, "data.csv")
    per_row = (large["peak_rss_bytes"] - small["peak_rss_bytes"]) / (2 * SMALL)
    print(f"driver peak RSS (CSV): {small['peak_rss_bytes'] / 1e6:.0f} MB at {SMALL} rows, {large['peak_rss_bytes'] / 1e6:.0f} MB at {3 * SMALL}: {per_row:.0f} B/row")
    assert per_row < MAX_BYTES_PER_ROW, f"{per_row:.0f} bytes per row (expected < {MAX_BYTES_PER_ROW})"
