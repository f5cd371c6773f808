"""What happens before Maskline serves: schema migrations and the account to log in with."""

from __future__ import annotations

import logging
import time

import click
import orjson
from sqlalchemy import func, select

from maskline.accounts.rules import create_account, ensure_account
from maskline.accounts.tables import accounts
from maskline.db import migrate
from maskline.logs import utc_time
from maskline.runtime import Runtime

log = logging.getLogger("maskline")

DEV_ACCOUNT = "development"


def prepare(runtime: Runtime, *, apply_migrations: bool = True, login: bool = True) -> None:
    """Bring the schema up and make sure of the account to log in with.

    Without `apply_migrations` (PostgreSQL, where upgrades are the operator's step), an empty
    database still gets the whole schema: there is nothing to upgrade yet, only to create. A
    database that holds tables and is behind is refused until `maskline migrate` has run.
    """
    engine = runtime.engine
    if apply_migrations or migrate.is_empty(engine):
        migrate.upgrade(engine)
    elif not migrate.is_current(engine):
        raise click.ClickException(
            "The database schema is behind this version of Maskline: run `maskline migrate`."
        )
    if login:
        ensure_login(runtime)


def ensure_login(runtime: Runtime) -> None:
    """The configured account, or else a development account made once and printed."""
    settings = runtime.settings
    with runtime.transaction() as conn:
        if settings.account_sid:
            if ensure_account(conn, runtime.clock, settings.account_sid, settings.auth_token):
                log.info("created account %s from MASKLINE_ACCOUNT_SID", settings.account_sid)
            return
        dev = conn.execute(
            select(accounts).where(accounts.c.friendly_name == DEV_ACCOUNT).limit(1)
        ).first()
        if dev is None:
            if conn.execute(select(func.count()).select_from(accounts)).scalar_one():
                return
            creds = create_account(conn, runtime.clock, friendly_name=DEV_ACCOUNT)
            sid, token = creds.sid, creds.secret
        else:
            sid, token = dev.sid, dev.auth_token
    # Shown on the terminal of whoever started a development server, never through logging.
    # Production sets MASKLINE_ACCOUNT_SID and MASKLINE_AUTH_TOKEN, and then nothing is shown.
    if settings.log_format == "json":
        # Where every line is a JSON object, this one is too.
        line = {"time": utc_time(time.time()), "level": "warning", "logger": "maskline.bootstrap"}
        line |= {"message": "development account", "account_sid": sid, "auth_token": token}
        click.echo(orjson.dumps(line).decode(), err=True)
        return
    click.echo(
        "\nDevelopment account (set MASKLINE_ACCOUNT_SID and MASKLINE_AUTH_TOKEN to use your "
        "own):\n"
        f"  Account SID: {sid}\n"
        f"  Auth token:  {token}\n",
        err=True,
    )
