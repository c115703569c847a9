"""Alembic environment: always runs on a connection handed in by db/migrate.py."""

from __future__ import annotations

from alembic import context

from db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `python -m db upgrade`, which passes a connection")

# render_as_batch: SQLite cannot ALTER most things in place; batch mode copies the table.
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
