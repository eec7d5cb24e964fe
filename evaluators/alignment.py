"""Does the training proxy track what matters downstream?

Across model versions, a proxy (e.g. validation loss) should improve when the
downstream metric improves. This module measures that with the Spearman rank
correlation of the two, each oriented so that larger means better (so a
positive correlation always means "aligned"), and flags versions whose proxy
improved over the previous version while the downstream metric got worse.

Example:
    >>> import pandas as pd
    >>> records = pd.DataFrame({"version": ["v1", "v2", "v3"], "proxy": [0.9, 0.7, 0.6],
    ...                         "downstream": [0.80, 0.85, 0.83]})
    >>> result = proxy_alignment(records, proxy_higher_is_better=False, downstream_higher_is_better=True)
    >>> result.misaligned_versions
    ['v3']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class VersionRecord:
    """One model version's proxy and downstream values."""

    version: str
    proxy: float
    downstream: float


@dataclass(frozen=True)
class Alignment:
    """How well a proxy metric tracks a downstream metric across versions.

    Attributes:
        spearman: Rank correlation of oriented proxy vs oriented downstream (+1: perfectly aligned).
        p_value: scipy's two-sided p-value for no correlation (NaN below 3 versions).
        n: Number of versions.
        versions: One row per version in the given order: version, proxy, downstream,
            proxy_change and downstream_change (oriented, vs the previous version) and misaligned.
    """

    spearman: float
    p_value: float
    n: int
    versions: pd.DataFrame

    @property
    def misaligned_versions(self) -> list[str]:
        """Versions whose proxy improved while the downstream metric got worse."""
        return [str(v) for v in self.versions.loc[self.versions["misaligned"], "version"]]


def proxy_alignment(
    records: pd.DataFrame | Sequence[VersionRecord],
    *,
    proxy_higher_is_better: bool,
    downstream_higher_is_better: bool,
    tolerance: float = 0.0,
) -> Alignment:
    """Rank-correlate a proxy with a downstream metric and flag misaligned versions.

    Args:
        records: Versions in release order, as a frame with columns
            ``version, proxy, downstream`` or as :class:`VersionRecord`.
        proxy_higher_is_better: False for a loss.
        downstream_higher_is_better: The downstream metric's direction.
        tolerance: Changes no larger than this count as no change.

    Returns:
        The correlation and a per-version table with the misaligned flag.
    """
    if not isinstance(records, pd.DataFrame):
        records = pd.DataFrame([vars(r) for r in records], columns=["version", "proxy", "downstream"])
    frame = records[["version", "proxy", "downstream"]].reset_index(drop=True).copy()
    proxy_good = frame["proxy"].to_numpy(float) * (1 if proxy_higher_is_better else -1)
    down_good = frame["downstream"].to_numpy(float) * (1 if downstream_higher_is_better else -1)
    frame["proxy_change"] = np.concatenate([[np.nan], np.diff(proxy_good)])
    frame["downstream_change"] = np.concatenate([[np.nan], np.diff(down_good)])
    frame["misaligned"] = (frame["proxy_change"] > tolerance) & (frame["downstream_change"] < -tolerance)
    n = len(frame)
    if n >= 3 and np.ptp(proxy_good) > 0 and np.ptp(down_good) > 0:
        from scipy.stats import spearmanr  # imported on use: scipy.stats costs every start ~0.5 s of CPU (issue 18)

        result = spearmanr(proxy_good, down_good)
        rho, p = float(result.statistic), float(result.pvalue)
    else:
        rho, p = float("nan"), float("nan")
    return Alignment(spearman=rho, p_value=p, n=n, versions=frame)
