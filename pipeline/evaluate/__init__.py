"""The stages of one evaluation run: prepare → infer → score → drift → decide → analyse → report → persist.

Each stage is a plain function over a :class:`~pipeline.evaluate.plan.RunPlan`
and the settings; ``flows/`` wraps each in a Prefect task. ``prepare`` reads the
suite file and every dataset the run uses (the evaluation datasets and the drift
reference) once, verifying their checksums; the plan carries the parsed suite
(``plan.suite``) and the loaded data (``plan.data(name)``) to the later stages,
which never re-read a path.
"""
