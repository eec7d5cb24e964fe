"""Benchmark: how fast hostile suite files are refused, and at what memory.

Cases (each written to a temporary file and loaded with ``suite.load.load_suite``
in this process, which must raise a ``SpecError``):

* ``40mb_list``: a 40 MB YAML list (used to take 106 s and 3.1 GB before the
  limits): refused by its size, before it is read.
* ``4mb_list``: a list just under the 5 MiB size limit: refused by the node
  count after 100 000 nodes of libyaml's event stream.
* ``alias_bomb``: ten levels of ten aliases (10**10 nodes once expanded).
* ``deep_nest``: 100 000 nested flow sequences (a RecursionError before).

Prints seconds and the process's peak RSS after each case; the last line is
``worst_refusal_seconds: X``.

Run: ``PYTHONPATH=$PWD python bench/suite_limits.py``
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from suite.errors import SpecError  # noqa: E402
from suite.load import load_suite  # noqa: E402


def _cases() -> dict[str, str]:
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"] + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    return {
        "40mb_list": "- 1234567\n" * 4_000_000,
        "4mb_list": "- 1\n" * 1_200_000,
        "alias_bomb": "\n".join(bomb),
        "deep_nest": "a: " + "[" * 100_000 + "]" * 100_000,
    }


def main() -> None:
    worst = 0.0
    with tempfile.TemporaryDirectory() as folder:
        for name, text in _cases().items():
            path = Path(folder) / f"{name}.yaml"
            path.write_text(text)
            start = time.perf_counter()
            try:
                load_suite(path)
                raise SystemExit(f"{name}: accepted, expected a SpecError")
            except SpecError as exc:
                seconds = time.perf_counter() - start
                reason = str(exc).split(": ", 1)[1]
            worst = max(worst, seconds)
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"{name:<12} {path.stat().st_size / 1e6:7.1f} MB  refused in {seconds:.3f} s  peak RSS {peak_mb:.0f} MB  ({reason})")
    print(f"worst_refusal_seconds: {worst:.3f}")


if __name__ == "__main__":
    main()
