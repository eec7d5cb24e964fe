"""The shadow request log's format, owned in one place: columns, types, version, statuses, and the checks of a row.

* :mod:`.format`: the columns and their types (the mirror's log, a quarantine file),
  the format's version, and the ``candidate_status`` values with what each means;
* :mod:`.decode`: one JSONL line to a JSON object or a quarantine reason, within limits;
* :mod:`.cells`: reading one cell (numbers, lists, timestamps, class keys) without raising;
* :mod:`.rows`: :class:`~.rows.LogSchema` (what a replayed row must carry) and
  :func:`~.rows.validate_row`, one row on its own;
* :mod:`.reader`: the rows of a log checked chunk by chunk (quarantine, duplicate ids,
  counts) and the validated log a report reads.

Why here: everything in this package is pure Python over values already in memory, so
the report (``evaluators/shadow/report.py``) can use it and ``evaluators/`` still never
imports ``storage/``. The bytes and the Parquet stay in ``storage/request_log.py`` and
``storage/log_writer.py``; ``pipeline/shadow/log.py`` joins the two (it reads chunks
from storage and checks them here), and ``mirror/`` writes rows named by :mod:`.format`.
``suite/`` was the other place a pure module could live, but it holds the suite's
specs, and this format is the shadow evaluation's own.
"""
