"""Keep a suite's pinned sha256s in step with a freshly trained checkpoint and its module file (shared by the example trainers)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path


def pin_checkpoint(suite: Path, model_path: str, checkpoint: Path, quiet: bool = False) -> None:
    """Write ``checkpoint``'s sha256 into ``suite`` where it pins ``model_path``, saying so when it changes."""
    sha = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    text = suite.read_text()
    pattern = re.compile(rf"(path: {re.escape(model_path)}\n\s+sha256: )([0-9a-f]{{64}})")
    match = pattern.search(text)
    if match and match.group(2) != sha:
        suite.write_text(pattern.sub(rf"\g<1>{sha}", text))
        print(f"updated the sha256 pinned for {model_path} in {suite.name}: {sha[:12]}…")
    elif not quiet:
        print(f"{model_path}: sha256 {sha[:12]}… (pinned)")


def pin_module(suite: Path, module_file: Path, quiet: bool = False) -> None:
    """Write ``module_file``'s sha256 into ``suite`` as the ``module_sha256`` of every model whose module it is."""
    sha = hashlib.sha256(module_file.read_bytes()).hexdigest()
    text = suite.read_text()
    pattern = re.compile(rf"(module: {re.escape(module_file.name)}:\w+\n\s+module_sha256: )([0-9a-f]{{64}})")
    updated = pattern.sub(rf"\g<1>{sha}", text)
    if updated != text:
        suite.write_text(updated)
        print(f"updated the module_sha256 pinned for {module_file.name} in {suite.name}: {sha[:12]}…")
    elif not quiet:
        print(f"{module_file.name}: sha256 {sha[:12]}… (pinned)")
