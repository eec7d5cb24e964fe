"""Counter-based randomness: every draw is a pure hash of (seed, sample id, stream, index).

A perturbation never holds a random generator. Each random number it needs is
``splitmix64`` applied to a key built from the suite seed, the row's sample id,
a stream name (one per purpose, e.g. ``"gaussian_noise/z"``) and an index (the
column, character or draw number). The same sample therefore perturbs the same
way on any worker, under any sharding, in any order, byte for byte; and the
whole computation is a handful of vectorised uint64 operations. (Hashes and
uniforms are exact integer/IEEE arithmetic and so identical everywhere; normals
go through ``log``/``cos``, which numpy may compute with different SIMD code on
different CPU instruction sets, so across unlike machines they can differ in the
last bit. Within one cluster image they are identical.)

Draws do not depend on the severity, so stronger severities reuse the same
numbers with larger parameters (a coupling that makes strength monotone).

Example:
    >>> import numpy as np
    >>> u = uniform(7, np.array([[3], [4]]), "demo", np.arange(2)[None, :])
    >>> u.shape, bool(((0 <= u) & (u < 1)).all())
    ((2, 2), True)
    >>> bool((uniform(7, np.array([[4]]), "demo", np.arange(2)[None, :]) == u[1]).all())
    True
"""

from __future__ import annotations

import hashlib

import numpy as np
from numpy.typing import ArrayLike, NDArray

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S32, _S11 = (np.uint64(s) for s in (30, 27, 31, 32, 11))
_LOW32 = np.uint64(0xFFFFFFFF)


def _splitmix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """The splitmix64 finaliser on a uint64 array (wrapping arithmetic), in place on a copy."""
    z = x + _GOLDEN
    z ^= z >> _S30
    z *= _MUL1
    z ^= z >> _S27
    z *= _MUL2
    z ^= z >> _S31
    return z


def _as_u64(values: ArrayLike) -> NDArray[np.uint64]:
    return np.asarray(values, dtype=np.int64).view(np.uint64)


def stream_key(seed: int, stream: str) -> np.uint64:
    """A 64-bit key for one (seed, stream) pair, stable across processes and Python versions."""
    digest = hashlib.blake2b(f"{seed}\x1f{stream}".encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def hash_u64(seed: int, sample_ids: ArrayLike, stream: str, index: ArrayLike) -> NDArray[np.uint64]:
    """Uniform 64-bit hashes of (seed, sample id, stream, index); ids and index broadcast together."""
    with np.errstate(over="ignore"):
        rows = _splitmix(_as_u64(sample_ids) ^ stream_key(seed, stream))
        return _splitmix(rows + _as_u64(index) * _MUL1)


def uniform(seed: int, sample_ids: ArrayLike, stream: str, index: ArrayLike) -> NDArray[np.float64]:
    """Uniform floats in [0, 1) with 53 random bits, one per broadcast (sample id, index)."""
    return (hash_u64(seed, sample_ids, stream, index) >> _S11).astype(np.float64) * (2.0**-53)


def normal(seed: int, sample_ids: ArrayLike, stream: str, index: ArrayLike) -> NDArray[np.float64]:
    """Standard normal floats by Box-Muller on the two 32-bit halves of one hash (little-endian view)."""
    halves = hash_u64(seed, sample_ids, stream, index)[..., None].view(np.uint32)
    radius = halves[..., 1] * 2.0**-32
    radius += 2.0**-33
    np.log(radius, out=radius)
    radius *= -2.0
    np.sqrt(radius, out=radius)
    angle = halves[..., 0] * (2.0 * np.pi * 2.0**-32)
    np.cos(angle, out=angle)
    radius *= angle
    return radius

def integers(
    seed: int, sample_ids: ArrayLike, stream: str, index: ArrayLike, low: int, high: int
) -> NDArray[np.int64]:
    """Integers in [low, high) (bias below 2**-40 for ranges under 2**13)."""
    if high <= low:
        raise ValueError(f"integers: expected high > low, got low={low}, high={high}")
    u = uniform(seed, sample_ids, stream, index)
    return np.minimum(low + np.floor(u * (high - low)).astype(np.int64), high - 1)


def cell_uniform(seed: int, sample_ids: ArrayLike, stream: str, columns: ArrayLike) -> NDArray[np.float64]:
    """A (rows, len(columns)) grid of uniforms: row ``i`` keyed by ``sample_ids[i]``, column by its index."""
    return uniform(seed, np.asarray(sample_ids)[:, None], stream, np.asarray(columns)[None, :])


def cell_normal(seed: int, sample_ids: ArrayLike, stream: str, columns: ArrayLike) -> NDArray[np.float64]:
    """A (rows, len(columns)) grid of standard normals keyed like :func:`cell_uniform`."""
    return normal(seed, np.asarray(sample_ids)[:, None], stream, np.asarray(columns)[None, :])


def ragged_uniform(seed: int, sample_ids: ArrayLike, stream: str, lengths: ArrayLike) -> list[NDArray[np.float64]]:
    """One uniform per position of each row's sequence (e.g. each character of a string).

    Row ``i`` gets ``lengths[i]`` draws keyed by ``(sample_ids[i], position)``, so a
    string's draws do not depend on the other strings in the batch.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    ids = np.repeat(np.asarray(sample_ids, dtype=np.int64), lengths)
    starts = np.cumsum(lengths) - lengths
    positions = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(starts, lengths)
    flat = uniform(seed, ids, stream, positions)
    return np.split(flat, np.cumsum(lengths)[:-1]) if len(lengths) else []
