"""A content-addressed archive of upstream module files, and the last version seen of each.

Files live at ``<root>/files/<sha256>/<original name>`` (the name is kept so a
``.py`` module imports and a ``.parquet`` snapshot reads as before); a copy is
written to a temp file, checked and renamed, so a half-copied file is never
found. ``<root>/seen/<suite>.json`` maps ``"<module>:<field>"`` to the sha256 last
seen in use.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Literal

from storage.checksums import sha256_file
from suite.errors import VigilError


class ModuleArchive:
    """Content-addressed copies of upstream files, and the last version seen of each suite's module files."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def keep(self, path: Path, sha256: str | None = None) -> Path:
        """A copy of ``path`` under its sha256 (keeping its file name, so imports and readers work)."""
        sha = sha256 or sha256_file(path)
        target = self.root / "files" / sha / path.name
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
                shutil.copyfile(path, tmp.name)
            if sha256_file(Path(tmp.name)) != sha:
                os.unlink(tmp.name)
                raise VigilError(f"upstream file {path}: changed while being archived (expected sha256 {sha[:12]}…)")
            os.replace(tmp.name, target)
        return target

    def find(self, sha256: str) -> Path | None:
        """The archived file with this sha256, if any."""
        folder = self.root / "files" / sha256
        found = sorted(folder.iterdir()) if folder.is_dir() else []
        return found[0] if found else None

    def _seen_file(self, suite: str) -> Path:
        return self.root / "seen" / f"{suite}.json"

    def last_seen(self, suite: str) -> dict[str, str]:
        """``{"<module>:<field>": sha256}``: the last version seen of each module file of ``suite``."""
        path = self._seen_file(suite)
        return json.loads(path.read_text()) if path.is_file() else {}

    def record(self, suite: str, module: str, field: Literal["module", "data"], sha256: str) -> None:
        """Remember ``sha256`` as the version of ``module``'s ``field`` file now in use (atomic)."""
        seen = {**self.last_seen(suite), f"{module}:{field}": sha256}
        path = self._seen_file(suite)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(seen, indent=1, sort_keys=True))
        tmp.replace(path)
