"""The `maskline` command: serve, migrate, and manage accounts and API keys."""

from __future__ import annotations

import logging
import sys
import tempfile
from typing import Any

import click

from maskline.settings import Settings, SettingsError, describe


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings.from_env(**overrides)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


def _runtime(settings: Settings) -> Any:
    from maskline.runtime import Runtime

    return Runtime(settings)


@click.group(invoke_without_command=True)
@click.pass_context
def main(ctx: click.Context) -> None:
    """Maskline: a self-hosted number-masking server that speaks the Twilio Proxy v1 API."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@main.command()
@click.option("--host", default=None, help="Address to listen on (MASKLINE_HOST).")
@click.option("--port", type=int, default=None, help="Port to listen on (MASKLINE_PORT).")
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    help="API processes to run; each also runs a worker unless MASKLINE_RUN_WORKER=0.",
)
@click.option("--database-url", default=None, help="Database URL (MASKLINE_DATABASE_URL).")
@click.option("--public-url", default=None, help="Public base URL (MASKLINE_PUBLIC_URL).")
def serve(
    host: str | None,
    port: int | None,
    workers: int,
    database_url: str | None,
    public_url: str | None,
) -> None:
    """Serve the API (the default command).

    On SQLite the schema is migrated first. On PostgreSQL an empty database gets the whole
    schema; one that holds tables and is behind is refused until `maskline migrate` has run.
    """
    import os

    import uvicorn

    from maskline.app import create_app
    from maskline.bootstrap import prepare
    from maskline.db.engine import is_sqlite
    from maskline.db.sqlite_library import skip_memory_statistics
    from maskline.logs import configure as configure_logging
    from maskline.metrics.directory import shared as shared_metrics

    if workers < 1:
        raise click.BadParameter("must be at least 1", param_hint="--workers")
    overrides = {"host": host, "port": port, "database_url": database_url, "public_url": public_url}
    settings = _settings(**overrides)
    configure_logging(settings.log_level, settings.log_format)
    skip_memory_statistics(settings.database_url)  # before anything opens the database
    runtime = _runtime(settings)
    prepare(runtime, apply_migrations=is_sqlite(settings.database_url))
    runtime.dispose()
    # A log record, so that with MASKLINE_LOG_FORMAT=json every line is one JSON object.
    logging.getLogger("maskline.serve").info(
        "Maskline listening on http://%s:%d", settings.host, settings.port
    )
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "on",
        # Maskline writes its own access records (web/observe.py), and its logging, set up
        # above and in each process of --workers, carries uvicorn's records too.
        "access_log": False,
        "log_config": None,
        "log_level": settings.log_level,
    }
    with shared_metrics(settings.metrics_dir, workers):
        if workers == 1:
            uvicorn.run(create_app(runtime=runtime), **common)
            return
        # Each process builds its own app from the environment: hand the flags down through it.
        for name, value in overrides.items():
            if value is not None:
                os.environ["MASKLINE_" + name.upper()] = str(value)
        uvicorn.run("maskline.app:serve_app", factory=True, workers=workers, **common)


@main.command("worker")
@click.option("--database-url", default=None, help="Database URL (MASKLINE_DATABASE_URL).")
def worker_command(database_url: str | None) -> None:
    """Run a worker alone: callbacks, scheduled jobs and session expiry."""
    import asyncio
    import signal

    from maskline import worker
    from maskline.bootstrap import prepare
    from maskline.db.sqlite_library import skip_memory_statistics
    from maskline.logs import configure as configure_logging
    from maskline.metrics.directory import use as use_metrics_directory

    settings = _settings(database_url=database_url)
    configure_logging(settings.log_level, settings.log_format)
    if settings.metrics_dir:
        # Counted with the scrapes of a `maskline serve` given the same directory.
        use_metrics_directory(settings.metrics_dir)
    skip_memory_statistics(settings.database_url)  # before anything opens the database
    runtime = _runtime(settings)
    prepare(runtime, apply_migrations=False, login=False)

    async def main_loop() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        runtime.start()
        try:
            # A task of its own, made once the runtime is started (runtime.py).
            await asyncio.create_task(worker.run(runtime, stop))
        finally:
            await runtime.close()

    asyncio.run(main_loop())


@main.command("import-twilio")
@click.option(
    "--account-sid",
    envvar="TWILIO_ACCOUNT_SID",
    required=True,
    help="The Twilio account to import (or TWILIO_ACCOUNT_SID).",
)
@click.option(
    "--auth-token",
    envvar="TWILIO_AUTH_TOKEN",
    required=True,
    help="Its auth token (or TWILIO_AUTH_TOKEN, which keeps it out of the process list).",
)
@click.option("--proxy-base", default="https://proxy.twilio.com", show_default=True)
@click.option("--api-base", default="https://api.twilio.com", show_default=True)
@click.option("--service", "services", multiple=True, help="Only this service (repeatable).")
@click.option(
    "--sessions",
    type=click.Choice(["open", "all", "none"]),
    default="open",
    show_default=True,
    help="open: open and in-progress; all: closed ones too; none: no sessions.",
)
@click.option("--with-history", is_flag=True, help="Import the sessions' interactions too.")
@click.option(
    "--repoint-webhooks",
    is_flag=True,
    help="Twilio carrier: point the numbers' SMS and voice URLs at Maskline (the cut-over).",
)
@click.option("--dry-run", is_flag=True, help="Read everything, write nothing, print the summary.")
def import_twilio_command(
    account_sid: str,
    auth_token: str,
    proxy_base: str,
    api_base: str,
    services: tuple[str, ...],
    sessions: str,
    with_history: bool,
    repoint_webhooks: bool,
    dry_run: bool,
) -> None:
    """Import a Twilio Proxy account: services, pools, sessions and participants keep their
    SIDs, and the Maskline account takes the Twilio account's SID and auth token. Run it
    again to finish an interrupted import: nothing is imported twice."""
    from maskline import sids
    from maskline.bootstrap import prepare
    from maskline.db.engine import is_sqlite
    from maskline.twilio_import.run import Importer, ImportFailed, Options, summary

    if not sids.is_sid(account_sid, sids.ACCOUNT):
        raise click.BadParameter("must be AC and 32 hex digits", param_hint="--account-sid")
    for sid in services:
        if not sids.is_sid(sid, sids.SERVICE):
            raise click.BadParameter(f"{sid} is not a service SID", param_hint="--service")
    settings = _settings()
    runtime = _runtime(settings)  # no connection yet
    options = Options(
        account_sid=account_sid,
        auth_token=auth_token,
        proxy_base=proxy_base,
        api_base=api_base,
        services=services,
        sessions=sessions,
        with_history=with_history,
        repoint_webhooks=repoint_webhooks,
        dry_run=dry_run,
    )
    importer = Importer(
        runtime, options, echo=lambda line: click.echo(f"[import] {line}", err=True)
    )
    scratch = tempfile.TemporaryDirectory(prefix="maskline-dry-run-")
    try:
        importer.check()  # before anything is written
        if dry_run:
            importer.runtime = _dry_run_runtime(runtime, scratch.name)
        else:
            prepare(runtime, apply_migrations=is_sqlite(settings.database_url), login=False)
        tallies = importer.run()
    except ImportFailed as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        importer.runtime.dispose()
        runtime.dispose()
        scratch.cleanup()
    for line in summary(tallies, dry_run):
        click.echo(line)


def _dry_run_runtime(runtime: Any, scratch: str) -> Any:
    """What a dry run reads, writing nothing, not even a schema: the database itself when its
    schema is current; when it has none yet (a new file or an empty database), an empty
    database in `scratch`, which is what an import would start from."""
    import dataclasses
    import os

    from maskline.db import migrate
    from maskline.db.engine import sqlite_path

    settings = runtime.settings
    path = sqlite_path(settings.database_url)
    fresh = path is not None and (not os.path.exists(path) or os.path.getsize(path) == 0)
    if not fresh:
        if migrate.is_current(runtime.engine):
            return runtime
        fresh = migrate.is_empty(runtime.engine)
        if not fresh:
            raise click.ClickException(
                "The database schema is behind this version of Maskline: run `maskline "
                "migrate` first (a dry run writes nothing, schema included)."
            )
    empty = dataclasses.replace(settings, database_url=f"sqlite:///{scratch}/empty.db")
    runtime = _runtime(empty)
    migrate.upgrade(runtime.engine)
    return runtime


@main.command()
@click.option("--database-url", default=None, help="Database URL (MASKLINE_DATABASE_URL).")
def migrate(database_url: str | None) -> None:
    """Apply the database migrations that are not applied yet."""
    from maskline.db import migrate as migrations

    runtime = _runtime(_settings(database_url=database_url))
    before = migrations.current_revision(runtime.engine)
    migrations.upgrade(runtime.engine)
    after = migrations.current_revision(runtime.engine)
    click.echo(f"schema at {after}" + ("" if before == after else f" (was {before})"))


@main.group()
def accounts() -> None:
    """Manage accounts."""


@accounts.command("create")
@click.option("--friendly-name", default=None, help="A name to recognise the account by.")
def create_account_command(friendly_name: str | None) -> None:
    """Create an account and print its SID and auth token."""
    from maskline.accounts.rules import create_account
    from maskline.bootstrap import prepare

    runtime = _runtime(_settings())
    prepare(runtime, login=False)
    with runtime.transaction() as conn:
        creds = create_account(conn, runtime.clock, friendly_name=friendly_name)
    click.echo(f"Account SID: {creds.sid}\nAuth token:  {creds.secret}")


@accounts.command("list")
def list_accounts_command() -> None:
    """List every account: SID, friendly name, created (never a token)."""
    from maskline.accounts.store import list_accounts
    from maskline.bootstrap import prepare
    from maskline.clock import iso

    runtime = _runtime(_settings())
    prepare(runtime, login=False)
    with runtime.transaction(writes=False) as conn:
        rows = list_accounts(conn)
    for row in rows:
        click.echo(f"{row.sid}  {iso(row.date_created)}  {row.friendly_name or ''}".rstrip())


@accounts.command("rotate-token")
@click.argument("account_sid")
def rotate_token_command(account_sid: str) -> None:
    """Give ACCOUNT_SID a new auth token and print it; the old one stops working within
    seconds. Callbacks are signed with the new token from then on."""
    from maskline.accounts.rules import rotate_auth_token
    from maskline.bootstrap import prepare

    settings = _settings()
    if settings.account_sid == account_sid:
        raise click.ClickException(
            f"{account_sid} takes its token from MASKLINE_AUTH_TOKEN at every start: change "
            "that setting and restart instead"
        )
    runtime = _runtime(settings)
    prepare(runtime, login=False)
    with runtime.transaction() as conn:
        token = rotate_auth_token(conn, account_sid)
    if token is None:
        raise click.ClickException(f"No account {account_sid}")
    click.echo(f"Account SID: {account_sid}\nAuth token:  {token}")


@main.group()
def keys() -> None:
    """Manage API keys."""


@keys.command("list")
@click.option("--account-sid", required=True, help="The account whose keys to list.")
def list_keys_command(account_sid: str) -> None:
    """List an account's API keys: SID, created, friendly name (never a secret)."""
    from maskline.accounts.store import get_account, list_api_keys
    from maskline.bootstrap import prepare
    from maskline.clock import iso

    runtime = _runtime(_settings())
    prepare(runtime, login=False)
    with runtime.transaction(writes=False) as conn:
        if get_account(conn, account_sid) is None:
            raise click.ClickException(f"No account {account_sid}")
        rows = list_api_keys(conn, account_sid)
    for row in rows:
        click.echo(f"{row.sid}  {iso(row.date_created)}  {row.friendly_name or ''}".rstrip())


@keys.command("revoke")
@click.argument("key_sid")
def revoke_key_command(key_sid: str) -> None:
    """Delete the API key KEY_SID: every process refuses it within seconds."""
    from maskline.accounts.store import delete_api_key
    from maskline.bootstrap import prepare

    runtime = _runtime(_settings())
    prepare(runtime, login=False)
    with runtime.transaction() as conn:
        deleted = delete_api_key(conn, key_sid)
    if not deleted:
        raise click.ClickException(f"No API key {key_sid}")
    click.echo(f"Revoked {key_sid}")


@keys.command("create")
@click.option("--account-sid", required=True, help="The account the key acts for.")
@click.option("--friendly-name", default=None, help="A name to recognise the key by.")
def create_key_command(account_sid: str, friendly_name: str | None) -> None:
    """Create an API key and print its SID and secret (shown only once)."""
    from maskline.accounts.rules import create_api_key
    from maskline.accounts.store import get_account
    from maskline.bootstrap import prepare

    runtime = _runtime(_settings())
    prepare(runtime, login=False)
    with runtime.transaction() as conn:
        if get_account(conn, account_sid) is None:
            raise click.ClickException(f"No account {account_sid}")
        creds = create_api_key(
            conn, runtime.clock, account_sid=account_sid, friendly_name=friendly_name
        )
    click.echo(f"API key SID: {creds.sid}\nSecret:      {creds.secret}")


@main.command("settings")
def settings_command() -> None:
    """List every setting with its default and meaning."""
    for name, default, help_text in describe():
        click.echo(f"{name} (default: {default or 'unset'})\n    {help_text}")


if __name__ == "__main__":
    sys.exit(main())
