"""A run's prediction files: staged while the run is in progress, then committed with its folder.

``runs/<run_id>/predictions/<dataset>/<model>/<variant>.parquet`` (names percent-encoded), first under
``staging/<run_id>/``; :class:`~storage.store.ResultStore` takes these methods from :class:`PredictionFiles`.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pandas as pd

from storage.parquet import path_segment, write_parquet_atomic
from suite.errors import VigilError


class PredictionFiles:
    """Writes, stages and reads prediction files; the class using it gives ``staging_dir`` and ``_run_dir``."""

    def staging_dir(self, run_id: str) -> Path:  # pragma: no cover - given by the store
        raise NotImplementedError

    def _run_dir(self, run_id: str) -> Path:  # pragma: no cover - given by the store
        raise NotImplementedError

    @staticmethod
    def _predictions_relpath(dataset: str, model: str, variant: str) -> Path:
        return (
            Path("predictions")
            / path_segment(dataset, "dataset")
            / path_segment(model, "model")
            / f"{path_segment(variant, 'variant')}.parquet"
        )

    def write_predictions(self, run_id: str, dataset: str, model: str, variant: str, frame: pd.DataFrame) -> str:
        """Write one (dataset, model, variant) predictions frame into the run's staging folder.

        Args:
            run_id: The run being evaluated.
            dataset: Dataset name.
            model: Model name.
            variant: ``clean`` or ``<perturbation>:<severity>``.
            frame: ``sample_id``, ``y_true``, ``y_pred`` and ``score_<k>`` columns.

        Returns:
            A ``file://`` URI of the staged file, valid until the run is committed;
            :meth:`read_predictions` finds the file before and after commit.
        """
        if "sample_id" not in frame.columns:
            raise VigilError(
                f"predictions for run {run_id!r} {dataset}/{model}/{variant}: expected a sample_id column, "
                f"got columns {list(frame.columns)}"
            )
        target = self.staging_dir(run_id) / self._predictions_relpath(dataset, model, variant)
        backup = write_parquet_atomic(frame, target)
        if backup is not None:
            backup.unlink()
        return target.as_uri()

    def stage_predictions_file(self, run_id: str, dataset: str, model: str, variant: str, source: Path) -> str:
        """Stage a predictions file as it is (a hard link, else a copy): what :meth:`write_predictions` does, without decoding it.

        Returns:
            A ``file://`` URI of the staged file, as :meth:`write_predictions` does.
        """
        import pyarrow.parquet as pq

        names = pq.ParquetFile(source).schema_arrow.names
        if "sample_id" not in names:
            raise VigilError(f"predictions for run {run_id!r} {dataset}/{model}/{variant}: expected a sample_id column, got columns {names}")
        target = self.staging_dir(run_id) / self._predictions_relpath(dataset, model, variant)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            os.link(source, temporary)
        except OSError:  # another filesystem, or links not allowed
            shutil.copyfile(source, temporary)
        os.replace(temporary, target)
        return target.as_uri()

    def predictions_sha256(self, run_id: str, dataset: str, model: str, variant: str) -> str:
        """:func:`storage.manifest.frame_sha256` of :meth:`read_predictions`' frame, streamed (never the whole frame in memory).

        Raises:
            VigilError: the run has no such predictions.
        """
        from storage.manifest import parquet_frame_sha256

        return parquet_frame_sha256(self._predictions_path(run_id, dataset, model, variant))

    def read_predictions(self, run_id: str, dataset: str, model: str, variant: str) -> pd.DataFrame:
        """The predictions frame of one (dataset, model, variant) of a run.

        A run still in progress (staged) is read first, so a run's own tasks see
        what they wrote; otherwise the committed run folder.

        Raises:
            VigilError: the run has no such predictions.
        """
        return pd.read_parquet(self._predictions_path(run_id, dataset, model, variant))

    def _predictions_path(self, run_id: str, dataset: str, model: str, variant: str) -> Path:
        """The staged predictions file of a run in progress, else the committed one's."""
        relpath = self._predictions_relpath(dataset, model, variant)
        for root in (self.staging_dir(run_id), self._run_dir(run_id)):
            if (root / relpath).is_file():
                return root / relpath
        raise VigilError(f"run {run_id!r}: expected predictions for {dataset}/{model}/{variant}, found none")
