"""The suite spec, settings, registry and errors shared by every Vigil package.

Nothing here imports Prefect, Ray, Evidently or SQL: it is plain typed Python.
"""
