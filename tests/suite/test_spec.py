"""Suite validation: a table of bad suites and the exact one-line messages they give."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from suite.errors import SpecError, VigilError
from suite.load import load_suite, parse_suite
from suite.registry import Registry

SHA = "ab" * 32
GOOD: dict[str, Any] = {
    "name": "digits",
    "task": "classification",
    "models": [
        {"name": "cnn", "format": "torchscript", "path": "c.pt", "sha256": SHA, "role": "candidate"},
        {"name": "mlp", "format": "torchscript", "path": "b.pt", "sha256": SHA, "role": "baseline"},
    ],
    "datasets": [{"name": "test", "loader": "sklearn.digits", "label": "label"}],
}


def _set(path: str, value: Any) -> Any:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is _DELETE:
            del node[int(last) if last.isdigit() else last]
        else:
            node[int(last) if last.isdigit() else last] = value

    return mutate


_DELETE = object()

BAD_SUITES = [
    (_set("models.1.batch_size", -4), "suite digits.yaml: models[1].batch_size: expected a positive integer, got -4"),
    (_set("models.0.batch_size", "big"), "suite digits.yaml: models[0].batch_size: expected an integer, got 'big'"),
    (_set("workers", {"start_timeout_s": -1}), "suite digits.yaml: workers.start_timeout_s: expected a positive number, got -1"),  # 0.5 would do
    (_set("workers", {"num_actors": 0}), "suite digits.yaml: workers.num_actors: expected a positive integer, got 0"),
    (_set("models.0.device", "gpu"), "suite digits.yaml: models[0].device: expected one of 'cpu', 'cuda' or 'auto', got 'gpu'"),
    (_set("models.0.devise", "cpu"), "suite digits.yaml: models[0].devise: unknown key (expected one of: batch_size, device, format, init_args, input, metadata, module, module_sha256, name, output, path, precision, role, sha256, version)"),
    (_set("models.0.sha256", "xyz"), "suite digits.yaml: models[0].sha256: expected a sha256 (64 lowercase hex digits), got 'xyz'"),
    (_set("models.0.sha256", _DELETE), "suite digits.yaml: models[0]: a model file needs its sha256 pinned"),
    (_set("task", _DELETE), "suite digits.yaml: task: required key is missing"),
    (_set("task", "ranking"), "suite digits.yaml: task: expected one of 'classification' or 'regression', got 'ranking'"),
    (_set("models", []), "suite digits.yaml: models: expected at least 1 model (a suite without models needs a drift: section to watch logged outputs), got 0"),
    (_set("models.1.name", "cnn"), "suite digits.yaml: models: duplicate name 'cnn'"),
    (_set("datasets.0.path", "x.csv"), "suite digits.yaml: datasets[0]: give exactly one of path or loader"),
    (_set("bootstrap", {"confidence": 1.5}), "suite digits.yaml: bootstrap.confidence: expected a number < 1.0, got 1.5"),
    (_set("gates", [{"metric": "accuracy"}]), "suite digits.yaml: gates[0]: a gate needs min, max or max_drop"),
    (_set("seed", "seven"), "suite digits.yaml: seed: expected an integer, got 'seven'"),
    (_set("name", "my suite"), "suite digits.yaml: name: expected letters, digits, '_', '.' or '-', got 'my suite'"),
]


@pytest.mark.parametrize(("mutate", "message"), BAD_SUITES)
def test_bad_suite_gives_exact_message(mutate: Any, message: str) -> None:
    doc = copy.deepcopy(GOOD)
    mutate(doc)
    with pytest.raises(SpecError) as info:
        parse_suite(doc, "digits.yaml", Path("."))
    assert str(info.value) == message


def test_good_suite_parses_and_fingerprint_is_stable() -> None:
    a = parse_suite(copy.deepcopy(GOOD), "a.yaml", Path("/x"))
    b = parse_suite(copy.deepcopy(GOOD), "b.yaml", Path("/y"))
    assert a.fingerprint() == b.fingerprint()
    changed = copy.deepcopy(GOOD)
    changed["seed"] = 1
    assert parse_suite(changed, "a.yaml", Path("/x")).fingerprint() != a.fingerprint()
    defaults = copy.deepcopy(GOOD)  # an execution setting added at its default leaves every suite's fingerprint as it was
    defaults["workers"] = {**defaults.get("workers", {}), "shard_timeout_s": 1800}
    assert parse_suite(defaults, "a.yaml", Path("/x")).fingerprint() == a.fingerprint()
    defaults["workers"]["shard_timeout_s"] = 60
    assert parse_suite(defaults, "a.yaml", Path("/x")).fingerprint() != a.fingerprint()
    assert a.baseline is not None and a.baseline.name == "mlp"
    assert [m.name for m in a.candidates] == ["cnn"]
    assert a.resolve("c.pt") == Path("/x/c.pt")


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"^suite .*missing.yaml: file not found$"):
        load_suite(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match=r"broken.yaml: line \d+: not valid YAML"):
        load_suite(broken)
    listy = tmp_path / "list.yaml"
    listy.write_text(yaml.safe_dump([1, 2]))
    with pytest.raises(SpecError, match="expected a mapping at the top level, got list"):
        load_suite(listy)


def test_registry_refuses_duplicates_and_suggests() -> None:
    reg: Registry[int] = Registry("metric", int)
    reg.register("accuracy", 1)
    with pytest.raises(VigilError, match="already registered"):
        reg.register("accuracy", 2)
    with pytest.raises(VigilError, match="expected <class 'int'>"):
        reg.register("f1", "x")  # type: ignore[arg-type]
    with pytest.raises(VigilError) as info:
        reg.get("acuracy")
    assert str(info.value) == "unknown metric 'acuracy'; did you mean 'accuracy'? Available: accuracy"
