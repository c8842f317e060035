"""`tixi` from a shell: migrate, deploy with progress, add users, demo users; errors exit 1 on stderr.

Each test runs the Typer app in-process against its own SQLite file, configured through the
environment exactly as an operator would (TIXI_DATABASE_URL, TIXI_SECRET_FILE).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from api.cli import app
from engine.clock import SystemClock
from engine.db import make_engine
from engine.errors import AuthenticationError
from engine.identity import SERVICE_ACCOUNT_GROUP, Actor, find_actor
from engine.logins import LockoutPolicy, find_login, record_login_failure
from engine.passwords import password_matches
from engine.service_accounts import service_actor
from engine.tables import AuditEvent, Definition, Deployment, Group, Membership, ServiceAccount, User
from tests.conftest import ROOT, STANDARD_GROUPS, TEST_PROCESSES


def authenticate(session: Session, username: str, password: str) -> Actor:
    """A password check as a login makes it (engine/logins.py), without the HTTP guard around it."""
    record = find_login(session, username)
    actor = find_actor(session, username)
    if record is None or actor is None or not password_matches(record.password_hash, password):
        raise AuthenticationError("wrong username or password")
    return actor

Tixi = Callable[..., Result]
BROKEN_BPMN = ('<?xml version="1.0" encoding="UTF-8"?>\n'
               '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">\n'
               '  <bpmn:process id="broken" isExecutable="true"\n')  # the start tag never closes


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Engine]:
    """An engine on the test's SQLite file, for looking at what the CLI stored."""
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def tixi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tixi:
    """Run `tixi ARGS...` in-process on the test's own database; returns the click Result."""
    monkeypatch.chdir(ROOT)  # `tixi deploy processes/` as in the README, from the repository
    env = {"TIXI_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "TIXI_SECRET_FILE": str(tmp_path / "secret.key"),
           "TIXI_SECRET_KEY": None, "TIXI_FORMS_DIR": None, "TIXI_DEMO_USERS": None}
    runner = CliRunner()

    def _run(*args: str, input: str | None = None) -> Result:  # noqa: A002 - click's own name
        return runner.invoke(app, list(args), env=env, input=input)

    return _run


@pytest.fixture
def migrated(tixi: Tixi) -> Tixi:
    result = tixi("db", "upgrade")
    assert result.exit_code == 0, result.output
    return tixi


def _count(database: Engine, table: type) -> int:
    with Session(database) as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def _nothing_deployed(database: Engine) -> bool:
    return (_count(database, Definition), _count(database, Deployment), _count(database, AuditEvent)) == (0, 0, 0)


def _failed_cleanly(result: Result) -> bool:
    """Exit 1 through typer.Exit, not an escaped exception with a traceback."""
    return result.exit_code == 1 and (result.exception is None or isinstance(result.exception, SystemExit))


# --- db upgrade and deploy -----------------------------------------------------------------

def test_db_upgrade_creates_the_schema_and_is_repeatable(tixi: Tixi, database: Engine, tmp_path: Path) -> None:
    first = tixi("db", "upgrade")
    assert first.exit_code == 0, first.output
    assert "newest schema" in first.stdout
    assert (tmp_path / "x.db").exists()
    again = tixi("db", "upgrade")  # `make run` upgrades on every start
    assert again.exit_code == 0, again.output
    with Session(database) as session:
        assert set(session.scalars(select(Group.group_id))) == STANDARD_GROUPS  # seeded once, not twice
        assert session.scalar(select(func.count()).select_from(User)) == 0


def test_deploy_before_db_upgrade_says_to_upgrade(tixi: Tixi, database: Engine) -> None:
    # The first thing a new operator gets wrong: the CLI should say what to do, not dump a traceback.
    result = tixi("deploy", "processes/")
    assert _failed_cleanly(result), f"escaped {type(result.exception).__name__}: {result.exception}"
    assert "tixi db upgrade" in result.stderr


def _deployable_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in {".bpmn", ".dmn"})


def _progress_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("[")]


def _assert_stdout_names_no_version(output: str) -> None:
    assert not re.search(r"\bv\d+\b", output), output  # nothing claims to be deployed


def test_deploy_folder_shows_progress_and_stores_every_process(migrated: Tixi, database: Engine) -> None:
    files = _deployable_files(ROOT / "processes")
    result = migrated("deploy", "processes/")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    progress = _progress_lines(result.stdout)
    assert [line.split(" ", 1)[0] for line in progress] == [f"[{n}/{len(files)}]" for n in range(1, len(files) + 1)]
    assert sorted(next(f.name for f in files if f.name in line) for line in progress) == [f.name for f in files]
    with Session(database) as session:
        stored = session.execute(select(Definition.key, Definition.version, Definition.deployed_by)).all()
    assert {"outlet_onboarding", "outlet_revocation"} <= {key for key, _, _ in stored}
    assert {(version, by) for _, version, by in stored} == {(1, "cli")}
    for key, _, _ in stored:
        assert f"{key} v1" in result.stdout  # every stored version is printed


def test_deploy_takes_service_receive_tasks_and_a_dmn_file_of_two_decisions(migrated: Tixi, database: Engine,
                                                                             tmp_path: Path) -> None:
    for name in ("repair_rules.dmn", "repair_routing.bpmn", "external_review.bpmn", "parts_order_messages.bpmn"):
        (tmp_path / name).write_bytes((TEST_PROCESSES / name).read_bytes())
    result = migrated("deploy", str(tmp_path))
    assert result.exit_code == 0, result.output
    with Session(database) as session:
        keys = set(session.scalars(select(Definition.key)))
    assert keys == {"warranty_cover", "repair_route", "repair_routing", "external_review", "parts_order_messages"}


def test_redeploy_is_idempotent(migrated: Tixi, database: Engine) -> None:
    first = migrated("deploy", "processes/")
    assert first.exit_code == 0, first.output
    counts = (_count(database, Definition), _count(database, Deployment), _count(database, AuditEvent))
    again = migrated("deploy", "processes/")
    assert again.exit_code == 0, again.output
    assert again.stdout == first.stdout  # the same versions printed
    # No new version, deployment or audit row the second time.
    assert (_count(database, Definition), _count(database, Deployment), _count(database, AuditEvent)) == counts
    with Session(database) as session:
        assert set(session.scalars(select(Definition.version))) == {1}


def test_deploy_single_file_and_a_changed_file_gets_a_new_version(migrated: Tixi, tmp_path: Path) -> None:
    source = TEST_PROCESSES / "two_step_review.bpmn"
    first = migrated("deploy", str(source))
    assert first.exit_code == 0, first.output
    assert _progress_lines(first.stdout)[0].startswith("[1/1] ")
    assert first.stdout.strip().endswith("two_step_review v1")
    changed = tmp_path / "two_step_review.bpmn"
    changed.write_text(source.read_text(encoding="utf-8").replace("审核 / Review", "复核 / Re-review"),
                       encoding="utf-8")
    second = migrated("deploy", str(changed))
    assert second.exit_code == 0, second.output
    assert second.stdout.strip().endswith("two_step_review v2")


def test_deploy_missing_path_fails_with_a_message(migrated: Tixi, database: Engine, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    result = migrated("deploy", str(missing))
    assert _failed_cleanly(result), result.output
    assert f"{missing} does not exist" in result.stderr
    assert result.stdout == ""
    assert _nothing_deployed(database)


def test_deploy_folder_with_broken_bpmn_fails_and_stores_nothing(migrated: Tixi, database: Engine,
                                                                 tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "broken.bpmn").write_text(BROKEN_BPMN, encoding="utf-8")
    result = migrated("deploy", str(folder))
    assert _failed_cleanly(result), result.output
    assert "broken.bpmn" in result.stderr
    assert "not well-formed XML" in result.stderr
    _assert_stdout_names_no_version(result.stdout)
    assert _nothing_deployed(database)


def test_deploy_with_unknown_form_fails_naming_element_and_form(migrated: Tixi, database: Engine,
                                                               tmp_path: Path) -> None:
    bad = tmp_path / "unknown_form.bpmn"
    source = (TEST_PROCESSES / "two_step_review.bpmn").read_text(encoding="utf-8")
    bad.write_text(source.replace('camunda:formKey="rcc_site_review"', 'camunda:formKey="no_such_form"'),
                   encoding="utf-8")
    result = migrated("deploy", str(bad))
    assert _failed_cleanly(result), result.output
    assert "form 'no_such_form' does not exist" in result.stderr
    assert "element review:" in result.stderr  # the user task at fault
    _assert_stdout_names_no_version(result.stdout)
    assert _nothing_deployed(database)


def test_deploy_folder_with_one_broken_file_stores_none_of_them(migrated: Tixi, database: Engine,
                                                               tmp_path: Path) -> None:
    # A folder is one deployment (processes may call each other): the good file is not stored either.
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a_review.bpmn").write_bytes((TEST_PROCESSES / "two_step_review.bpmn").read_bytes())
    (folder / "b_broken.bpmn").write_text(BROKEN_BPMN, encoding="utf-8")
    result = migrated("deploy", str(folder))
    assert _failed_cleanly(result), result.output
    assert "b_broken.bpmn" in result.stderr and "not well-formed XML" in result.stderr
    _assert_stdout_names_no_version(result.stdout)
    assert _nothing_deployed(database)


# --- users ---------------------------------------------------------------------------------

def test_users_add_creates_a_user_who_can_log_in(migrated: Tixi, database: Engine) -> None:
    result = migrated("users", "add", "li.na", "--password", "s3cret-pass", "-g", "rcc_agent", "--name", "李娜")
    assert result.exit_code == 0, result.output
    assert "created li.na in rcc_agent" in result.stdout
    with Session(database) as session:
        actor = authenticate(session, "li.na", "s3cret-pass")
        user = session.scalars(select(User).where(User.username == "li.na")).one()
        assert (user.display_name, user.is_active, user.is_demo) == ("李娜", True, False)
    assert actor.groups == frozenset({"rcc_agent"})


def test_service_account_add_prints_a_key_that_is_stored_hashed_and_revoke_ends_it(migrated: Tixi,
                                                                                  database: Engine) -> None:
    result = migrated("service-account", "add", "parts-worker")
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().rsplit(" ", 1)[-1]
    assert key.startswith("tixi_") and "shown this once" in result.stdout
    with Session(database) as session:
        account = session.scalars(select(ServiceAccount)).one()
        assert account.name == "parts-worker" and key not in account.key_hash
        assert password_matches(account.key_hash, key)
    taken = migrated("service-account", "add", "parts-worker")
    assert _failed_cleanly(taken) and "is taken" in taken.stderr
    assert migrated("service-account", "revoke", "parts-worker").exit_code == 0
    with Session(database) as session:
        assert session.scalars(select(ServiceAccount)).one().revoked_at is not None
    assert "no service account 'nobody'" in migrated("service-account", "revoke", "nobody").stderr


def test_service_account_add_with_groups_scopes_it_and_refuses_people_only_groups(migrated: Tixi,
                                                                                  database: Engine) -> None:
    result = migrated("service-account", "add", "hotline", "-g", "rcc_agent")
    assert result.exit_code == 0, result.output
    assert "acting in rcc_agent" in result.stdout
    with Session(database) as session:
        assert service_actor(session, SystemClock(), "hotline") == Actor(
            "hotline", frozenset({"rcc_agent", SERVICE_ACCOUNT_GROUP}))
    refused = migrated("service-account", "add", "deployer", "-g", "designer")
    assert _failed_cleanly(refused) and "administering and deploying stay with people" in refused.stderr
    with Session(database) as session:
        assert session.scalars(select(ServiceAccount.name)).all() == ["hotline"]


def test_users_add_prompts_for_the_password_twice(migrated: Tixi, database: Engine) -> None:
    result = migrated("users", "add", "wang.wei", "-g", "rcc_agent", "-g", "rcc_visitor",
                      input="s3cret-pass\ns3cret-pass\n")
    assert result.exit_code == 0, result.output
    assert "s3cret-pass" not in result.output  # hidden input
    with Session(database) as session:
        assert authenticate(session, "wang.wei", "s3cret-pass").groups == frozenset({"rcc_agent", "rcc_visitor"})


def test_users_add_unknown_group_fails_and_creates_nobody(migrated: Tixi, database: Engine) -> None:
    result = migrated("users", "add", "li.na", "--password", "s3cret-pass", "-g", "rcc_agent", "-g", "astronauts")
    assert _failed_cleanly(result), result.output
    assert "unknown group(s): astronauts" in result.stderr
    assert result.stdout == ""
    assert (_count(database, User), _count(database, Membership), _count(database, AuditEvent)) == (0, 0, 0)


def test_users_add_taken_name_fails(migrated: Tixi, database: Engine) -> None:
    assert migrated("users", "add", "li.na", "--password", "s3cret-pass", "-g", "rcc_agent").exit_code == 0
    again = migrated("users", "add", "li.na", "--password", "other-pass", "-g", "csd_head")
    assert _failed_cleanly(again), again.output
    assert "user 'li.na' already exists" in again.stderr
    with Session(database) as session:
        assert authenticate(session, "li.na", "s3cret-pass").groups == frozenset({"rcc_agent"})
    assert _count(database, User) == 1


@pytest.mark.parametrize(("name", "password", "message"), [
    ("Li Na", "s3cret-pass", "username must be"),
    ("li.na", "short", "at least 8 characters"),
])
def test_users_add_refuses_bad_name_or_short_password(migrated: Tixi, database: Engine, name: str, password: str,
                                                      message: str) -> None:
    result = migrated("users", "add", name, "--password", password, "-g", "rcc_agent")
    assert _failed_cleanly(result), result.output
    assert message in result.stderr
    assert _count(database, User) == 0


def test_users_demo_creates_then_disable_locks_them_out(migrated: Tixi, database: Engine) -> None:
    created = migrated("users", "demo")
    assert created.exit_code == 0, created.output
    assert created.stdout.startswith("demo users: ")
    assert set(created.stdout.removeprefix("demo users: ").strip().split(", ")) == STANDARD_GROUPS
    with Session(database) as session:
        for group in STANDARD_GROUPS:
            assert authenticate(session, group, "demo").groups == frozenset({group})

    assert migrated("users", "demo").exit_code == 0  # again: nobody is created twice
    assert _count(database, User) == len(STANDARD_GROUPS)

    disabled = migrated("users", "demo", "--disable")
    assert disabled.exit_code == 0, disabled.output
    assert "demo users disabled" in disabled.stdout
    with Session(database) as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.event_type == "demo_users_disabled")).one()
        assert event.data == {"usernames": sorted(STANDARD_GROUPS)}  # and their tokens ended with them
        for group in STANDARD_GROUPS:
            with pytest.raises(AuthenticationError):
                authenticate(session, group, "demo")

    assert migrated("users", "demo", "--enable").exit_code == 0
    with Session(database) as session:
        assert authenticate(session, "admin", "demo").is_admin


def test_users_demo_disable_leaves_real_users_alone(migrated: Tixi, database: Engine) -> None:
    assert migrated("users", "add", "li.na", "--password", "s3cret-pass", "-g", "rcc_agent").exit_code == 0
    assert migrated("users", "demo").exit_code == 0
    assert migrated("users", "demo", "--disable").exit_code == 0
    with Session(database) as session:
        assert authenticate(session, "li.na", "s3cret-pass").username == "li.na"


def test_users_unlock_clears_a_lockout_and_records_who(migrated: Tixi, database: Engine) -> None:
    assert migrated("users", "add", "li.na", "--password", "s3cret-pass", "-g", "rcc_agent").exit_code == 0
    policy = LockoutPolicy(failures=2)
    with Session(database) as session, session.begin():
        for _ in range(2):
            record_login_failure(session, SystemClock(), username="li.na", address="10.0.0.9", policy=policy)
    with Session(database) as session:
        assert session.scalars(select(User.locked_until_at).where(User.username == "li.na")).one() is not None
    result = migrated("users", "unlock", "li.na")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "li.na unlocked"
    with Session(database) as session:
        assert session.scalars(select(User.locked_until_at).where(User.username == "li.na")).one() is None
        event = session.scalars(select(AuditEvent).where(AuditEvent.event_type == "user_unlocked")).one()
        assert (event.actor, event.data) == ("cli", {"username": "li.na", "was_locked": True})
    missing = migrated("users", "unlock", "nobody")
    assert _failed_cleanly(missing), missing.output
    assert "no user 'nobody'" in missing.stderr


def test_serve_refuses_a_token_lifetime_above_a_day(tmp_path: Path) -> None:
    env = {"TIXI_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "TIXI_SECRET_FILE": str(tmp_path / "secret.key"),
           "TIXI_TOKEN_MINUTES": str(100 * 365 * 24 * 60)}
    result = CliRunner().invoke(app, ["serve"], env=env)
    assert _failed_cleanly(result), result.output
    assert "TIXI_TOKEN_MINUTES is 52560000; set it between 1 and 1440" in result.stderr


# --- the installed console script ----------------------------------------------------------

def test_installed_console_script_shows_help(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "tixi"
    assert script.exists(), f"console script not installed next to {sys.executable}"
    env = {**os.environ, "TIXI_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
           "TIXI_SECRET_FILE": str(tmp_path / "secret.key")}
    completed = subprocess.run([str(script), "--help"], capture_output=True, text=True, env=env, cwd=tmp_path,
                               timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr
    for command in ("db", "deploy", "users", "serve", "worker"):
        assert command in completed.stdout
    assert not (tmp_path / "x.db").exists()  # --help touches no database


# --- calendar ------------------------------------------------------------------------------


def test_calendar_load_ships_the_2026_holidays(migrated: Tixi, database: Engine, tmp_path: Path) -> None:
    from engine.tables import CalendarDay

    result = migrated("calendar", "load", "calendars/cn-2026.json")
    assert result.exit_code == 0, result.output
    assert "loaded 39 calendar day(s)" in result.output
    with Session(database) as session:
        national_day = session.get(CalendarDay, date(2026, 10, 1))
        make_up = session.get(CalendarDay, date(2026, 10, 10))
    assert national_day is not None and national_day.kind == "holiday"
    assert make_up is not None and make_up.kind == "workday"
    bad = tmp_path / "bad.json"
    bad.write_text('{"days": [{"day": "2026-13-01", "kind": "holiday", "name": "x"}]}')
    refused = migrated("calendar", "load", str(bad))
    assert _failed_cleanly(refused)
    assert "expected a JSON object" in refused.output
    wrong_kind = tmp_path / "kind.json"
    wrong_kind.write_text('{"days": [{"day": "2026-12-01", "kind": "party", "name": "x"}]}')
    assert _failed_cleanly(migrated("calendar", "load", str(wrong_kind)))
    assert _count(database, CalendarDay) == 39


def test_audit_verify_on_a_fresh_database(migrated: Tixi) -> None:
    result = migrated("audit", "verify")
    assert result.exit_code == 0
    assert "every chain is intact" in result.output


def test_deploy_folder_carries_its_notification_templates_and_refuses_a_broken_one(migrated: Tixi, database: Engine,
                                                                                   tmp_path: Path) -> None:
    # A folder's notification_templates/*.txt go with its processes; a README.txt no notice names is left out.
    folder = tmp_path / "with_templates"
    shutil.copytree(TEST_PROCESSES / "deployed_templates", folder)
    result = migrated("deploy", str(folder))
    assert result.exit_code == 0, result.output
    assert "deployed process deployed_notices v1" in result.stdout
    with Session(database) as session:
        elements = session.scalars(select(Definition.elements).where(Definition.key == "deployed_notices")).one()
    assert "template version one" in elements["notifications"]["text_customer"]["source"]

    (folder / "notification_templates" / "visit_booked.txt").write_text("{% if %}\n\nbody", encoding="utf-8")
    broken = migrated("deploy", str(folder))
    assert _failed_cleanly(broken), broken.output
    assert "element text_customer:" in broken.stderr and "template 'visit_booked' does not render" in broken.stderr
    with Session(database) as session:
        assert list(session.scalars(select(Definition.version).where(Definition.key == "deployed_notices"))) == [1]
