"""Hostile suite files: every input is a SuiteSpec or one-line SpecError, never another exception.

Hypothesis builds YAML trees from real suite keys (with wrong-typed values),
random keys and scalars, and raw bytes; each is written to a file and loaded
with :func:`suite.load.load_suite` in-process. The limits (size, nesting depth,
alias-expanded node count, UTF-8) are checked with exact inputs.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite.errors import SpecError, VigilError
from suite.load import MAX_DEPTH, MAX_NODES, MAX_SUITE_BYTES, load_suite
from suite.spec import SuiteSpec

SHA = "ab" * 32
BASE: dict[str, Any] = {
    "name": "fuzz",
    "task": "classification",
    "models": [{"name": "m", "format": "callable", "module": "x.py:f"}],
    "datasets": [{"name": "d", "loader": "sklearn.digits", "label": "label"}],
}
SUITE_KEYS = [
    "name", "description", "task", "classes", "models", "datasets", "metrics", "primary_metric", "slices", "seed",
    "bootstrap", "workers", "perturbations", "robustness", "gates", "robustness_gates", "drift_gate", "costs", "drift",
    "metric_drift", "gate_bound_policy", "inconclusive_as", "schedule", "upstream",
]
INNER_KEYS = ["name", "format", "path", "sha256", "loader", "label", "features", "metric", "min", "max", "max_drop",
              "kind", "severities", "columns", "reference", "window", "allow_nan", "checks", "batch_size", "role", "use"]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20), st.sampled_from(["1D", "6h", "cpu", "classification", "accuracy", SHA, "../x", "", "~"]),
)
keys = st.one_of(st.sampled_from(SUITE_KEYS + INNER_KEYS), st.text(max_size=8))
trees = st.recursive(scalars, lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)),
                     max_leaves=25)


def _outcome(path: Path) -> SuiteSpec | VigilError:
    """A spec or a VigilError; any other exception propagates and fails the test."""
    try:
        return load_suite(path)
    except VigilError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 1500, str(exc)
        assert str(exc).startswith(f"suite {path}: "), str(exc)
        return exc


@SETTINGS
@given(tree=trees)
def test_random_yaml_trees_load_or_fail_with_one_line(tree: Any, tmp_path: Path) -> None:
    path = tmp_path / "tree.yaml"
    path.write_text(yaml.safe_dump(tree))
    _outcome(path)


@SETTINGS
@given(key=st.sampled_from(SUITE_KEYS), value=trees, nested=st.sampled_from(["", "models.0", "datasets.0"]))
def test_real_suite_keys_with_wrong_values_fail_with_one_line(key: str, value: Any, nested: str, tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE)
    target: Any = doc
    for part in filter(None, nested.split(".")):
        target = target[int(part)] if part.isdigit() else target[part]
    target[key if not nested else INNER_KEYS[len(key) % len(INNER_KEYS)]] = value
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(doc))
    _outcome(path)


@SETTINGS
@given(data=st.binary(max_size=512))
def test_random_bytes_load_or_fail_with_one_line(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "bytes.yaml"
    path.write_bytes(data)
    _outcome(path)


@SETTINGS
@pytest.mark.filterwarnings("ignore::FutureWarning")  # pandas deprecates some aliases the fuzz finds
@given(window=st.one_of(st.text(max_size=12), st.sampled_from(["1W", "1ME", "1D", "0D", "-1D", "1e400D", "99999999999999999999D", "D" * 50])))
def test_any_drift_window_text_is_accepted_or_a_spec_error(window: str, tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE)
    doc["datasets"].append({"name": "ref", "loader": "sklearn.digits", "label": "label", "use": "reference"})
    doc["drift"] = {"reference": "ref", "window": window}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(doc))
    _outcome(path)


def _write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "hostile.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_binary_file_names_the_first_bad_byte(tmp_path: Path) -> None:
    path = _write(tmp_path, b"name: ok\n\xff\xfe rest")
    with pytest.raises(SpecError, match=r"not UTF-8 text \(byte 0xff at offset 9\)$"):
        load_suite(path)


def test_too_large_a_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("wb") as handle:
        handle.truncate(MAX_SUITE_BYTES + 1)  # sparse: nothing to read, only the size counts
    with pytest.raises(SpecError, match=rf"file is {MAX_SUITE_BYTES + 1} bytes, the limit is {MAX_SUITE_BYTES}"):
        load_suite(path)


@pytest.mark.parametrize("text", [
    "a: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
    "".join(" " * i + "k:\n" for i in range(MAX_DEPTH + 1)) + " " * (MAX_DEPTH + 1) + "v",
    "a: " + "[" * 200_000,  # the RecursionError of the reported crash
])
def test_deep_nesting_is_refused(text: str, tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"nested deeper than 64 levels|nesting depth"):
        load_suite(_write(tmp_path, text))


def test_depth_at_the_limit_is_still_read(tmp_path: Path) -> None:
    text = "name: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    with pytest.raises(SpecError, match=r"name: expected a string"):  # parsed, then refused by the schema
        load_suite(_write(tmp_path, text))


def test_alias_bomb_is_refused_without_expanding_it(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]  # 10**10 nodes once expanded
    with pytest.raises(SpecError, match=rf"more than {MAX_NODES} YAML nodes \(aliases expanded\)"):
        load_suite(_write(tmp_path, "\n".join(lines)))


def test_a_long_list_is_refused_quickly(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=rf"more than {MAX_NODES} YAML nodes"):
        load_suite(_write(tmp_path, "- 1\n" * (MAX_NODES + 10)))


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"alias \*a refers to a node that contains it"):
        load_suite(_write(tmp_path, "models: &a [*a]"))


@pytest.mark.parametrize(("text", "got"), [("just text", "got str"), ("- 1\n- 2", "got list"), ("", "got an empty document"), ("42", "got int")])
def test_top_level_must_be_a_mapping(text: str, got: str, tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=rf"expected a mapping at the top level, {got}$"):
        load_suite(_write(tmp_path, text))


@pytest.mark.parametrize("text", ["name: 2026-02-30", "a: 1\n---\nb: 2", "x: !!python/object:os.system ls", "? [a]\n: b", "a: *undefined"])
def test_yaml_the_safe_loader_refuses_is_a_spec_error(text: str, tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not valid YAML"):
        load_suite(_write(tmp_path, text))


def test_a_huge_wrong_value_gives_a_short_line(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_suite(_write(tmp_path, yaml.safe_dump({**BASE, "name": list(range(20_000))})))
    assert str(info.value).endswith("name: expected a string, got [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, …")


def test_a_directory_is_not_a_suite(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="expected a file, got a directory"):
        load_suite(tmp_path)


@pytest.mark.slow  # `vigil` in a subprocess
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(tree=trees, noise=st.binary(min_size=1, max_size=64))
def test_a_few_hostile_files_through_the_real_cli(tree: Any, noise: bytes, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    path = tmp_path / "cli.yaml"
    path.write_bytes(yaml.safe_dump(tree).encode() + b"\n# " + noise)
    env = {**os.environ, "VIGIL_HOME": str(tmp_path / "home"), "PYTHONPATH": str(root)}
    result = subprocess.run([sys.executable, "-m", "cli.main", "validate", str(path)], capture_output=True, text=True, env=env, cwd=root, timeout=120)
    assert result.returncode in (0, 2), result.stderr
    assert "Traceback" not in result.stderr
    if result.returncode == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
