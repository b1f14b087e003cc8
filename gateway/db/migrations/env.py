"""Alembic environment: migrations run on the connection the gateway hands over
(``loa serve`` and ``loa db upgrade`` call gateway.db.session.migrate)."""

from __future__ import annotations

from alembic import context

from gateway.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through gateway.db.session.migrate (loa db upgrade)")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
