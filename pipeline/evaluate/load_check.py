"""``vigil validate``'s load check: load every model as ``vigil run``'s workers would, in this process.

It reuses the formats' own load functions through :class:`~workers.predictor.Predictor`,
so it refuses exactly what a run refuses: a skops file with types outside
scikit-learn/numpy (listed by ``skops.io.get_untrusted_types``), a torch checkpoint
``torch.load(weights_only=True)`` rejects, a TorchScript file that does not load,
a state dict that does not fit its class, a ``module:`` that does not import.
Loading imports the models' ``module:`` files, so it runs their code here, with
the user's privileges, exactly as the workers will.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.evaluate.plan import RunPlan
from suite.errors import VigilError
from suite.spec import SuiteSpec
from workers.formats.base import first_line
from workers.predictor import Predictor


@dataclass(frozen=True)
class LoadedCheck:
    """One model that loaded: its name, format and where it would compute."""

    model: str
    format: str
    device: str


def load_models(suite: SuiteSpec, plan: RunPlan) -> list[LoadedCheck]:
    """Load each of the suite's models once, as a run's workers would.

    Raises:
        VigilError: a model cannot be loaded; names the suite file, the model and why.
    """
    num_classes = len(plan.classes) if plan.classes else None
    loaded = []
    for i, spec in enumerate(suite.models):
        where = f"suite {suite.source}: models[{i}] ({spec.name})"
        try:
            predictor = Predictor(spec, suite.base_dir, task=suite.task, num_classes=num_classes)
        except VigilError as exc:
            raise VigilError(f"{where}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - the user's module may raise anything on import or build
            raise VigilError(f"{where}: cannot load ({spec.format}): {type(exc).__name__}: {first_line(exc)}") from None
        loaded.append(LoadedCheck(spec.name, spec.format, predictor.device))
    return loaded
