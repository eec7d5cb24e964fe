"""Checks of the names a suite gives to registered things, installed by the registries' owners.

The suite vocabulary sits below the packages whose registries its names refer to
(those packages import the vocabulary), so it cannot look a name up itself. Each
owner installs a check when it builds its registry: :mod:`evaluators.perturbations`
for ``perturbations[].kind`` and a perturbation's columns, :mod:`drift.checks` for
``drift.methods``; :mod:`pipeline` imports both, so every stage that loads a suite
has them. A check raises ``ValueError`` with the one-line problem, and pydantic
reports it at the field's path. Where an owner was never imported, the name is
not checked here; its registry's did-you-mean still stops it where it is used.

Example:
    >>> install_name_check("example.colour", lambda name: None)
    >>> check_name("example.colour", "teal")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NameCheck = Callable[[Any], None]
"""Raises ``ValueError`` with a one-line message when the value names nothing registered."""

_CHECKS: dict[str, NameCheck] = {}


def install_name_check(field: str, check: NameCheck) -> None:
    """Check the suite's ``field`` (such as ``"drift.methods"``) with ``check`` from now on."""
    _CHECKS[field] = check


def check_name(field: str, value: Any) -> None:
    """Run the check installed for ``field``, if any."""
    check = _CHECKS.get(field)
    if check is not None:
        check(value)
