"""The stages of each run kind, one room per kind.

- :mod:`pipeline.evaluate`: one evaluation of a suite's models on its datasets
  (plan → infer → score → drift → decide → analyse → report → persist).
- :mod:`pipeline.shadow`: replaying or mirroring production requests to a candidate.
- :mod:`pipeline.drift_watch`: drift over time windows of logged outputs.
- :mod:`pipeline.triggers`: what starts runs: model and upstream changes,
  manifests, backfills, and metric watch with its alerts.

Stages are plain functions over a plan and the settings; ``flows/`` wraps each
in a Prefect task and the CLI calls the flow.
"""

# Every stage loads the suite; importing the registries first installs the checks of the names
# the suite gives them (suite.name_checks), so a misspelt perturbation or drift method fails at load.
import drift.checks  # noqa: E402, F401
import evaluators.perturbations  # noqa: E402, F401
