"""The suite vocabulary imports nothing above it; registry owners check its names through hooks."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic import ValidationError

import drift.checks  # noqa: F401  (installs the drift-method check)
import evaluators.perturbations  # noqa: F401  (installs the perturbation checks)
from suite.sections import DriftSpec, PerturbationSpec

SUITE = Path(__file__).resolve().parents[2] / "suite"
ABOVE = ("cli", "drift", "evaluators", "flows", "mirror", "pipeline", "reports", "storage", "workers")


def test_suite_imports_no_package_above_it() -> None:
    found = []
    for path in sorted(SUITE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ABOVE]
    assert found == []


def test_installed_checks_refuse_bad_names_at_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        PerturbationSpec(kind="oclusion")
    assert info.value.errors()[0]["loc"] == ("kind",)
    assert "unknown perturbation 'oclusion'; did you mean 'occlusion'?" in str(info.value)
    with pytest.raises(ValidationError, match=r"feature_swap needs exactly 2 columns, got \['a'\]"):
        PerturbationSpec(kind="feature_swap", columns=["a"])
    with pytest.raises(ValidationError) as info:
        DriftSpec(reference="r", methods={"age": "wasserstien"})
    assert info.value.errors()[0]["loc"] == ("methods",)
    assert "methods[age]: unknown drift check 'wasserstien'; did you mean 'wasserstein'?" in str(info.value)
    with pytest.raises(ValidationError, match="methods\\[x\\]: expected a column check, got the multivariate check 'mmd'"):
        DriftSpec(reference="r", methods={"x": "mmd"})
    assert DriftSpec(reference="r", methods={"x": "psi"}).methods == {"x": "psi"}
