"""The `finagency` command line.

Heavy imports happen inside the commands: `worker` and `serve --workers N` must set
PROMETHEUS_MULTIPROC_DIR before prometheus_client is first imported.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from finagency.accounts.permissions import Role
from finagency.settings import ConfigurationError, Settings, load_settings

app = typer.Typer(
    name="finagency",
    help="AI Finance Agency: ingest market data, write compliant posts, publish them once.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
market_app = typer.Typer(help="Market data: backfill history.", no_args_is_help=True)
app.add_typer(market_app, name="market")
publishing_app = typer.Typer(
    help="Publishing: the kill switch for all sending.", no_args_is_help=True
)
app.add_typer(publishing_app, name="publishing")
console = Console()
errors = Console(stderr=True)

USAGE_ERROR = 2
# An idle connection is kept longer than nginx keeps its idle upstream connections (60 s).
KEEP_ALIVE_SECONDS = 75


def fail(message: str, code: int = USAGE_ERROR) -> NoReturn:
    errors.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def settings_or_exit() -> Settings:
    """Load the configuration, or exit 2 naming each bad variable (never a traceback)."""
    try:
        return load_settings()
    except ConfigurationError as error:
        for problem in error.problems:
            errors.print(f"[bold red]configuration error:[/] {problem}", highlight=False)
        raise typer.Exit(USAGE_ERROR) from None


def _fresh_multiproc_dir(path: Path) -> None:
    # Files left by an earlier run would be added to this run's counters.
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="API processes.")] = 1,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
) -> None:
    """Serve the API and dashboard (and, in embedded mode, the in-process worker)."""
    settings = settings_or_exit()
    if reload and workers > 1:
        fail("--reload and --workers > 1 cannot be combined")
    if workers > 1 and settings.embedded:
        fail(
            "--workers > 1 needs FINAGENCY_REDIS_URL: in embedded mode the worker runs inside "
            "the single API process"
        )
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        _fresh_multiproc_dir(settings.data_dir / "metrics" / f"api-{port}")

    import uvicorn

    console.print(f"Serving the AI Finance Agency on http://{host}:{port}", highlight=False)
    uvicorn.run(
        "finagency.app:create_served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        access_log=False,
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips=",".join(settings.trusted_proxies),
        timeout_graceful_shutdown=20,
        # Longer than nginx keeps an idle upstream connection (60 s): with uvicorn's 5 s, nginx
        # could reuse a connection the app was closing, and a POST got a 502.
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def worker(
    ctx: typer.Context,
    queues: Annotated[
        str, typer.Option("--queues", "-Q", help="Comma-separated queues to consume.")
    ] = "",
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 2,
    metrics_port: Annotated[
        int | None, typer.Option(help="Port for this worker's /metrics (0 = none).")
    ] = None,
) -> None:
    """Run a Celery worker (needs FINAGENCY_REDIS_URL). Extra options go to Celery."""
    settings = settings_or_exit()
    if settings.embedded:
        fail("the worker needs FINAGENCY_REDIS_URL; in embedded mode `serve` runs the tasks")
    port = settings.worker_metrics_port if metrics_port is None else metrics_port
    if port:
        # Tasks run in forked children: they write samples to files the parent serves.
        # (Set before the first import of prometheus_client, which reads it once.)
        _fresh_multiproc_dir(settings.data_dir / "metrics" / f"worker-{port}")

    from finagency.tasks import Queue

    chosen = [name.strip() for name in queues.split(",") if name.strip()] or [
        q.value for q in Queue
    ]
    unknown = sorted(set(chosen) - {q.value for q in Queue})
    if unknown:
        fail(f"unknown queue(s) {', '.join(unknown)}; known: {', '.join(q.value for q in Queue)}")
    if port:
        from prometheus_client import CollectorRegistry, multiprocess, start_http_server

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        start_http_server(port, registry=registry)

    from finagency.tasks import celery_app

    argv = [
        "worker",
        f"--queues={','.join(chosen)}",
        f"--concurrency={concurrency}",
        "--loglevel",
        settings.log_level,
        *ctx.args,
    ]
    celery_app.worker_main(argv)


@app.command()
def beat() -> None:
    """Run Celery beat: the periodic schedule of `finagency.schedule` (needs Redis)."""
    settings = settings_or_exit()
    if settings.embedded:
        fail("beat needs FINAGENCY_REDIS_URL; in embedded mode `serve` runs the schedule")
    from finagency.tasks import celery_app

    schedule_file = settings.data_dir / "celerybeat-schedule"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    celery_app.start(["beat", "--loglevel", settings.log_level, f"--schedule={schedule_file}"])


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Bring the database schema up to date (safe to run on every start)."""
    settings = settings_or_exit()
    from alembic.util.exc import CommandError

    from finagency import migrate as migrations
    from finagency.observability.logging import configure_logging

    configure_logging(settings)
    try:
        migrations.upgrade(revision)
    except CommandError as error:
        fail(str(error))
    except Exception as error:  # unreachable database and the like: say what, not a traceback
        fail(f"migration failed: {type(error).__name__}: {error}", code=1)
    console.print(f"Database at {revision}: {_masked_url(settings)}", highlight=False)


def _masked_url(settings: Settings) -> str:
    return (
        settings.sync_database_url.render_as_string(hide_password=True)
        .replace("+pysqlite", "")
        .replace("+psycopg", "")
    )


def _configuration_rows(settings: Settings) -> list[tuple[str, str]]:
    from finagency.settings import env_name

    rows = []
    for name, value in settings.model_dump().items():
        if isinstance(value, SecretStr) or name in {"secret_key", "smtp_password"}:
            shown = "****** (set)" if value else "(not set)"
        elif name == "database_url":
            shown = _masked_url(settings)
        elif name == "redis_url" and value:
            from sqlalchemy.engine import make_url

            shown = make_url(value).render_as_string(hide_password=True)
        elif isinstance(value, list):
            shown = ",".join(str(part) for part in value)
        elif value is None:
            shown = "(not set)"
        else:
            shown = str(value)
        rows.append((env_name(name), shown))
    return rows


@app.command()
def check() -> None:
    """Print the effective configuration (secrets masked) and test each configured service."""
    settings = settings_or_exit()
    from finagency.db import Database
    from finagency.system.service import check_dependencies

    table = Table(title="Configuration", show_lines=False)
    table.add_column("variable")
    table.add_column("value")
    for name, shown in _configuration_rows(settings):
        table.add_row(name, shown)
    table.add_row("(mode)", "embedded" if settings.embedded else "full stack (Celery on Redis)")
    console.print(table)

    database = Database(settings)

    async def run_checks() -> dict[str, str]:
        try:
            return await check_dependencies(database, settings, timeout=5)
        finally:
            await database.dispose()

    results = asyncio.run(run_checks())
    for name, result in results.items():
        mark = "[green]ok[/]" if result == "ok" else f"[red]{result}[/]"
        console.print(f"{name}: {mark}", highlight=False)
    if any(result != "ok" for result in results.values()):
        raise typer.Exit(1)


@app.command("create-user")
def create_user(
    email: Annotated[str, typer.Option(help="The user's e-mail address (their login).")],
    role: Annotated[Role, typer.Option(help="admin, editor, analyst or viewer.")],
    display_name: Annotated[
        str | None, typer.Option(help="Name shown in the dashboard (default: from the e-mail).")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from one line of stdin.")
    ] = False,
) -> None:
    """Create a user, e.g. the first admin. Prompts twice for the password on a terminal."""
    settings = settings_or_exit()
    from pydantic import TypeAdapter, ValidationError

    from finagency.accounts.schemas import Email

    try:
        address = TypeAdapter(Email).validate_python(email)
    except ValidationError:
        fail(f"--email: {email!r} is not an e-mail address")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        fail("no terminal to ask for the password on; pipe it with --password-stdin")
    name = display_name or address.partition("@")[0]
    created = asyncio.run(_create_user(settings, address, name, role, password))
    console.print(f"Created {role.value} {address} (id {created})", highlight=False)


async def _create_user(
    settings: Settings, email: str, display_name: str, role: Role, password: str
) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from finagency.accounts import users
    from finagency.accounts.audit import Actor
    from finagency.db import Database
    from finagency.errors import FinagencyError

    database = Database(settings)
    try:
        async with database.session() as session:
            user = await users.create(
                session, settings, Actor(), email, display_name, role, password
            )
            return user.id
    except FinagencyError as error:
        fail(error.message)
    except SQLAlchemyError as error:
        fail(f"the database is not reachable or not migrated: {type(error).__name__}", code=1)
    finally:
        await database.dispose()


@market_app.command("backfill")
def market_backfill(
    days: Annotated[int, typer.Option(min=1, max=3660, help="How many days back.")] = 365,
    symbol: Annotated[
        list[str] | None, typer.Option("--symbol", help="Only these symbols (repeatable).")
    ] = None,
) -> None:
    """Store daily bars for the last N days of every instrument (safe to run again)."""
    settings = settings_or_exit()
    from rich.progress import Progress
    from sqlalchemy.exc import SQLAlchemyError

    from finagency.db import Database
    from finagency.market import service
    from finagency.market.models import Instrument
    from finagency.observability.logging import configure_logging

    configure_logging(settings.model_copy(update={"log_level": "WARNING"}))
    database = Database(settings)
    try:
        with database.sync_session() as session:
            from sqlalchemy import func, select

            query = select(func.count()).select_from(Instrument)
            if symbol:
                query = query.where(Instrument.symbol.in_(symbol))
            total = int(session.scalar(query) or 0)
            if symbol and total != len(set(symbol)):
                fail("unknown symbol among --symbol; see GET /api/v1/market/instruments")
            with Progress(console=console) as progress:
                task = progress.add_task("Backfilling", total=total)

                def advance(name: str, count: int) -> None:
                    progress.update(task, advance=1, description=f"{name}: {count} bars")

                stored = service.backfill(session, settings, days, advance, symbol or None)
    except SQLAlchemyError as error:
        fail(f"the database is not reachable or not migrated: {type(error).__name__}", code=1)
    finally:
        database.sync_engine.dispose()
    console.print(
        f"Stored {sum(stored.values())} daily bars for {len(stored)} instruments.", highlight=False
    )


def _switch_publishing(pause: bool, reason: str | None) -> None:
    settings = settings_or_exit()
    from sqlalchemy.exc import SQLAlchemyError

    from finagency.accounts import audit
    from finagency.db import Database
    from finagency.publishing import state

    database = Database(settings)
    try:
        with database.sync_session() as session:
            state.set_paused_sync(session, pause, reason)
            action = "publishing_paused" if pause else "publishing_resumed"
            audit.record(session, action, audit.Actor(email="cli"), reason=reason)
    except SQLAlchemyError as error:
        fail(f"the database is not reachable or not migrated: {type(error).__name__}", code=1)
    finally:
        database.sync_engine.dispose()
    if pause:
        console.print("Publishing is paused: nothing is sent until `finagency publishing resume`.")
    else:
        console.print("Publishing resumed: due publications go out within seconds.")


@publishing_app.command("pause")
def publishing_pause(
    reason: Annotated[str | None, typer.Option(help="Why, for the audit log.")] = None,
) -> None:
    """Stop all sending at once, on every worker (scheduled posts wait; none is lost)."""
    _switch_publishing(True, reason)


@publishing_app.command("resume")
def publishing_resume() -> None:
    """Start sending again."""
    _switch_publishing(False, None)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
