"""`vigil shadow …`: compare a candidate with production on real traffic (registered by :func:`register`).

* ``vigil shadow replay`` runs the ``shadow-replay`` flow over a request log and
  records the comparison as a run of the suite.
* ``vigil shadow mirror`` serves a reverse proxy in front of production that
  answers with production and shadows every POST to the suite's candidate,
  loaded in this process. Request bodies the candidate understands are JSON
  ``{"features": {"<name>": value, …}}`` (the suite's feature names) or
  ``{"features": [v0, v1, …]}`` (in the suite's feature order); only the
  object form can be replayed later from the mirror's log.
"""

from __future__ import annotations

import os
import signal
from typing import Annotated, Any

import typer

shadow_app = typer.Typer(name="shadow", help="Shadow traffic: replay request logs, or mirror live traffic to a candidate.", no_args_is_help=True)


@shadow_app.command()
def replay(
    log: Annotated[str, typer.Option("--log", help="Request log: .jsonl, .parquet, or a mirror's folder of Parquet parts.")],
    suite: Annotated[str, typer.Option("--suite", help="Suite YAML file (or a stored suite's name); its (first) candidate model is replayed.")],
    labels: Annotated[str | None, typer.Option("--labels", help="Labels file (request_id, label): adds both models' accuracy and a paired comparison.")] = None,
    window: Annotated[str | None, typer.Option("--window", help="Also store results per 'hour' or 'day' (variant shadow@hour / shadow@day).")] = None,
    run_id: Annotated[str | None, typer.Option(help="Run id (re-using one replaces that run).")] = None,
    batch_rows: Annotated[int, typer.Option(help="Rows per candidate call; each row's latency is its batch's wall time.")] = 1,
    from_mirror: Annotated[bool, typer.Option("--from-mirror", help="Use the candidate answers and latencies `vigil shadow mirror` logged (no re-scoring); rows it did not answer are quarantined.")] = False,
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster address host:port (default: $VIGIL_RAY_ADDRESS, else a local Ray).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's logs, and on an error its traceback.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout and nothing else.")] = False,
) -> None:
    """Replay a request log through the suite's candidate and compare it with production's logged answers."""
    from cli.boundary import set_verbose
    from cli.common import emit_json, fail, quiet_prefect, run_id_option, suite_file
    from cli.show import show_document
    from cli.render import err, progress_reporter
    from pipeline.progress import reporting
    from suite.errors import VigilError

    quiet_prefect(verbose)
    set_verbose(verbose)
    run_id = run_id_option(run_id)
    suite = suite_file(suite)
    if window not in (None, "hour", "day"):
        fail(f"--window: expected hour or day, got {window!r}")
    try:
        from flows.server import start_ephemeral_server
        from flows.shadow import shadow_replay

        err.print(f"[dim]replaying {log} through {suite} …[/]")
        start_ephemeral_server()  # as `vigil run`: waits up to 90 s on a busy machine (Prefect's own start gives up at 20) and dies with us
        with progress_reporter() as progress, reporting(progress):
            outcome = shadow_replay(suite_path=suite, log_path=log, labels_path=labels, window=window, run_id=run_id,
                                    ray_address=ray_address, batch_rows=batch_rows, from_mirror=from_mirror)
    except VigilError as exc:
        fail(str(exc))
    if as_json:
        emit_json(show_document(str(outcome["run_id"])))
        return
    _print_replay(outcome)


def _print_replay(outcome: dict[str, Any]) -> None:
    from cli.render import frame_table, out, with_units
    from storage.store import ResultStore
    from suite.settings import load_settings

    results = ResultStore(load_settings()).run_results(str(outcome["run_id"]))
    overall = results[(results["variant"] == "shadow") & (results["slice"] == "all")]
    out.print(
        f"\n[bold]run[/] {outcome['run_id']}  [bold]agreement[/] {outcome['agreement_rate']:.4f}  [bold]flip rate[/] {outcome['flip_rate']:.4f}"
        f"  [dim]rows in {outcome['rows_in']} = scored {outcome['rows_scored']} + quarantined {outcome['rows_quarantined']}[/]"
    )
    table = with_units(overall[["metric", "value", "ci_low", "ci_high", "n"]].reset_index(drop=True))
    out.print(frame_table(table, title="Candidate vs production"))


@shadow_app.command()
def mirror(
    production: Annotated[str, typer.Option("--production", help="Production's base URL, e.g. http://127.0.0.1:8000.")],
    suite: Annotated[str, typer.Option("--suite", help="Suite YAML file (or a stored suite's name) holding the candidate model.")],
    candidate: Annotated[str | None, typer.Option("--candidate", help="Model name in the suite (default: its first candidate).")] = None,
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT to serve on.")] = "127.0.0.1:8787",
    log_dir: Annotated[str | None, typer.Option("--log-dir", help="Folder for the request log (default: $VIGIL_HOME/shadow/<suite>).")] = None,
    sensitive: Annotated[list[str] | None, typer.Option("--sensitive", help="A feature to log only as a salted sha256 (salt from $VIGIL_MIRROR_SALT); repeatable.")] = None,
    timeout_s: Annotated[float, typer.Option(help="Seconds the candidate may take before a shadow copy is dropped.")] = 1.0,
    threads: Annotated[int, typer.Option(help="Candidate threads (shadow copies scored at once); more copies wait in the queue.")] = 2,
) -> None:
    """Proxy to production, answer with production, and shadow each POST to the candidate (run in this process)."""
    from cli.common import fail, suite_file
    from cli.render import err
    from suite.errors import VigilError

    suite = suite_file(suite)
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        fail(f"--listen: expected HOST:PORT, got {listen!r}")
    salt = os.environ.get("VIGIL_MIRROR_SALT") or None
    if sensitive and not salt:
        fail("--sensitive: expected a per-deployment salt in $VIGIL_MIRROR_SALT, got none")
    try:
        from mirror import MirrorConfig, run_mirror
        from mirror.candidate import ThreadCandidate
        from pipeline.shadow.online import load_online_candidate
        from suite.load import load_suite
        from suite.settings import load_settings

        spec = load_suite(suite)
        predict = load_online_candidate(spec, candidate)
        directory = log_dir or str(load_settings().home / "shadow" / spec.name)
        config = MirrorConfig(
            production_url=production, log_dir=directory, host=host, port=int(port),
            sensitive_fields=tuple(sensitive or ()), salt=salt, candidate_timeout_s=timeout_s,
            candidate_concurrency=threads,
        )
    except VigilError as exc:
        fail(str(exc))
    except ValueError as exc:  # pydantic's validation of the flags
        fail(f"vigil shadow mirror: {str(exc).splitlines()[-1].strip()}")
    err.print(f"[dim]mirror on http://{host}:{port} → {production}; shadowing to {predict.name}; log in {directory}[/]")
    # uvicorn drains and flushes on SIGTERM, then re-raises it to the handler it found: make that a clean exit 0
    signal.signal(signal.SIGTERM, _exit_cleanly)
    run_mirror(config, ThreadCandidate(predict, max_in_flight=threads))


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def register(app: typer.Typer) -> None:
    """Add ``vigil shadow replay`` and ``vigil shadow mirror`` to app."""
    app.add_typer(shadow_app, name="shadow")
