"""One contender in the concurrency tests: claim a run id, stage a run, commit it.

``python -m tests.reliability.commit_worker HOME INDEX_URL RUN_ID READY_FILE GO_FILE HOLD_S``:
writes READY_FILE, waits for GO_FILE (so all contenders start together), takes
the run id's lock, sweeps stale staging as a run start does, stages a run,
holds for HOLD_S (so the others arrive while it runs), commits. Prints its pid
on success; a VigilError goes to stderr with exit 2, as the CLI does.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from storage.run_lock import CLAIM_MARKER, run_lock, sweep_staging
from storage.store import ResultStore
from suite.errors import VigilError
from suite.settings import Settings
from tests.reliability.crash_kit import stage_run


def main(home: str, index_url: str, run_id: str, ready: str, go: str, hold_s: str) -> int:
    settings = Settings(home=Path(home), index_url=index_url, ray_address=None)
    store = ResultStore(settings)
    Path(ready).write_text(str(os.getpid()))
    while not Path(go).exists():
        time.sleep(0.01)
    try:
        with run_lock(settings, run_id):
            sweep_staging(settings)
            run, results = stage_run(store, run_id)
            (store.staging_dir(run_id) / CLAIM_MARKER).write_text(str(os.getpid()))
            time.sleep(float(hold_s))
            (store.staging_dir(run_id) / CLAIM_MARKER).unlink()
            store.commit_run(run, results)
    except VigilError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        store.close()
    print(os.getpid())
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
