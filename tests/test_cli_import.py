"""`tixi import outlets|customers FILE`: CSV and Excel, all or nothing, every refused row named."""

from __future__ import annotations

import csv
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from engine.clock import SystemClock
from engine.identity import ADMIN_GROUP, Actor
from engine.network import save_region
from engine.tables import Customer, Outlet, Product
from tests.test_cli import Tixi, _failed_cleanly, database, migrated, tixi  # noqa: F401 - fixtures

ADMIN = Actor("admin", frozenset({ADMIN_GROUP}))
HEADER = ["code", "name", "region_code", "status", "outlet_class", "cities", "agreement_no", "agreement_from"]


def _regions(database: Engine) -> None:
    with Session(database) as session, session.begin():
        save_region(session, SystemClock(), actor=ADMIN, code="east", name="华东 / East China",
                    cities=["上海", "杭州"], central_cities=["上海"], create=True)
        save_region(session, SystemClock(), actor=ADMIN, code="north", name="华北 / North China",
                    cities=["北京"], central_cities=["北京"], create=True)


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _outlet_rows(count: int) -> list[list[str]]:
    return [[f"OT-{n:04d}", f"网点 {n} / Outlet {n}", "east" if n % 2 else "north", "active", "A",
             "上海;杭州" if n % 2 else "北京", f"XY-{n:04d}", "2025-01-01"] for n in range(1, count + 1)]


def _count(database: Engine, table: type) -> int:
    with Session(database) as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_a_thousand_outlets_import_with_progress(migrated: Tixi, database: Engine, tmp_path: Path) -> None:
    _regions(database)
    path = _write_csv(tmp_path / "outlets.csv", HEADER, _outlet_rows(1000))
    dry = migrated("import", "outlets", str(path), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would import 1000" in dry.output and _count(database, Outlet) == 0
    result = migrated("import", "outlets", str(path))
    assert result.exit_code == 0, result.output
    assert "checking outlets" in result.output and "imported 1000 outlets" in result.output
    assert _count(database, Outlet) == 1000
    with Session(database) as session:
        outlet = session.get(Outlet, "OT-0007")
        assert outlet is not None and (outlet.region_code, outlet.cities) == ("east", ["上海", "杭州"])


def test_one_bad_row_changes_nothing_and_is_named(migrated: Tixi, database: Engine, tmp_path: Path) -> None:
    _regions(database)
    rows = _outlet_rows(600)
    rows[500][2] = "west"  # row 502 of the file: an unknown region
    rows[550][7] = "2025-13-01"  # row 552: not a date
    rows[599][0] = rows[0][0]  # row 601: a code already in row 2
    result = migrated("import", "outlets", str(_write_csv(tmp_path / "outlets.csv", HEADER, rows)))
    assert _failed_cleanly(result), result.output
    assert "row 502, column region_code: no region 'west' in the register" in result.output
    assert "row 552, column agreement_from" in result.output
    assert "row 601, column code: code 'OT-0001' appears again (first in row 2)" in result.output
    assert _count(database, Outlet) == 0


def test_a_wrong_header_is_refused(migrated: Tixi, database: Engine, tmp_path: Path) -> None:
    _regions(database)
    path = _write_csv(tmp_path / "outlets.csv", ["code", "outlet name", "region_code"], [["A1", "x", "east"]])
    result = migrated("import", "outlets", str(path))
    assert _failed_cleanly(result) and "unknown: outlet name" in result.output and "missing: name" in result.output
    assert _count(database, Outlet) == 0
    wrong_type = tmp_path / "outlets.txt"
    wrong_type.write_text("code,name,region_code\n", encoding="utf-8")
    refused = migrated("import", "outlets", str(wrong_type))
    assert _failed_cleanly(refused) and ".csv or .xlsx" in refused.output


def test_customers_from_excel_one_customer_several_products(migrated: Tixi, database: Engine,
                                                           tmp_path: Path) -> None:
    _regions(database)
    book = Workbook()
    sheet = book.active
    sheet.append(["name", "phone", "city", "region_code", "serial_number", "model", "purchase_date"])
    sheet.append(["张三", "138-0013-8000", "上海", "east", "SN-1", "KFR-35GW", "2025-11-20"])
    sheet.append(["张三", "138-0013-8000", "上海", "east", "SN-2", "BCD-450W", "2026-01-02"])
    sheet.append(["李四", "139-0000-0000", "北京", "north", "SN-3", "XQB80-Z", None])
    book.save(tmp_path / "customers.xlsx")
    result = migrated("import", "customers", str(tmp_path / "customers.xlsx"))
    assert result.exit_code == 0, result.output
    assert (_count(database, Customer), _count(database, Product)) == (2, 3)

    # A serial number already in the archive belongs to its customer: the whole file is refused.
    again = _write_csv(tmp_path / "more.csv", ["name", "phone", "serial_number", "model"],
                       [["王五", "137-0000-0000", "SN-4", "KFR-26GW"], ["赵六", "136-0000-0000", "SN-2", "KFR-26GW"]])
    refused = migrated("import", "customers", str(again))
    assert _failed_cleanly(refused)
    assert "row 3, column serial_number: serial number 'SN-2' already belongs to another customer" in refused.output
    assert (_count(database, Customer), _count(database, Product)) == (2, 3)
