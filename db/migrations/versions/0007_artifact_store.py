"""artifact stores: artifacts become pointers (store, location); database bytes move to
artifact_blobs

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The key each existing artifact's bytes get in the database store: runs/<run>/<kind>-<id>.
_LEGACY_KEY = (
    "'runs/' || CAST(run_id AS VARCHAR(20)) || '/' || kind || '-' || CAST(id AS VARCHAR(20))"
)


def upgrade() -> None:
    op.create_table(
        "artifact_blobs",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_artifact_blobs_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_artifact_blobs")),
    )
    with op.batch_alter_table("artifact_blobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_artifact_blobs_run_id"), ["run_id"], unique=False)

    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("store", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("location", sa.String(length=300), nullable=True))
    # Existing bytes stay in the database, now as the database store's blobs.
    op.execute(f"UPDATE artifacts SET store = 'database', location = {_LEGACY_KEY}")
    op.execute(
        "INSERT INTO artifact_blobs (key, run_id, data, size_bytes, created_at) "
        "SELECT location, run_id, data, size_bytes, created_at FROM artifacts"
    )
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.alter_column(
            "store",
            existing_type=sa.String(length=16),
            type_=sa.Enum(
                "database", "folder", name="storekind", native_enum=False, length=16
            ),
            nullable=False,
        )
        batch_op.alter_column("location", existing_type=sa.String(length=300), nullable=False)
        batch_op.alter_column("size_bytes", existing_type=sa.Integer(), type_=sa.BigInteger())
        batch_op.drop_column("data")


def downgrade() -> None:
    # Artifacts in a folder store cannot be pulled back into rows here: their pointers go.
    op.execute("DELETE FROM artifacts WHERE store <> 'database'")
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("data", sa.LargeBinary(), nullable=True))
    op.execute(
        "UPDATE artifacts SET data = "
        "(SELECT data FROM artifact_blobs WHERE artifact_blobs.key = artifacts.location)"
    )
    op.execute("DELETE FROM artifacts WHERE data IS NULL")
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.alter_column("data", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.alter_column("size_bytes", existing_type=sa.BigInteger(), type_=sa.Integer())
        batch_op.drop_column("location")
        batch_op.drop_column("store")
    with op.batch_alter_table("artifact_blobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_artifact_blobs_run_id"))
    op.drop_table("artifact_blobs")
