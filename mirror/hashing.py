"""Replace sensitive values with salted sha256 digests before they are logged."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from typing import Any


def salted_digest(value: Any, salt: str) -> str:
    """``sha256:<hex>`` of the salt and the value's canonical JSON.

    Example:
        >>> d = salted_digest("alice", "s"); (d[:7], len(d), d == salted_digest("alice", "other"))
        ('sha256:', 71, False)
    """
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(salt.encode() + b"\x00" + text.encode()).hexdigest()


def hash_sensitive(obj: Any, fields: Collection[str], salt: str) -> Any:
    """A copy of ``obj`` where every value under a key named in ``fields`` (at any depth) is digested.

    Example:
        >>> hash_sensitive({"email": "a@b", "x": 1}, {"email"}, "s")["x"]
        1
    """
    if not fields:
        return obj
    if isinstance(obj, dict):
        return {k: salted_digest(v, salt) if k in fields else hash_sensitive(v, fields, salt) for k, v in obj.items()}
    if isinstance(obj, list):
        return [hash_sensitive(v, fields, salt) for v in obj]
    return obj
