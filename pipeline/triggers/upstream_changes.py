"""A changed upstream module as data: the ``vigil.upstream.updated`` event, the archive of versions, the derived suite.

When a module's code or data file changes, the triggered run evaluates the suite
with the new file and with that module's ``previous`` set to the version it
replaced, so the run's ablation attributes the downstream change to it. Files are
kept in a content-addressed archive under ``$VIGIL_HOME/upstream``, so the
version replaced can be rolled back to even when the new one was written over it
in place.

The version replaced is, first found: the event's ``previous_sha256``; the last
version Vigil saw of that module (recorded by ``vigil watch-upstream`` and by
each triggered run); the suite's own file when it differs from the new one; the
suite's declared ``previous``.

Example:
    >>> update = UpstreamUpdate(module="scaler", version="v2", sha256="cd" * 32)
    >>> triggered_upstream_run_id("digits", update)
    'digits-upstream-scaler-cdcdcdcdcdcd'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.triggers.derive import derive_suite
from storage.archive import ModuleArchive
from storage.checksums import sha256_file
from suite.errors import VigilError
from suite.spec import SuiteSpec, UpstreamSpec

UPSTREAM_UPDATED = "vigil.upstream.updated"
"""The Prefect event a new version of an upstream module emits."""

FieldName = Literal["module", "data"]


class UpstreamUpdate(BaseModel):
    """A new version of one file (code or data) of one upstream module."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    module: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    version: str
    field: FieldName | None = None
    path: str | None = None
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    previous_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    def event(self) -> dict[str, Any]:
        """Keyword arguments for Prefect's ``emit_event``: resource id = ``vigil.upstream.<module>``."""
        return {
            "event": UPSTREAM_UPDATED,
            "resource": {"prefect.resource.id": f"vigil.upstream.{self.module}", "prefect.resource.name": self.module},
            "payload": self.model_dump(),
        }

    def pinned(self) -> tuple[FieldName, str, str]:
        """``(field, path, sha256)`` of an update that :func:`pin_update` filled in, or a :class:`VigilError`."""
        if self.field is None or self.path is None or self.sha256 is None:
            raise VigilError(f"upstream update {self.module}@{self.version}: expected a pinned field, path and sha256 "
                             f"(see pin_update), got field={self.field!r}, path={self.path!r}, sha256={self.sha256!r}")
        return self.field, self.path, self.sha256


def triggered_upstream_run_id(suite_name: str, update: UpstreamUpdate) -> str:
    """The run id of evaluating ``update``: the same new file gives the same id (dedupe key)."""
    key = update.sha256[:12] if update.sha256 else update.version
    return f"{suite_name}-upstream-{update.module}-{key}"[:120]


def default_field(module: UpstreamSpec) -> FieldName:
    """The file an update replaces when it does not say: the data of a snapshot or retriever, else the code."""
    return "data" if module.kind in ("data_snapshot", "retriever") else "module"


def module_file(suite: SuiteSpec, module: UpstreamSpec, field: FieldName) -> Path | None:
    """The file ``field`` of ``module``'s current version names (the code file of ``file.py:fn``)."""
    written = module.data if field == "data" else (module.module.split(":")[0] if module.module else None)
    return None if written is None else suite.resolve(written)


def _module(suite: SuiteSpec, name: str) -> UpstreamSpec:
    names = [m.name for m in suite.upstream]
    if name not in names:
        raise VigilError(f"suite {suite.source}: upstream: expected one of {names}, got {name!r}")
    return suite.upstream[names.index(name)]


def pin_update(suite: SuiteSpec, update: UpstreamUpdate, archive: ModuleArchive) -> UpstreamUpdate:
    """``update`` with its field, its new file archived (``path``) and that file's sha256 checked and filled in.

    Without a path the suite's own file is the new version (it was changed in place).

    Raises:
        VigilError: The module or field is not in the suite, or the file is missing or not the one the event names.
    """
    module = _module(suite, update.module)
    field = update.field or default_field(module)
    if (field == "module" and module.module is None) or (field == "data" and module.data is None):
        raise VigilError(f"upstream update {update.module}: field: a {module.kind} module has no {field} file")
    where = f"upstream update {update.module}@{update.version}"
    known = archive.find(update.sha256) if update.sha256 else None
    if known is not None:
        return update.model_copy(update={"field": field, "path": str(known)})
    source = Path(update.path) if update.path else module_file(suite, module, field)
    if source is None or not source.is_file():
        raise VigilError(f"{where}: path: file {source} not found")
    sha = sha256_file(source)
    if update.sha256 and sha != update.sha256:
        raise VigilError(f"{where}: sha256: expected {update.sha256[:12]}…, {source} has {sha[:12]}…")
    return update.model_copy(update={"field": field, "path": str(archive.keep(source, sha)), "sha256": sha})


def _previous_file(suite: SuiteSpec, module: UpstreamSpec, field: FieldName, update: UpstreamUpdate, new_sha: str,
                   current: Path | None, archive: ModuleArchive) -> Path | None:
    """The file of the version being replaced (see the module docstring for the order)."""
    for sha in (update.previous_sha256, archive.last_seen(suite.name).get(f"{module.name}:{field}")):
        kept = archive.find(sha) if sha and sha != new_sha else None
        if kept is not None:
            return kept
    if current is not None and current.is_file() and sha256_file(current) != new_sha:
        return archive.keep(current)
    return None


def _version_entry(suite: SuiteSpec, module: UpstreamSpec, field: FieldName, path: Path, label: str | None) -> dict[str, Any]:
    """One version of ``module`` with its ``field`` file at ``path`` and the other file as the suite has it."""
    code = data = None
    if module.module is not None:
        file, function = module.module.split(":")
        code = f"{path if field == 'module' else suite.resolve(file)}:{function}"
    if module.data is not None:
        data = str(path if field == "data" else suite.resolve(module.data))
    pins = {"sha256": module.sha256 if field == "data" else None, "data_sha256": module.data_sha256 if field == "module" else None}
    return {"module": code, "data": data, **pins, "version": label}


def derive_upstream_suite(suite_path: str | Path, suite: SuiteSpec, update: UpstreamUpdate, archive: ModuleArchive,
                          target: Path) -> tuple[Path, bool]:
    """Write the suite with a pinned ``update``'s file in place and the version it replaces as ``previous``.

    Returns:
        The derived suite's path, and whether a previous version was found (without one
        the run re-validates downstream but has nothing to roll back to).
    """
    module = _module(suite, update.module)
    field, path, sha256 = update.pinned()
    current = module_file(suite, module, field)
    previous_path = _previous_file(suite, module, field, update, sha256, current, archive)
    entry = _version_entry(suite, module, field, Path(path), update.version)
    if previous_path is not None:
        entry["previous"] = {k: v for k, v in _version_entry(suite, module, field, previous_path, None).items() if v is not None}
    derived = derive_suite(suite_path, target, upstream={module.name: entry})
    return derived, previous_path is not None or module.previous is not None


def changed_files(suite: SuiteSpec, archive: ModuleArchive) -> list[UpstreamUpdate]:
    """One poll of a suite's upstream files: an update for each file whose content changed since last seen.

    A file seen for the first time is archived and recorded, with no update. Each
    update carries the archived copy of the new file and the sha256 it replaces.
    """
    seen, updates = archive.last_seen(suite.name), []
    for module in suite.upstream:
        for field in ("module", "data"):
            path = module_file(suite, module, field)  # type: ignore[arg-type]
            if path is None or not path.is_file():
                continue
            sha = sha256_file(path)
            before = seen.get(f"{module.name}:{field}")
            if before == sha:
                continue
            kept = archive.keep(path, sha)
            archive.record(suite.name, module.name, field, sha)  # type: ignore[arg-type]
            if before is not None:
                updates.append(UpstreamUpdate(module=module.name, version=sha[:12], field=field, path=str(kept), sha256=sha, previous_sha256=before))  # type: ignore[arg-type]
    return updates
