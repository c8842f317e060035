"""The engine's configuration: one object built at start-up from TIXI_* variables, then passed down.

This is the only module of the engine that reads the environment. `create_app` and the CLI build
an `EngineConfig` (or the app's `Settings`, which extends it) once; engine code receives it, or the
values it needs, as parameters.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///var/tixi.db"
DEFAULT_FORMS_DIR = Path(__file__).resolve().parent.parent / "forms"
MAX_CASE_DATA_BYTES = 2 * 1024 * 1024


DEFAULT_CASE_NUMBERS = {
    "complaint_handling": "TS",  # 投诉
    "return_exchange": "TH",  # 退换
    "outlet_onboarding": "WD",  # 网点
    "outlet_revocation": "CX",  # 撤销
    "fee_settlement_audit": "FY",  # 费用
    "training_cycle": "PX",  # 培训
    "return_visit": "HF",  # 回访
}


class EngineConfig(BaseSettings):
    """What the engine itself needs; each field is read from TIXI_<FIELD NAME> when not given."""

    model_config = SettingsConfigDict(env_prefix="TIXI_", frozen=True, extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    forms_dir: Path = DEFAULT_FORMS_DIR
    # Rebuild every saved workflow from what was written and compare (the test suite turns this on).
    verify_state: bool = False
    # Finished tasks gathered before they are written out of the state row into a chunk of their own.
    state_spill_at: int = 64
    # Loaded workflows kept in memory between transactions, per server process (0: none), and the
    # most memory their case data may take there together.
    workflow_cache_size: int = 256
    workflow_cache_bytes: int = 64 * 1024 * 1024
    # The most a case's data (its variables, as JSON) may grow to; a step past it is refused.
    max_case_data_bytes: int = MAX_CASE_DATA_BYTES
    # Case numbers given to a case started without a business key: process key -> prefix, making
    # TS-2026-000123 (the year in the business calendar's zone). A process not listed gets none.
    # TIXI_CASE_NUMBERS='{"complaint_handling": "TS"}' replaces the whole table.
    case_numbers: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_CASE_NUMBERS))


def postgres_server_url() -> str:
    """The PostgreSQL server that tests and benchmarks make throw-away databases on."""
    url = os.environ.get("TIXI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    return url.replace("postgresql://", "postgresql+psycopg://", 1)
