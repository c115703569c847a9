"""Slurm dispatchers and the jobs they submitted

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29

Two new tables; no existing table changes, so existing runs, workers and attempts are untouched.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slurm_dispatchers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("template", sa.String(length=1000), nullable=False),
        sa.Column("partition", sa.String(length=200), nullable=True),
        sa.Column("max_jobs", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("error_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slurm_dispatchers")),
        sa.UniqueConstraint("name", name=op.f("uq_slurm_dispatchers_name")),
    )
    op.create_table(
        "slurm_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("dispatcher_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=True),
        sa.Column("worker_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("node", sa.String(length=200), nullable=True),
        sa.Column("log_path", sa.String(length=1000), nullable=True),
        sa.Column("exit_code", sa.String(length=16), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["dispatcher_id"],
            ["slurm_dispatchers.id"],
            name=op.f("fk_slurm_jobs_dispatcher_id_slurm_dispatchers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_slurm_jobs_run_id_runs"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["workers.id"],
            name=op.f("fk_slurm_jobs_worker_id_workers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slurm_jobs")),
        sa.UniqueConstraint("job_id", name=op.f("uq_slurm_jobs_job_id")),
    )
    with op.batch_alter_table("slurm_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slurm_jobs_ended_at"), ["ended_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_slurm_jobs_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("slurm_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slurm_jobs_run_id"))
        batch_op.drop_index(batch_op.f("ix_slurm_jobs_ended_at"))
    op.drop_table("slurm_jobs")
    op.drop_table("slurm_dispatchers")
