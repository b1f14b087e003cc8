"""Every state column takes only its enum's words: the database refuses any other (a CHECK
constraint on SQLite and PostgreSQL, migration 0014), the constraint lists exactly the
enum's members, and every member has the Vietnamese words an officer reads."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.bulletins import service as bulletins
from gateway.console import labels
from gateway.console.programmes_pages import PROGRAMME_LABELS
from gateway.db.models import Base
from gateway.db.session import make_engine, migrate
from gateway.db.states import (
    OUTCOME_KINDS,
    STATE_COLUMNS,
    BulletinStatus,
    CaseStatus,
    DeliveryState,
    OutcomeKind,
    ProgrammeRunStatus,
    TranscriptStatus,
    constraint_name,
)
from gateway.delivery import ledger
from gateway.feedback import service as cases
from tests.support.postgres import PostgresServer

COLUMNS = [pytest.param(t, c, e, id=f"{t}.{c}") for t, c, e, _ in STATE_COLUMNS]


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def engine(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    """An empty database migrated to the newest revision."""
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.url(server.create_database())
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'loa.db'}"
    engine = make_engine(url)
    await migrate(engine)
    yield engine
    await engine.dispose()


def _row(table: sa.Table, column: str, value: str, **given: Any) -> dict[str, Any]:
    """A value for every column the database requires, ``value`` in the state column."""
    row: dict[str, Any] = dict(given)
    for col in table.columns:
        if col.name in given:
            continue
        if col.name == column:
            row[col.name] = value
        elif col.primary_key and isinstance(col.type, sa.Integer):
            continue
        elif col.nullable or col.server_default is not None:
            continue
        elif isinstance(col.type, sa.Boolean):
            row[col.name] = False
        elif isinstance(col.type, sa.Integer | sa.Float):
            row[col.name] = 1
        elif isinstance(col.type, sa.JSON):
            row[col.name] = "[]"
        elif isinstance(col.type, sa.Enum):  # another state column of the table
            row[col.name] = col.type.enums[0]
        elif isinstance(getattr(col.type, "impl", col.type), sa.DateTime):
            row[col.name] = datetime(2026, 11, 26, 8, 0)
        else:
            row[col.name] = f"x{len(row)}{value}"[: getattr(col.type, "length", None) or 40]
    return row


async def _insert(engine: AsyncEngine, table: str, column: str, value: str) -> None:
    """A raw insert (no Python-side type in the way: the database alone decides), with
    foreign keys off so that the row needs nothing else."""
    model = Base.metadata.tables[table]
    row = _row(model, column, value)
    plain = sa.table(table, *(sa.column(name) for name in row))
    async with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await connection.commit()
        else:
            await connection.exec_driver_sql("SET session_replication_role = replica")  # FK triggers off, CHECKs on
        try:
            await connection.execute(sa.insert(plain).values(row))
            await connection.commit()
        finally:
            if engine.dialect.name == "sqlite":
                await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                await connection.commit()


@pytest.mark.parametrize(("table", "column", "enum"), COLUMNS)
@pytest.mark.asyncio
async def test_the_database_refuses_a_state_outside_the_enum(
    engine: AsyncEngine, table: str, column: str, enum: type[StrEnum]
) -> None:
    await _insert(engine, table, column, next(iter(enum)).value)  # the same row with a real state goes in
    with pytest.raises(IntegrityError, match=constraint_name(table, column)):
        await _insert(engine, table, column, "delivred")


async def _constraint_words(engine: AsyncEngine, table: str, column: str) -> set[str]:
    name = constraint_name(table, column)
    async with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            sql = (
                await connection.execute(
                    sa.text("SELECT sql FROM sqlite_master WHERE type='table' AND name=:t"), {"t": table}
                )
            ).scalar_one()
            found = re.search(rf"CONSTRAINT {name} CHECK \(([^)]*)\)", sql)
            definition = found.group(1) if found else ""
        else:
            definition = (
                await connection.execute(
                    sa.text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :n"), {"n": name}
                )
            ).scalar_one_or_none() or ""
    return set(re.findall(r"'([^']*)'", definition))


@pytest.mark.parametrize(("table", "column", "enum"), COLUMNS)
@pytest.mark.asyncio
async def test_the_constraint_lists_exactly_the_enum_members(
    engine: AsyncEngine, table: str, column: str, enum: type[StrEnum]
) -> None:
    assert await _constraint_words(engine, table, column) == {m.value for m in enum}


@pytest.mark.parametrize(("table", "column", "enum"), COLUMNS)
def test_the_models_carry_the_same_constraint(table: str, column: str, enum: type[StrEnum]) -> None:
    """A database made from the models (``create_all``) gets the constraint too."""
    col = Base.metadata.tables[table].c[column]
    assert isinstance(col.type, sa.Enum) and col.type.enum_class is enum
    assert col.type.enums == [m.value for m in enum] and col.type.name == constraint_name(table, column)
    assert not col.type.native_enum and col.type.create_constraint


@pytest.mark.asyncio
async def test_models_create_all_refuses_an_unknown_state(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'models.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    try:
        for table, column, enum, _ in STATE_COLUMNS:
            await _insert(engine, table, column, next(iter(enum)).value)
            with pytest.raises(IntegrityError, match=constraint_name(table, column)):
                await _insert(engine, table, column, "unknown-state")
    finally:
        await engine.dispose()


@pytest.mark.parametrize("kind", sorted(OUTCOME_KINDS))
@pytest.mark.asyncio
async def test_every_outcome_a_channel_reports_is_a_state_the_ledger_stores(kind: OutcomeKind) -> None:
    outcome = ledger.Outcome(kind)
    assert outcome.kind in DeliveryState and outcome.kind not in (DeliveryState.PENDING, DeliveryState.IN_PROGRESS)


def test_an_outcome_from_outside_the_type_checker_is_still_refused() -> None:
    with pytest.raises(ValueError, match="delivred"):
        ledger.Outcome("delivred")  # type: ignore[arg-type]


LABEL_TABLES = [
    pytest.param(labels.DELIVERY_STATES, DeliveryState, id="console.labels.DELIVERY_STATES"),
    pytest.param(bulletins.STATUS_LABELS, BulletinStatus, id="bulletins.STATUS_LABELS"),
    pytest.param(cases.STATUS_LABELS, CaseStatus, id="feedback.STATUS_LABELS"),
    pytest.param(cases.TRANSCRIPT_LABELS, TranscriptStatus, id="feedback.TRANSCRIPT_LABELS"),
    pytest.param(PROGRAMME_LABELS, ProgrammeRunStatus, id="console.PROGRAMME_LABELS"),
]


@pytest.mark.parametrize(("table", "enum"), LABEL_TABLES)
def test_every_state_has_vietnamese_words_and_the_table_is_keyed_by_the_enum(
    table: dict[Any, str], enum: type[StrEnum]
) -> None:
    assert all(type(key) is enum for key in table), [k for k in table if type(k) is not enum]
    assert set(table) == set(enum)
    assert all(words.strip() and words != member.value for member, words in table.items())


def test_the_console_shows_a_stored_state_in_vietnamese() -> None:
    assert labels.detail({"counts": {"delivered": 2, DeliveryState.FAILED: 1}}) == "số lượt: Đã nhận 2, Lỗi 1"


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def old(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    """A database at the revision before 0014, for an upgrade with rows in it."""
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.url(server.create_database())
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    await migrate(engine, "0010_calls")
    yield engine
    await engine.dispose()


@pytest.mark.asyncio
async def test_upgrading_a_database_with_rows_keeps_them_and_their_references(old: AsyncEngine) -> None:
    """SQLite adds a CHECK by rebuilding the table: dropping the old ``bulletins`` (which
    deliveries, cases and more refer to) must neither fail nor lose a reference."""
    tables = Base.metadata.tables
    rows = [
        ("users", _row(tables["users"], "", "", id=1)),
        ("bulletins", _row(tables["bulletins"], "status", "delivering", id=1, created_by=1)),
        ("deliveries", _row(tables["deliveries"], "state", "sent", id=1, bulletin_id=1)),
        ("sms_parts", _row(tables["sms_parts"], "state", "submitted", delivery_id=1)),
        ("cases", _row(tables["cases"], "status", "new", id=1, transcript_status="none")),
        (
            "cases",
            _row(tables["cases"], "status", "duplicate", id=2, transcript_status="none", possible_duplicate_of=1),
        ),
    ]
    async with old.begin() as connection:  # foreign keys on, as the gateway runs
        for table, row in rows:
            await connection.execute(sa.insert(sa.table(table, *(sa.column(n) for n in row))).values(row))
    await migrate(old)
    async with old.connect() as connection:
        counts = [
            (await connection.execute(sa.text(f"SELECT count(*) FROM {t}"))).scalar_one()
            for t in ("bulletins", "deliveries", "sms_parts", "cases")
        ]
        assert counts == [1, 1, 1, 2]
        if old.dialect.name == "sqlite":
            assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar_one() == 1
            assert (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all() == []
    async with old.connect() as connection:  # the references still point at the rebuilt tables
        with pytest.raises(IntegrityError):
            await connection.execute(
                sa.insert(sa.table("deliveries", *(sa.column(n) for n in rows[2][1]))).values(
                    {**rows[2][1], "id": 2, "bulletin_id": 99, "target": "other"}
                )
            )
    with pytest.raises(IntegrityError, match=constraint_name("deliveries", "state")):
        await _insert(old, "deliveries", "state", "delivred")
