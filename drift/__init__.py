"""Drift: of data against a reference, of model outputs and labels, and of metric histories.

Layout (only this package calls Evidently, and only through ``evidently_adapter``):

* ``results`` — ``DriftResult`` / ``DatasetDrift``; a score's kind fixes its threshold direction.
* ``checks/`` — one pure check per file in the ``DRIFT_CHECKS`` registry, matching Evidently 0.7.
* ``evidently_adapter`` — Evidently's ``DataDriftPreset`` with tests, adapted to those results.
* ``scale`` — mergeable per-shard summaries for windows too large for one process.
* ``windows`` — time windows and the long per-window × column table.
* ``metric_drift`` — band and CUSUM detectors on a metric's run history.
* ``performance_estimation`` — label-free accuracy / macro-F1 estimates from calibrated probabilities.
* ``calibration`` — the calibrator (Platt / isotonic) fitted on the labelled reference for those estimates.
* ``spec`` — the ``DriftSpec`` and ``MetricDriftSpec`` suite sections.
"""
