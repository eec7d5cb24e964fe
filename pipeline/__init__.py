"""The stages of one evaluation run: prepare → infer → score → decide → persist.

Each stage is a plain function over a :class:`~pipeline.plan.RunPlan` and the
settings; flows/ wraps each in a Prefect task and the CLI calls the flow. Stages
pass run ids and URIs, never data frames.
"""
