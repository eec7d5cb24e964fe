"""The stages of one evaluation run: prepare → infer → score → drift → decide → analyse → report → persist.

Each stage is a plain function over a :class:`~pipeline.evaluate.plan.RunPlan`
and the settings; ``flows/`` wraps each in a Prefect task.
"""
