"""`vigil` commands for operating Vigil: serve, deploy, watch, watch-upstream, notify, backfill.

Prefect is imported only inside commands, after PREFECT_API_URL is settled, so
the rest of the CLI stays fast and ``serve`` can point Prefect at the server it
starts.
"""

from __future__ import annotations

import os
from pathlib import Path
from collections.abc import Callable
from typing import Annotated, Any, NoReturn

import typer

from suite.errors import VigilError

Suites = Annotated[list[str], typer.Argument(help="Suite YAML files to schedule and trigger.")]
Cron = Annotated[str | None, typer.Option(help="Nightly cron, overriding each suite's schedule.cron (default 0 2 * * *).")]
Tz = Annotated[str | None, typer.Option(help="Time zone of the cron, e.g. Europe/Paris (default the suite's, else UTC).")]
Slots = Annotated[int, typer.Option(min=1, help="Inference tasks allowed at once across all suites (tag limit vigil-cluster).")]

notify_app = typer.Typer(help="Emit Vigil events to the Prefect server (from CI pipelines).", no_args_is_help=True)


def _fail(message: str) -> NoReturn:
    from cli.common import fail

    fail(message)


def _notify(command: str, build: Callable[[str | None, str | None], Any], path: str | None, sha256: str | None,
            expected: dict[str, str]) -> None:
    """Build an update (sha256 from ``path`` when not given), emit its event, wait until the server has it."""
    from pydantic import ValidationError

    from flows.watch import emit_update, flush_events
    from storage.checksums import sha256_file

    try:
        if path and not sha256:
            sha256 = sha256_file(Path(path))
        update = build(str(Path(path).resolve()) if path else None, sha256)
    except ValidationError as exc:
        name = str(exc.errors()[0]["loc"][0])
        _fail(f"notify {command}: --{name.replace('_', '-')}: expected {expected.get(name, '64 hex digits')}, got {exc.errors()[0]['input']!r}")
    except OSError as exc:
        _fail(f"notify {command}: --path: cannot read {path} ({exc.strerror})")
    event_id = emit_update(update)
    flush_events()
    typer.echo(f"emitted {update.event()['event']} for {getattr(update, 'model', None) or update.module}@{update.version} (event {event_id})")


NAME = "letters, digits, '_', '.' or '-'"


@notify_app.command("model-updated")
def notify_model_updated(
    model: Annotated[str, typer.Option(help="Model name as in the suite.")],
    version: Annotated[str, typer.Option(help="The new version's label.")],
    path: Annotated[str | None, typer.Option(help="The new checkpoint file.")] = None,
    sha256: Annotated[str | None, typer.Option(help="Its sha256 (computed from --path when omitted).")] = None,
) -> None:
    """Emit vigil.model.updated (resource vigil.model.<model>) so on-model-change evaluates it."""
    from pipeline.triggers.derive import ModelUpdate

    _notify("model-updated", lambda p, sha: ModelUpdate(model=model, version=version, path=p, sha256=sha), path, sha256, {"model": NAME})


@notify_app.command("upstream-updated")
def notify_upstream_updated(
    module: Annotated[str, typer.Option(help="Upstream module name as in the suite's upstream: list.")],
    version: Annotated[str, typer.Option(help="The new version's label.")],
    path: Annotated[str | None, typer.Option(help="The new file (default: the suite's own file, changed in place).")] = None,
    field: Annotated[str | None, typer.Option(help="Which file changed: module (code) or data (default data for snapshots and retrievers, else module).")] = None,
    sha256: Annotated[str | None, typer.Option(help="Its sha256 (computed from --path when omitted).")] = None,
    previous_sha256: Annotated[str | None, typer.Option(help="sha256 of the version it replaces (default: the last one Vigil saw).")] = None,
) -> None:
    """Emit vigil.upstream.updated (resource vigil.upstream.<module>) so on-upstream-change re-validates and attributes it."""
    from pipeline.triggers.upstream_changes import UpstreamUpdate

    def build(p: str | None, sha: str | None) -> UpstreamUpdate:
        return UpstreamUpdate(module=module, version=version, field=field, path=p, sha256=sha, previous_sha256=previous_sha256)  # type: ignore[arg-type]

    _notify("upstream-updated", build, path, sha256, {"module": NAME, "field": "module or data"})


def serve(
    suites: Suites,
    port: Annotated[int, typer.Option(help="Port of the local Prefect server (UI and API).")] = 4200,
    host: Annotated[str, typer.Option(help="Interface the local server listens on.")] = "127.0.0.1",
    database_url: Annotated[str | None, typer.Option(help="Postgres URL for the Prefect server (default SQLite in $VIGIL_HOME/prefect).")] = None,
    api_url: Annotated[str | None, typer.Option(help="Use this running Prefect server instead of starting one (default $PREFECT_API_URL).")] = None,
    cron: Cron = None,
    timezone: Tz = None,
    cluster_slots: Annotated[int, typer.Option(min=1, help="Runs' inference tasks allowed at once across all suites (tag limit vigil-cluster); "
                                                          "serve's Ray gets the machine's CPUs × this many, so each sees the whole machine.")] = 2,
    artifacts_port: Annotated[int | None, typer.Option(help="Port serving run reports read-only over HTTP, for the verdict artifact's links (default: --port + 1, else any free one).")] = None,
) -> None:
    """Run a Prefect server, a Ray head, a runner and every suite's deployments on this machine, until Ctrl-C.

    Every flow run it starts, and every `vigil run` with the same VIGIL_HOME (and
    the same index, Prefect API and Ray, where those are set), joins its one Ray;
    such a `vigil run` is handed to a warm process that has already imported the
    run's code (VIGIL_NO_SERVE=1 runs it on its own).
    """
    from cli.forward import ServeInfo, serve_folder
    from cli.warm import RAY_JOIN_ENV, SpareKeeper
    from flows.server import PrefectServer
    from pipeline.cluster import serve_head
    from reports.serve import ARTIFACTS_URL_ENV, ArtifactServer
    from suite.settings import load_settings

    from cli.stop_signal import StopOnTerm

    # Until Prefect's runner installs its own handler, a SIGTERM still stops everything cleanly; one whose SystemExit a
    # finaliser swallowed is sent again (to whichever handler is installed by then)
    stop = StopOnTerm().install()
    settings = load_settings()
    folder = serve_folder(settings.home)
    api_url = api_url or os.environ.get("PREFECT_API_URL")
    server = None if api_url else PrefectServer(settings.home / "prefect", port=port, host=host, database_url=database_url)
    artifacts = ArtifactServer.bind(settings.runs_dir, host, artifacts_port or port + 1).start()  # the verdict's links open over HTTP
    os.environ[ARTIFACTS_URL_ENV] = artifacts.url
    head = serve_head(folder, cluster_slots)  # boots beside Prefect's server
    spares = None
    try:
        if server is not None:
            server.start()
            api_url = server.api_url
            typer.echo(f"Prefect UI: http://{host}:{port}")
        typer.echo(f"Run reports: {artifacts.url}/runs/<run-id>/report.html")
        os.environ["PREFECT_API_URL"] = str(api_url)
        os.environ.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", "5")
        head.wait_ready()
        os.environ.update({"VIGIL_RAY_ADDRESS": head.address, **head.env})  # flow runs and spares join this Ray
        typer.echo(f"Ray: {head.address} ({head.num_cpus} CPUs: {cluster_slots} runs at once, each with the whole machine)")
        spares = SpareKeeper(folder, ServeInfo(
            pid=os.getpid(), socket="", api_url=str(api_url), ray_address=head.address, index_url=settings.index_url)).start()
        from flows.deployments import ensure_cluster_limit, serve_deployments, suite_deployments

        ensure_cluster_limit(cluster_slots)
        deployments = [d for s in suites for d in suite_deployments(s, cron=cron, timezone=timezone)]
        serve_deployments(deployments, limit=int(os.environ.get("VIGIL_SERVE_LIMIT", "2")))
    except VigilError as exc:
        _fail(str(exc))
    finally:
        stop.cleaning()
        if spares is not None:
            spares.stop()
        for name in RAY_JOIN_ENV:
            os.environ.pop(name, None)
        head.stop()
        artifacts.stop()
        if server is not None:
            server.stop()


def deploy(
    suites: Suites,
    work_pool: Annotated[str, typer.Option(help="Process work pool to deploy to (created when missing).")] = "vigil",
    cron: Cron = None,
    timezone: Tz = None,
    cluster_slots: Slots = 2,
) -> None:
    """Register every suite's deployments on the Prefect server at $PREFECT_API_URL; run `prefect worker start --pool vigil` to execute them."""
    if not os.environ.get("PREFECT_API_URL"):
        _fail("deploy: expected PREFECT_API_URL to name the Prefect server, got nothing (or use `vigil serve`)")
    from flows.deployments import deploy_deployments, ensure_cluster_limit, ensure_work_pool, suite_deployments

    env = {k: v for k, v in os.environ.items() if k.startswith("VIGIL_")}
    try:
        ensure_work_pool(work_pool)
        ensure_cluster_limit(cluster_slots)
        deployments = [d for s in suites for d in suite_deployments(s, cron=cron, timezone=timezone, work_pool=work_pool, env=env)]
    except VigilError as exc:
        _fail(str(exc))
    ids = deploy_deployments(deployments, work_pool)
    for d, i in zip(deployments, ids, strict=True):
        typer.echo(f"deployed {d.flow_name}/{d.name} ({i})")


def _poll(step: Callable[[], list[str]], interval: float, once: bool) -> None:
    """Run ``step`` (one poll, returning a line per event emitted) until stopped, or once; events reach the server each time."""
    import time

    from flows.watch import flush_events

    try:
        while True:
            for line in step():
                typer.echo(line)
            flush_events()
            if once:
                return
            time.sleep(interval)
    except VigilError as exc:
        _fail(str(exc))


def watch(
    directory: Annotated[str, typer.Argument(help="Checkpoint folder (<model>.pt files, or <model>/<version>.pt), or a registry manifest (YAML/JSON: models: [{name, version, path, sha256}]).")],
    interval: Annotated[float, typer.Option(help="Seconds between polls.")] = 10.0,
    once: Annotated[bool, typer.Option("--once", help="Emit for every checkpoint present now, then exit.")] = False,
) -> None:
    """Emit vigil.model.updated whenever a checkpoint in DIRECTORY (or an entry of a registry manifest) is added or changed."""
    from flows.watch import scan, watch_once

    source = Path(directory)
    try:
        state = {"seen": {} if once else scan(source)}
    except VigilError as exc:
        _fail(str(exc))

    def step() -> list[str]:
        state["seen"], updates = watch_once(source, state["seen"])
        return [f"{u.model}@{u.version}: vigil.model.updated" for u in updates]

    _poll(step, interval, once)


def watch_upstream(
    suite: Annotated[str, typer.Argument(help="Suite YAML whose upstream modules' code and data files to watch.")],
    interval: Annotated[float, typer.Option(help="Seconds between polls.")] = 10.0,
    once: Annotated[bool, typer.Option("--once", help="Poll once, then exit (first sight of a file only records it).")] = False,
) -> None:
    """Emit vigil.upstream.updated whenever an upstream module's file changes (even in place: each version is archived)."""
    from flows.watch import watch_upstream_once
    from storage.archive import ModuleArchive
    from suite.load import load_suite
    from suite.settings import load_settings

    try:
        spec = load_suite(suite)
    except VigilError as exc:
        _fail(str(exc))
    if not spec.upstream:
        _fail(f"watch-upstream: suite {suite}: upstream: expected at least one module, got none")
    archive = ModuleArchive(load_settings().home / "upstream")

    def step() -> list[str]:
        return [f"{u.module} {u.field} {(u.previous_sha256 or '?')[:12]} → {(u.sha256 or '?')[:12]}: vigil.upstream.updated"
                for u in watch_upstream_once(spec, archive)]

    _poll(step, interval, once)


def backfill(
    suite_arg: Annotated[str | None, typer.Argument(metavar="SUITE", help="Deprecated: the suite as a positional argument; use --suite.", show_default=False)] = None,
    suite: Annotated[str | None, typer.Option("--suite", help="Suite YAML file, or the name of a suite with stored runs.")] = None,
    version: Annotated[list[str] | None, typer.Option(metavar="MODEL:VERSION:PATH", help="A past version (repeatable).")] = None,
    dataset: Annotated[str | None, typer.Option(help="Dataset to cut into time windows (needs its timestamp column).")] = None,
    freq: Annotated[str | None, typer.Option(help="Window length as a pandas period: D, W, M, Q.")] = None,
    metric: Annotated[str | None, typer.Option(help="Metric of the aging curve (default the suite's primary).")] = None,
) -> None:
    """Re-run a suite over past model versions and/or time windows; finished pieces are skipped."""
    from cli.common import suite_file
    from cli.render import err

    if suite_arg is not None and suite is not None:
        _fail(f"backfill: expected the suite once, got --suite {suite!r} and the positional {suite_arg!r}")
    if suite_arg is not None:
        err.print("[yellow]warning:[/] `vigil backfill SUITE` is deprecated: use `vigil backfill --suite SUITE`", highlight=False)
    if suite_arg is None and suite is None:
        _fail("backfill: expected --suite (a suite YAML file or a stored suite's name), got none")
    suite = suite_file(suite or suite_arg)
    from flows.backfill import backfill as backfill_flow

    versions = []
    for item in version or []:
        parts = item.split(":", 2)
        if len(parts) != 3:
            _fail(f"--version: expected MODEL:VERSION:PATH, got {item!r}")
        versions.append({"model": parts[0], "version": parts[1], "path": str(Path(parts[2]).resolve())})
    try:
        out = backfill_flow(suite_path=suite, versions=versions, dataset=dataset, freq=freq, metric=metric)
    except VigilError as exc:
        _fail(str(exc))
    typer.echo(f"{len(out['ran'])} pieces run, {len(out['skipped'])} already recorded")
    for row in out["curve"]:
        typer.echo(f"  {row['model']:<12} {row['version']:<12} {row['window']:<12} {row['metric']} {row['value']:.4f} [{row['ci_low']:.4f}, {row['ci_high']:.4f}]")


def register(app: typer.Typer) -> None:
    """Add this module's commands to app."""
    for command in (serve, deploy, watch, backfill):
        app.command()(command)
    app.command("watch-upstream")(watch_upstream)
    app.add_typer(notify_app, name="notify")
