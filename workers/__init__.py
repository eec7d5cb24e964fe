"""Model loading and sharded batch inference on Ray (the only package that imports Ray).

- :mod:`workers.formats`: one module per model format, in the ``MODEL_FORMATS`` registry.
- :mod:`workers.checksum`: sha256 pins checked before anything is loaded.
- :mod:`workers.predictor`: :class:`Predictor`, a plain class that loads once and scores batches.
- :mod:`workers.cluster`: :func:`ensure_ray`, connect or start Ray once per process.
- :mod:`workers.reaper`: the watchdog that kills a local Ray's processes when the process that started it dies.
- :mod:`workers.pool`: :class:`InferencePool`, warm actors scoring a call's shards (:mod:`workers.shards`:
  how a call is cut and its scores gathered; :mod:`workers.actor_host`: what runs in each actor).
- :mod:`workers.warm_pools`: :func:`get_pool`, one warm pool per model kept for the life of a process.
- :mod:`workers.summaries`: :func:`summarise_shards`, drift summaries of large frames on Ray tasks.

Ray is imported only by ``workers.cluster``, ``workers.placement``, ``workers.pool``, ``workers.actor_host``,
``workers.warm_pools`` and ``workers.summaries``, so the predictor and formats can be used without it.
"""
