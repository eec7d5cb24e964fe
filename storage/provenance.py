"""What a run ran on: software versions, code revision, machine.

Stored as JSON on the run so a result can be traced to the code, data,
models and hardware that produced it.

Example:
    >>> info = collect_provenance(suite_path=Path("suite.yaml"), suite_hash="ab12", seed=0,
    ...                           models={"mlp": "ff00"}, datasets={"digits": "0a0b"})
    >>> sorted(info)[:4]
    ['cpu', 'datasets', 'git', 'gpu']
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any

PACKAGES: tuple[str, ...] = (
    "numpy",
    "pandas",
    "torch",
    "scikit-learn",
    "ray",
    "prefect",
    "evidently",
    "sqlmodel",
    "pyarrow",
)
"""Distributions whose installed versions every run records (None when absent)."""

_GIT_TIMEOUT_S = 5.0


def collect_provenance(
    *,
    suite_path: Path,
    suite_hash: str,
    seed: int,
    models: dict[str, str],
    datasets: dict[str, str],
) -> dict[str, Any]:
    """A JSON-able description of the run's inputs, software and machine.

    Args:
        suite_path: The suite file; its git repository (if any) gives the commit.
        suite_hash: Fingerprint of the suite's normalised content.
        seed: The suite's random seed.
        models: Model name → checkpoint sha256.
        datasets: Dataset name → data sha256.

    Returns:
        Keys ``suite``, ``seed``, ``models``, ``datasets``, ``python``, ``packages``,
        ``git`` (``commit``, ``dirty``, ``root`` or None outside a repository),
        ``hostname``, ``platform``, ``cpu`` (``model``, ``count``), ``gpu``
        (``name``, ``count``, ``cuda`` or None) and ``timestamp`` (UTC ISO 8601).
    """
    return {
        "suite": {"path": str(Path(suite_path).absolute()), "hash": suite_hash},
        "seed": seed,
        "models": dict(models),
        "datasets": dict(datasets),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "packages": package_versions(),
        "git": git_revision(Path(suite_path)),
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpu": {"model": cpu_model(), "count": os.cpu_count()},
        "gpu": gpu_info(),
        "timestamp": datetime.now(UTC).isoformat(),
    }


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed versions from package metadata, without importing the packages."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_revision(path: Path) -> dict[str, Any] | None:
    """Commit, dirty flag and root of the git repository holding ``path``; None if there is none."""
    folder = path if path.is_dir() else path.absolute().parent
    if not folder.is_dir():
        return None
    try:
        root = _git(folder, "rev-parse", "--show-toplevel")
        commit = _git(folder, "rev-parse", "HEAD")
        changes = _git(folder, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None  # no git, not a repository, or a repository without commits
    return {"commit": commit, "dirty": bool(changes), "root": root}


def _git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(folder), *args],
        capture_output=True,
        text=True,
        timeout=_GIT_TIMEOUT_S,
        check=True,
    )
    return done.stdout.strip()


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), else what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_info() -> dict[str, Any] | None:
    """CUDA devices visible to torch, or None when torch is absent or sees no GPU."""
    if find_spec("torch") is None or ("torch" not in sys.modules and not _gpu_device_nodes()):
        return None
    import torch  # only here: importing torch is slow (seconds) and optional

    if not torch.cuda.is_available():
        return None
    count = torch.cuda.device_count()
    return {
        "count": count,
        "name": [torch.cuda.get_device_name(index) for index in range(count)],
        "cuda": torch.version.cuda,
    }


def _gpu_device_nodes() -> bool:
    """Whether this machine may have a GPU torch can see: off Linux always, on Linux when a GPU device node exists.

    Why: ``gpu_info`` runs on every run's start-up path, and importing torch costs
    seconds (2.7 s of CPU measured on the 2-core CI machine) only to learn there is
    no GPU. CUDA needs ``/dev/nvidia<N>``, ROCm ``/dev/kfd``, WSL's GPU ``/dev/dxg``;
    with none of them torch would answer "no GPU".
    """
    if not sys.platform.startswith("linux"):
        return True
    dev = Path("/dev")
    return any(dev.glob("nvidia[0-9]*")) or (dev / "kfd").exists() or (dev / "dxg").exists()
