"""`tixi import outlets|customers FILE`: the register and the archive from CSV or Excel, all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli_support import OPERATOR, database_ready, fail, load_settings
from engine.clock import SystemClock
from engine.db import make_engine
from engine.errors import ServiceError
from engine.register_import import ImportRefusedError, import_customers, import_outlets
from engine.workflow_store import session_factory

import_app = typer.Typer(help="Import the outlet register or the customer archive (CSV or .xlsx).",
                         no_args_is_help=True)
FileArgument = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                              help="a .csv (UTF-8) or .xlsx file; its first row names the columns")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="check every row, store nothing")]


@import_app.command("outlets")
def outlets(path: FileArgument, dry_run: DryRun = False) -> None:
    """Outlets: code, name, region_code[, status, outlet_class, cities (a;b), agreement_no, agreement_from, agreement_to]."""
    _run(path, dry_run, "outlets")


@import_app.command("customers")
def customers(path: FileArgument, dry_run: DryRun = False) -> None:
    """Customers, one row per product: name, phone[, address, city, region_code, serial_number, model,
    purchase_date, invoice_no]."""
    _run(path, dry_run, "customers")


def _run(path: Path, dry_run: bool, kind: str) -> None:
    settings = load_settings()
    factory = session_factory(make_engine(settings.database_url), settings)
    importer = import_outlets if kind == "outlets" else import_customers
    with database_ready(), factory() as session, typer.progressbar(length=1, label=f"checking {kind}") as bar:
        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        try:
            session.begin()
            report = importer(session, SystemClock(), actor=OPERATOR, path=path, dry_run=dry_run, progress=progress)
            if dry_run:
                session.rollback()  # checked as for real, stored not at all
            else:
                session.commit()
        except ImportRefusedError as error:
            session.rollback()
            for problem in error.extras().get("errors", []):
                column = f", column {problem['column']}" if problem["column"] else ""
                typer.echo(f"row {problem['row']}{column}: {problem['reason']}", err=True)
            raise fail(f"{error.detail}; correct the rows above and import the file again") from None
        except ServiceError as error:
            session.rollback()
            raise fail(f"{error.detail}; nothing was stored") from None
    verb = "would import" if dry_run else "imported"
    typer.echo(f"{verb} {report.rows} {kind} row(s) from {path.name}" + (" (dry run: nothing stored)" if dry_run else ""))
