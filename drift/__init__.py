"""Drift: of data against a reference, of model outputs and labels, and of metric histories.

Layout (only this package calls Evidently, and only through ``evidently_adapter``; and ruptures, in ``change_points``):

* ``results`` — ``DriftResult`` / ``DatasetDrift``; a score's kind fixes its threshold direction.
* ``checks/`` — one pure check per file in the ``DRIFT_CHECKS`` registry (Evidently 0.7's, a two-sample
  chi-square, and the multivariate ``mmd``); each scores series and merged summaries.
* ``policy`` — the default verdict: a test per column, corrected across its group, with an effect floor.
* ``summary`` — the mergeable column summary and what checks read from it.
* ``evidently_adapter`` — Evidently's ``DataDriftPreset`` with tests, adapted to those results.
* ``scale`` — mergeable per-shard summaries for windows too large for one process.
* ``windows`` — time windows and the long per-window × column table.
* ``metric_drift`` — incidents of a metric series against its fixed reference (CUSUM on CI-scaled residuals).
* ``change_points`` — offline segmentation of a metric's history with ``ruptures`` (the history view).
* ``performance_estimation`` — label-free accuracy / macro-F1 estimates from calibrated probabilities.
* ``calibration`` — the calibrator (Platt / isotonic) fitted on the labelled reference for those estimates.
* ``spec`` — the ``DriftSpec`` and ``MetricDriftSpec`` suite sections.
"""
