"""Importing the outlet register and the customer archive from CSV or Excel (.xlsx) files.

All or nothing: every row is checked, and when any is refused the caller gets every refused row
(row number, column, reason) and nothing is stored. A dry run checks the same way and stores
nothing even when every row passes. `progress` is called after each row, for the CLI's bar.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.customers import add_customer
from engine.errors import ServiceError, ValidationError
from engine.identity import Actor
from engine.network import add_outlet
from engine.states import OutletStatus

OUTLET_COLUMNS = ("code", "name", "region_code", "status", "outlet_class", "cities", "agreement_no",
                  "agreement_from", "agreement_to")
CUSTOMER_COLUMNS = ("name", "phone", "address", "city", "region_code", "serial_number", "model", "purchase_date",
                    "invoice_no")
REQUIRED = {"outlets": ("code", "name", "region_code"), "customers": ("name", "phone")}
MAX_ROWS = 100_000
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RowProblem:
    row: int  # as a spreadsheet numbers it: the header is row 1
    column: str | None
    reason: str


class ImportRefusedError(ValidationError):
    """Some rows were refused; nothing was stored."""

    code, title = "import-refused", "Import refused"


@dataclass(frozen=True)
class ImportReport:
    rows: int
    stored: int  # 0 on a dry run


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows of a .csv (UTF-8, with or without BOM) or .xlsx file, as text.

    Raises: ValidationError (an unreadable file or another type).
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError(f"{path.name} is not UTF-8 text; save it as CSV UTF-8", field="file") from None
        reader = csv.reader(io.StringIO(text))
        table = list(_limited(reader))
    elif suffix == ".xlsx":
        table = _xlsx_table(path)
    else:
        raise ValidationError(f"{path.name}: import reads .csv or .xlsx files", field="file")
    if not table:
        raise ValidationError(f"{path.name} is empty", field="file")
    header = [h.strip() for h in table[0]]
    return header, [dict(zip(header, (c.strip() for c in row), strict=False)) for row in table[1:]
                    if any(c.strip() for c in row)]


def import_outlets(session: Session, clock: Clock, *, actor: Actor, path: Path, dry_run: bool = False,
                   progress: Progress | None = None) -> ImportReport:
    """Raises: ValidationError (the file), ImportRefusedError (the refused rows, `errors` in its extras)."""
    header, rows = read_rows(path)
    _check_header(header, OUTLET_COLUMNS, "outlets")
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=2):
        code = row.get("code", "")
        if code in seen:
            problems.append(RowProblem(number, "code", f"code '{code}' appears again (first in row {seen[code]})"))
        else:
            seen[code] = number
            _store_row(problems, number, partial(_add_outlet_row, session, clock, actor, row))
        if progress:
            progress(number - 1, len(rows))
    return _finish(problems, len(rows), dry_run)


def import_customers(session: Session, clock: Clock, *, actor: Actor, path: Path, dry_run: bool = False,
                     progress: Progress | None = None) -> ImportReport:
    """One row per product; rows with the same name and phone are one customer with several products.

    Raises: ValidationError (the file), ImportRefusedError (the refused rows).
    """
    header, rows = read_rows(path)
    _check_header(header, CUSTOMER_COLUMNS, "customers")
    problems: list[RowProblem] = []
    customers: dict[tuple[str, str], tuple[int, dict[str, str], list[dict[str, Any]]]] = {}
    serials: dict[str, int] = {}
    for number, row in enumerate(rows, start=2):
        for column in REQUIRED["customers"]:
            if not row.get(column):
                problems.append(RowProblem(number, column, f"{column} is required"))
        serial = row.get("serial_number", "")
        if serial:
            if serial in serials:
                problems.append(RowProblem(number, "serial_number",
                                           f"serial number '{serial}' appears again (first in row {serials[serial]})"))
                continue
            serials[serial] = number
            try:
                product = {"serial_number": serial, "model": row.get("model", ""),
                           "purchase_date": _date(row.get("purchase_date")), "invoice_no": row.get("invoice_no") or None}
            except ValueError:
                problems.append(RowProblem(number, "purchase_date", "write the date as YYYY-MM-DD"))
                continue
        _, _, products = customers.setdefault((row.get("name", ""), row.get("phone", "")), (number, row, []))
        if serial:
            products.append(product)
    for done, (first_row, row, products) in enumerate(customers.values(), start=1):
        _store_row(problems, first_row, partial(_add_customer_row, session, clock, actor, row, products))
        if progress:
            progress(done, len(customers))
    return _finish(problems, len(rows), dry_run)


def _add_outlet_row(session: Session, clock: Clock, actor: Actor, row: dict[str, str]) -> None:
    add_outlet(session, clock, actor=actor, **_outlet_fields(row))


def _add_customer_row(session: Session, clock: Clock, actor: Actor, row: dict[str, str],
                      products: list[dict[str, Any]]) -> None:
    add_customer(session, clock, actor=actor, name=row.get("name", ""), phone=row.get("phone", ""),
                 address=row.get("address") or None, city=row.get("city") or None,
                 region_code=row.get("region_code") or None, products=products)


def _outlet_fields(row: dict[str, str]) -> dict[str, Any]:
    for column in REQUIRED["outlets"]:
        if not row.get(column):
            raise ValidationError(f"{column} is required", field=column)
    status = row.get("status") or OutletStatus.ACTIVE.value
    if status not in OutletStatus.__members__.values():
        raise ValidationError(f"status '{status}' is not one of {', '.join(OutletStatus)}", field="status")
    fields: dict[str, Any] = {"code": row["code"], "name": row["name"], "region_code": row["region_code"],
                              "status": OutletStatus(status), "outlet_class": row.get("outlet_class") or None,
                              "agreement_no": row.get("agreement_no") or None,
                              "cities": [c.strip() for c in (row.get("cities") or "").replace("、", ";").split(";")
                                         if c.strip()]}
    for column in ("agreement_from", "agreement_to"):
        try:
            fields[column] = _date(row.get(column))
        except ValueError:
            raise ValidationError("write the date as YYYY-MM-DD", field=column) from None
    return fields


def _store_row(problems: list[RowProblem], number: int, store: Callable[[], Any]) -> None:
    try:
        store()
    except ServiceError as error:
        problems.append(RowProblem(number, error.extras().get("field"), error.detail))


def _finish(problems: list[RowProblem], rows: int, dry_run: bool) -> ImportReport:
    if problems:
        raise ImportRefusedError(
            f"{len(problems)} row(s) refused, nothing stored; first: row {problems[0].row}"
            f"{', column ' + problems[0].column if problems[0].column else ''}: {problems[0].reason}",
            errors=[{"row": p.row, "column": p.column, "reason": p.reason} for p in problems])
    return ImportReport(rows, 0 if dry_run else rows)


def _check_header(header: list[str], columns: tuple[str, ...], kind: str) -> None:
    missing = [c for c in REQUIRED[kind] if c not in header]
    unknown = [h for h in header if h not in columns]
    if missing or unknown:
        raise ImportRefusedError(
            f"the header of a {kind} file must use the columns {', '.join(columns)}"
            + (f"; missing: {', '.join(missing)}" if missing else "") + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
            errors=[{"row": 1, "column": c, "reason": "missing column"} for c in missing]
            + [{"row": 1, "column": c, "reason": "unknown column"} for c in unknown])


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _limited(rows: Iterator[list[str]]) -> Iterator[list[str]]:
    for count, row in enumerate(rows):
        if count > MAX_ROWS:
            raise ValidationError(f"an import holds at most {MAX_ROWS} rows; split the file", field="file")
        yield row


def _xlsx_table(path: Path) -> list[list[str]]:
    from openpyxl import load_workbook  # only imports need it; keep it off the server's start-up path

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a damaged or foreign file
        raise ValidationError(f"{path.name} is not a readable .xlsx workbook ({type(error).__name__})",
                              field="file") from None
    try:
        sheet = workbook.worksheets[0]
        cells = (["" if c is None else (c.isoformat()[:10] if isinstance(c, date) else str(c)) for c in row]
                 for row in sheet.iter_rows(values_only=True))
        return list(_limited(cells))
    finally:
        workbook.close()
