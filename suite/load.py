"""Read a suite YAML file into a :class:`SuiteSpec`, or fail with one clear line.

Example:
    >>> format_location(("models", 1, "batch_size"))
    'models[1].batch_size'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from suite.errors import SpecError
from suite.spec import SuiteSpec


def format_location(loc: tuple[int | str, ...]) -> str:
    """Pydantic's error location as a key path: ``models[1].batch_size``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not str(part).startswith(("function-", "literal[")) and "[" not in str(part):
            out += f".{part}" if out else str(part)
    return out


def _describe(error: dict[str, Any], model: type[BaseModel] | None) -> str:
    kind, ctx, got = error["type"], error.get("ctx", {}), error.get("input")
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        allowed = ", ".join(sorted(model.model_fields)) if model else ""
        return f"unknown key (expected one of: {allowed})"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[kind]
        bound = next(iter(ctx.values()))
        if kind == "greater_than" and bound == 0 and isinstance(got, int):
            return f"expected a positive integer, got {got!r}"
        return f"expected a number {op} {bound}, got {got!r}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected an integer, got {got!r}"
    if kind in ("float_type", "float_parsing"):
        return f"expected a number, got {got!r}"
    if kind in ("string_type",):
        return f"expected a string, got {got!r}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {got!r}"
    if kind in ("list_type",):
        return f"expected a list, got {got!r}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping, got {got!r}"
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected')}, got {got!r}"
    if kind == "string_pattern_mismatch":
        if "0-9a-f]{64}" in str(ctx.get("pattern", "")):
            return f"expected a sha256 (64 lowercase hex digits), got {got!r}"
        return f"expected letters, digits, '_', '.' or '-', got {got!r}"
    if kind == "too_short":
        return f"expected at least {ctx.get('min_length')} item(s), got {len(got) if got is not None else 0}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return f"{error['msg'][0].lower()}{error['msg'][1:]}, got {got!r}"


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the last key of ``loc`` (for listing allowed keys)."""
    model: Any = SuiteSpec
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        ann = field.annotation
        inner = getattr(ann, "__args__", None)
        candidates = [ann, *(inner or ())]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
    return model


def parse_suite(raw: Any, source: str, base_dir: Path) -> SuiteSpec:
    """Validate an already-parsed YAML document into a suite."""
    if not isinstance(raw, dict):
        raise SpecError(source, "", f"expected a mapping at the top level, got {type(raw).__name__}")
    try:
        spec = SuiteSpec.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        raise SpecError(source, format_location(loc), _describe(first, _model_at(loc))) from None
    return spec.bind(base_dir, source)


def load_suite(path: str | Path) -> SuiteSpec:
    """Read and validate the suite file at ``path``."""
    p = Path(path)
    if not p.is_file():
        raise SpecError(str(path), "", "file not found")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        raise SpecError(str(path), where, f"not valid YAML ({getattr(exc, 'problem', exc)})") from None
    return parse_suite(raw, str(path), p.parent.resolve())
