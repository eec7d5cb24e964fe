"""Read a suite YAML file into a :class:`SuiteSpec`, or fail with one clear line.

A suite file is untrusted input. Before it is parsed into Python objects it must
be at most :data:`MAX_SUITE_BYTES` long and UTF-8 text, and its YAML event stream
(libyaml's parser, no recursion) must nest at most :data:`MAX_DEPTH` levels and
hold at most :data:`MAX_NODES` nodes *after* aliases are expanded, so "billion
laughs" alias bombs, deep nests and huge lists are refused in linear time with a
:class:`SpecError`, never a RecursionError or a memory blow-up.

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

MAX_SUITE_BYTES = 5 * 1024 * 1024
"""A suite file larger than this (5 MiB) is refused before it is read."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences allowed."""
MAX_NODES = 100_000
"""Most YAML nodes (scalars, mappings, sequences), counting each alias as the nodes it expands to."""

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def format_location(loc: tuple[int | str, ...]) -> str:
    """Pydantic's error location as a key path: ``models[1].batch_size``; a key that is not a plain word is quoted.

    Example:
        >>> format_location(("models", 1, "batch_size"))
        'models[1].batch_size'
        >>> format_location(("bootstrap", "\\n"))
        "bootstrap.'\\\\n'"
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not str(part).startswith(("function-", "literal[")) and "[" not in str(part):
            key = str(part) if str(part).isprintable() and str(part).strip() == str(part) and str(part) else repr(str(part))
            out += f".{key}" if out else key
    return out


def _show(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters so a huge wrong value still gives a short line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
            return f"expected a positive {'number' if _is_float_field(model, error['loc']) else 'integer'}, got {_show(got)}"
        return f"expected a number {op} {bound}, got {_show(got)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected an integer, got {_show(got)}"
    if kind in ("float_type", "float_parsing"):
        return f"expected a number, got {_show(got)}"
    if kind in ("string_type",):
        return f"expected a string, got {_show(got)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {_show(got)}"
    if kind in ("list_type",):
        return f"expected a list, got {_show(got)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping, got {_show(got)}"
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected')}, got {_show(got)}"
    if kind == "string_pattern_mismatch":
        if "0-9a-f]{64}" in str(ctx.get("pattern", "")):
            return f"expected a sha256 (64 lowercase hex digits), got {_show(got)}"
        return f"expected letters, digits, '_', '.' or '-', got {_show(got)}"
    if kind == "too_short":
        return f"expected at least {ctx.get('min_length')} item(s), got {len(got) if got is not None else 0}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return f"{error['msg'][0].lower()}{error['msg'][1:]}, got {_show(got)}"


def _is_float_field(model: type[BaseModel] | None, loc: Any) -> bool:
    """Whether the key at the end of ``loc`` in ``model`` holds a float (``1.5`` would do), not only an integer."""
    field = model.model_fields.get(loc[-1]) if model is not None and loc and isinstance(loc[-1], str) else None
    return field is not None and field.annotation is float


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
        got = "an empty document" if raw is None else type(raw).__name__
        raise SpecError(source, "", f"expected a mapping at the top level, got {got}")
    try:
        spec = SuiteSpec.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        raise SpecError(source, format_location(loc), _describe(first, _model_at(loc))) from None
    except (TypeError, ValueError, ArithmeticError, LookupError, RecursionError) as exc:  # a validator crashed on hostile input
        raise SpecError(source, "", f"cannot be validated ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from None
    return spec.bind(base_dir, source)


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(source, "", f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


def _yaml_problem(exc: yaml.YAMLError, source: str) -> SpecError:
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}" if mark else ""
    parts = [getattr(exc, "context", None), getattr(exc, "problem", None)]
    problem = " ".join(", ".join(str(x) for x in parts if x).split()) or " ".join(str(exc).split())
    return SpecError(source, where, f"not valid YAML ({problem})")


def check_shape(text: str, source: str) -> None:
    """Refuse YAML nested deeper than :data:`MAX_DEPTH` or expanding to more than :data:`MAX_NODES` nodes.

    Walks libyaml's event stream once, before any Python object is built: an
    alias counts as the size of the node its anchor names, so an alias bomb is
    measured without expanding it.

    Example:
        >>> check_shape("a: &x [1, 2]\\nb: [*x, *x]", "s.yaml")
        >>> check_shape("[" * 70 + "]" * 70, "s.yaml")
        Traceback (most recent call last):
        ...
        suite.errors.SpecError: suite s.yaml: line 1: nested deeper than 64 levels
    """
    sizes: dict[str, int] = {}
    open_anchors: list[tuple[str | None, int]] = []  # (anchor, node count when the collection started)
    total = 0
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            if isinstance(event, yaml.AliasEvent):
                if event.anchor not in sizes:
                    if any(anchor == event.anchor for anchor, _ in open_anchors):
                        raise SpecError(source, _line(event), f"alias *{event.anchor} refers to a node that contains it")
                    continue  # an undefined alias: the parser reports it next
                total += sizes[event.anchor]
            elif isinstance(event, yaml.ScalarEvent):
                total += 1
                if event.anchor:
                    sizes[event.anchor] = 1
            elif isinstance(event, yaml.CollectionStartEvent):
                total += 1
                open_anchors.append((event.anchor, total - 1))
                if len(open_anchors) > MAX_DEPTH:
                    raise SpecError(source, _line(event), f"nested deeper than {MAX_DEPTH} levels")
            elif isinstance(event, yaml.CollectionEndEvent):
                anchor, start = open_anchors.pop()
                if anchor:
                    sizes[anchor] = total - start
            if total > MAX_NODES:
                raise SpecError(source, _line(event), f"more than {MAX_NODES} YAML nodes (aliases expanded); a suite is far smaller")
    except yaml.YAMLError as exc:
        raise _yaml_problem(exc, source) from None


def _line(event: yaml.Event) -> str:
    mark = getattr(event, "start_mark", None)
    return f"line {mark.line + 1}" if mark is not None else ""


def read_suite_text(path: str | Path) -> str:
    """The text of the suite file at ``path``: at most :data:`MAX_SUITE_BYTES`, UTF-8, or a :class:`SpecError`."""
    p, source = Path(path), str(path)
    try:
        if not p.is_file():
            raise SpecError(source, "", "file not found" if not p.exists() else "expected a file, got a directory or device")
        size = p.stat().st_size
        if size > MAX_SUITE_BYTES:
            raise SpecError(source, "", f"file is {size} bytes, the limit is {MAX_SUITE_BYTES} ({MAX_SUITE_BYTES // 2**20} MiB)")
        with p.open("rb") as handle:
            data = handle.read(MAX_SUITE_BYTES + 1)
    except OSError as exc:
        raise SpecError(source, "", f"cannot read the file ({exc.strerror or type(exc).__name__})") from None
    if len(data) > MAX_SUITE_BYTES:
        raise SpecError(source, "", f"file is over the limit of {MAX_SUITE_BYTES} bytes")
    return _decode(data, source)


def load_suite(path: str | Path) -> SuiteSpec:
    """Read and validate the suite file at ``path``.

    Raises:
        SpecError: the file is missing, too large, not UTF-8, not YAML, too deep
            or too big once aliases are expanded, or not a valid suite.
    """
    return parse_suite(read_suite_yaml(path), str(path), Path(path).parent.resolve())


def read_suite_yaml(path: str | Path) -> Any:
    """The YAML document of the suite file at ``path``, within every limit (size, UTF-8, depth, nodes), not yet validated."""
    return parse_suite_yaml(read_suite_text(path), path)


def load_suite_text(text: str, path: str | Path, base_dir: Path | None = None) -> SuiteSpec:
    """Validate suite ``text`` as if read from ``path``: relative paths resolve against ``base_dir`` (default: ``path``'s folder).

    ``vigil reproduce`` parses a run's stored suite text this way, against the folder it was first read from.
    """
    return parse_suite(parse_suite_yaml(text, path), str(path), base_dir or Path(path).parent.resolve())


def parse_suite_yaml(text: str, path: str | Path) -> Any:
    """The YAML document of suite ``text`` (from ``path``), within the depth and node limits, not yet validated."""
    check_shape(text, str(path))
    try:
        return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise _yaml_problem(exc, str(path)) from None
    except (ValueError, OverflowError) as exc:  # e.g. a timestamp such as 2026-02-30
        raise SpecError(str(path), "", f"not valid YAML ({type(exc).__name__}: {exc})") from None
