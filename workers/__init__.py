"""Model loading and sharded batch inference on Ray (the only package that imports Ray).

- :mod:`workers.formats`: one module per model format, in the ``MODEL_FORMATS`` registry.
- :mod:`workers.checksum`: sha256 pins checked before anything is loaded.
- :mod:`workers.predictor`: :class:`Predictor`, a plain class that loads once and scores batches.
- :mod:`workers.cluster`: :func:`ensure_ray`, connect or start Ray once per process.
- :mod:`workers.reaper`: the watchdog that kills a local Ray's processes when the process that started it dies.
- :mod:`workers.pool`: :class:`InferencePool` and :func:`get_pool`, warm actors over object-store shards.
- :mod:`workers.summaries`: :func:`summarise_shards`, drift summaries of large frames on Ray tasks.

Ray is imported only by ``workers.cluster``, ``workers.pool`` and ``workers.summaries``, so the predictor and
formats can be used without it.
"""
