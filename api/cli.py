"""`tixi`: what an operator does from a shell. Errors print what to do next and exit non-zero."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from api.cli_attachments import attachments_app, store_or_fail
from api.cli_import import import_app
from api.cli_support import OPERATOR
from api.cli_support import database_ready as _database_ready
from api.cli_support import fail as _fail
from api.cli_support import load_settings as _settings
from api.settings import Settings
from engine.advance_limits import give_limits
from engine.catalog import FormCatalog
from engine.clock import SystemClock
from engine.db import make_engine, transaction
from engine.demo_network import sync_demo_network
from engine.errors import ServiceError
from engine.identity import add_user, sync_demo_users
from engine.notifications.centre import give_demo_addresses
from engine.workflow_store import session_factory as workflow_sessions

app = typer.Typer(help="Tixi (体系): BPMN workflow engine for after-sales customer service.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Users and demo users.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit history.", no_args_is_help=True)
calendar_app = typer.Typer(help="The business calendar (holidays, make-up working days).", no_args_is_help=True)
app.add_typer(calendar_app, name="calendar")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(import_app, name="import")
app.add_typer(attachments_app, name="attachments")
service_app = typer.Typer(help="Service accounts: the logins of external-task workers.", no_args_is_help=True)
app.add_typer(service_app, name="service-account")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database (TIXI_DATABASE_URL) to the newest schema."""
    from engine.migrations import upgrade_to_head

    settings = _settings()
    try:
        upgrade_to_head(make_engine(settings.database_url))
    except Exception as error:  # noqa: BLE001 - a CLI reports, it does not trace
        raise _fail(f"migration failed: {error}. Check TIXI_DATABASE_URL and that the database is running.") from None
    typer.echo(f"database at the newest schema ({settings.database_url.split('@')[-1]})")


@app.command()
def deploy(path: Annotated[Path, typer.Argument(help="a .bpmn/.dmn/.zip file or a folder of them")]) -> None:
    """Deploy BPMN and DMN files, with the notification templates (.txt) in the folder; identical files keep their version."""
    if not path.exists():
        raise _fail(f"{path} does not exist")
    wanted = {".bpmn", ".dmn", ".txt"}
    files = sorted(p for p in path.rglob("*") if p.suffix in wanted and p.is_file()) if path.is_dir() else [path]
    # Decisions first, so processes whose business-rule tasks call them resolve.
    files.sort(key=lambda p: (p.suffix != ".dmn", str(p)))
    if not any(p.suffix != ".txt" for p in files):
        raise _fail(f"no .bpmn or .dmn files in {path}")
    settings = _settings()
    from engine.definitions import deploy_files

    factory = workflow_sessions(make_engine(settings.database_url), settings)
    catalog = FormCatalog(settings.forms_dir, notification_templates_dir=settings.notification_templates_dir)
    typer.echo(f"checking {len(files)} file(s) as one deployment (processes may call each other)")
    for number, file in enumerate(files, start=1):
        typer.echo(f"[{number}/{len(files)}] {file}")
    try:
        with _database_ready(), transaction(factory) as session:
            deployed = deploy_files(session, SystemClock(), catalog, actor=OPERATOR,
                                    files=[(file.name, file.read_bytes()) for file in files])
    except ServiceError as error:
        typer.secho(error.detail, fg=typer.colors.RED, err=True)
        for problem in error.extras().get("errors", []):
            where = f"element {problem['element']}" if problem.get("element") else f"line {problem.get('line')}"
            typer.secho(f"    {where}: {problem.get('problem')}", err=True)
        raise _fail("nothing was deployed; fix the file named above and run 'tixi deploy' again") from None
    for definition in deployed:
        typer.echo(f"deployed {definition.kind} {definition.key} v{definition.version}")


@users_app.command("add")
def users_add(
    username: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    group: Annotated[list[str], typer.Option("--group", "-g", help="a group id; repeat for several")] = [],  # noqa: B006
    name: Annotated[str | None, typer.Option(help="display name")] = None,
    outlet: Annotated[str | None, typer.Option(help="outlet code: outlet staff see only this outlet's cases")] = None,
    region: Annotated[str | None, typer.Option(help="region code: RCC staff see their region's cases")] = None,
) -> None:
    """Create a user with a password and groups."""
    settings = _settings()
    factory = workflow_sessions(make_engine(settings.database_url), settings)
    try:
        with _database_ready(), transaction(factory) as session:
            user = add_user(session, SystemClock(), actor=OPERATOR, username=username, password=password,
                            display_name=name, groups=group, outlet_code=outlet, region_code=region)
    except ServiceError as error:
        raise _fail(error.detail) from None
    typer.echo(f"created {user.username} in {', '.join(user.groups) or 'no group'}")


@users_app.command("unlock")
def users_unlock(username: str) -> None:
    """Clear a user's login lock-out (after too many failed logins) and their failure count."""
    from engine.logins import unlock_user

    settings = _settings()
    factory = workflow_sessions(make_engine(settings.database_url), settings)
    try:
        with _database_ready(), transaction(factory) as session:
            was_locked = unlock_user(session, SystemClock(), actor=OPERATOR, username=username)
    except ServiceError as error:
        raise _fail(f"{error.detail}; 'tixi users add' creates one") from None
    typer.echo(f"{username} unlocked" if was_locked else f"{username} was not locked out; failure count cleared")


@users_app.command("demo")
def users_demo(enable: Annotated[bool, typer.Option("--enable/--disable")] = True) -> None:
    """Create (or disable) the demo users: one per group, named after it, password 'demo'."""
    settings = _settings()
    database = make_engine(settings.database_url)
    factory = workflow_sessions(database, settings)
    with _database_ready(), transaction(factory) as session:
        names = sync_demo_users(session, SystemClock(), enabled=enable)
    typer.echo(f"demo users: {', '.join(names)}" if enable else "demo users disabled")


@service_app.command("add")
def service_account_add(
    name: str,
    group: Annotated[list[str], typer.Option("--group", "-g", help="a group it acts in on /api; repeat for several")] = [],  # noqa: B006
) -> None:
    """Create a service account and print its API key, once (the machine sends name and key by basic auth)."""
    from engine.service_accounts import create_service_account, hash_api_key, new_api_key

    settings = _settings()
    factory = workflow_sessions(make_engine(settings.database_url), settings)
    key = new_api_key()
    key_hash = hash_api_key(key)  # before the transaction: argon2 takes ~100 ms
    try:
        with _database_ready(), transaction(factory) as session:
            create_service_account(session, SystemClock(), actor=OPERATOR, name=name, key_hash=key_hash,
                                   groups=group)
    except ServiceError as error:
        raise _fail(error.detail) from None
    scope = f" acting in {', '.join(sorted(set(group)))}" if group else ""
    typer.echo(f"created service account {name}{scope}; its API key (shown this once): {key}")


@service_app.command("revoke")
def service_account_revoke(name: str) -> None:
    """End a service account at once."""
    from engine.service_accounts import revoke_service_account

    settings = _settings()
    factory = workflow_sessions(make_engine(settings.database_url), settings)
    try:
        with _database_ready(), transaction(factory) as session:
            revoke_service_account(session, SystemClock(), actor=OPERATOR, name=name)
    except ServiceError as error:
        raise _fail(error.detail) from None
    typer.echo(f"service account {name} revoked")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the hash chain of every instance's history; name the first tampered row of each."""
    from engine.audit import verify_chains

    settings = _settings()
    factory = workflow_sessions(make_engine(settings.database_url), settings)
    typer.echo("verifying the audit history ...")
    with _database_ready(), transaction(factory) as session:
        checked, breaks = verify_chains(session)
    for chain_break in breaks:
        chain = chain_break.instance_id or "instance-less events"
        typer.secho(f"chain {chain}: row {chain_break.event_id} {chain_break.problem}", fg=typer.colors.RED, err=True)
    if breaks:
        raise _fail(f"{len(breaks)} chain(s) broken among {checked} rows; restore those rows from a backup "
                    "and find out who changed them")
    typer.echo(f"{checked} rows checked; every chain is intact")


@audit_app.command("check")
def audit_check() -> None:
    """Verify the chains, then check every instance's history, rows and workflow state agree (after a crash)."""
    from engine.invariants import check_invariants

    settings = _settings()
    factory = workflow_sessions(make_engine(settings.database_url), settings)
    typer.echo("checking the audit history against the instances and tasks ...")
    with _database_ready(), transaction(factory) as session:
        report = check_invariants(session)
    for violation in report.violations[:50]:
        where = f"instance {violation.instance_id}" + (f" task {violation.task_id}" if violation.task_id else "")
        typer.secho(f"{where}: {violation.problem}", fg=typer.colors.RED, err=True)
    if report.violations:
        raise _fail(f"{len(report.violations)} violation(s) among {report.instances} instances; the first are above")
    typer.echo(f"{report.rows} rows, {report.instances} instances, {report.tasks} tasks checked; all consistent")


@calendar_app.command("load")
def calendar_load(path: Annotated[Path, typer.Argument(help='JSON: {"days": [{"day", "kind", "name"}]}')]) -> None:
    """Load holidays and make-up working days (replacing what those days held)."""
    import json
    from datetime import date

    from engine.business_calendar import set_day

    try:
        days = json.loads(path.read_text(encoding="utf-8"))["days"]
        parsed = [(date.fromisoformat(d["day"]), d["kind"], d["name"]) for d in days]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise _fail(f"{path}: expected a JSON object with a 'days' list of day/kind/name ({error})") from None
    settings = _settings()
    factory = workflow_sessions(make_engine(settings.database_url), settings)
    try:
        with _database_ready(), transaction(factory) as session:
            for day, kind, name in parsed:
                set_day(session, SystemClock(), actor=OPERATOR.username, day=day, kind=kind, name=name)
    except ServiceError as error:
        raise _fail(f"{path}: {error.detail}") from None
    typer.echo(f"loaded {len(parsed)} calendar day(s) from {path}")


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    scheduler: Annotated[bool, typer.Option("--scheduler/--no-scheduler", help="fire timers in-process")] = True,
    workers: Annotated[int, typer.Option(min=1, max=64, help="server processes sharing the port")] = 1,
) -> None:
    """Serve the API (OpenAPI at /docs); by default also runs the timer scheduler in-process."""
    from api.app import create_app
    from api.header_timeout import header_timeout_protocol
    from api.serving import serve_in_processes, serve_until_stopped

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings()
    store_or_fail(settings)  # before anything is served or changed: a half-configured store is refused
    database = make_engine(settings.database_url)
    factory = workflow_sessions(database, settings)
    with _database_ready(), transaction(factory) as session:
        names = sync_demo_users(session, SystemClock(), enabled=settings.demo_users)
        if settings.demo_users:
            names += sync_demo_network(session, SystemClock(), settings.demo_dir)
        if names:
            give_demo_addresses(session, SystemClock(), usernames=names)
    if names:
        typer.echo(f"demo users (password 'demo'): {', '.join(names)}; set TIXI_DEMO_USERS=false to turn them off")
    if scheduler:
        _say_where_mail_goes(settings)
    serving: dict[str, Any] = {"host": host, "port": port, "grace_seconds": settings.shutdown_grace_seconds,
                               "http": header_timeout_protocol(settings.header_timeout_seconds),
                               "limit_concurrency": settings.max_connections, "access_log": settings.access_log}
    if workers == 1:
        served = create_app(settings, session_factory=factory, run_scheduler=scheduler)
        serve_until_stopped(served, **serving)
        return
    # Each process opens its own connections: none of this one's may cross the fork.
    database.dispose()

    def build_app(index: int) -> Any:
        # One scheduler is enough: timers and the outbox are claimed with SKIP LOCKED, but N
        # schedulers would poll the database N times as often for nothing.
        return create_app(settings, session_factory=workflow_sessions(make_engine(settings.database_url), settings),
                          run_scheduler=scheduler and index == 0)

    serve_in_processes(build_app, processes=workers, **serving)


def _say_where_mail_goes(settings: Settings) -> None:
    if settings.smtp_host:
        typer.echo(f"notifications: mail through {settings.smtp_host}:{settings.smtp_port} ({settings.smtp_security})")
    else:
        typer.echo(f"notifications: no TIXI_SMTP_HOST set; each mail is written to {settings.mail_sink_dir}/<id>.eml")


@app.command()
def worker(interval: Annotated[float, typer.Option(help="seconds between ticks")] = 1.0) -> None:
    """Run the scheduler alone: timers, deadline alerts, the notification outbox, the S3 attachment sweep (several may run at once)."""
    from engine.worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings()
    store_or_fail(settings)  # it sweeps the S3 attachment store every hour
    factory = workflow_sessions(make_engine(settings.database_url), settings)
    give_limits(factory, settings.advance_limits())
    _say_where_mail_goes(settings)
    stop = threading.Event()
    try:
        run_worker(factory, SystemClock(), stop, interval=interval, config=settings)
    except KeyboardInterrupt:
        stop.set()


if __name__ == "__main__":
    app()
