"""Reading runs for listings, the CLI and the dashboard."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from db.driver_rows import decode_json, driver_rows, json_positions
from db.entities import RunRecord
from db.models import Artifact, ArtifactKind, Run, RunSource, RunStatus


def get_run(session: Session, run_id: int) -> RunRecord | None:
    row = session.get(Run, run_id)
    return RunRecord.from_row(row) if row is not None else None


def run_table(
    session: Session,
    fields: Sequence[str],
    *,
    statuses: Sequence[RunStatus] | None = None,
    study: str | None = None,
    run_ids: Sequence[int] | None = None,
    limit: int | None = None,
    json_as_text: Collection[str] = (),
    sources: Sequence[RunSource] | None = None,
) -> list[tuple[Any, ...]]:
    """Chosen columns of runs (newest first) as plain tuples, filtered like `list_runs`.

    The dashboard lists thousands of runs per refresh; driver rows skip the ORM and
    SQLAlchemy's per-row work, which is most of the cost. JSON columns are decoded here,
    except those in `json_as_text`, left as the driver gives them (text on SQLite, decoded on
    PostgreSQL) for a caller that opens few of them: decoding every run's config is most of
    the list's time. Timestamps are the driver's (datetimes, or ISO text on SQLite).
    """
    columns = [Run.__table__.c[name] for name in fields]
    statement = _filtered(select(*columns), statuses, study, run_ids, limit, sources)
    decode = [i for i in json_positions(statement) if fields[i] not in json_as_text]
    return decode_json(driver_rows(session, statement), decode)


def _filtered(
    statement: Select[Any],
    statuses: Sequence[RunStatus] | None,
    study: str | None,
    run_ids: Sequence[int] | None,
    limit: int | None,
    sources: Sequence[RunSource] | None = None,
) -> Select[Any]:
    statement = statement.order_by(Run.id.desc())
    if statuses:
        statement = statement.where(Run.status.in_(list(statuses)))
    if sources:
        statement = statement.where(Run.source.in_(list(sources)))
    if study is not None:
        statement = statement.where(Run.study == study)
    if run_ids is not None:
        statement = statement.where(Run.id.in_(list(run_ids)))
    if limit is not None:
        statement = statement.limit(limit)
    return statement


def list_runs(
    session: Session,
    *,
    statuses: Sequence[RunStatus] | None = None,
    study: str | None = None,
    run_ids: Sequence[int] | None = None,
    limit: int | None = None,
    sources: Sequence[RunSource] | None = None,
) -> list[RunRecord]:
    """Runs newest first, optionally filtered by status, study, ids or source."""
    statement = _filtered(select(Run), statuses, study, run_ids, limit, sources)
    return [RunRecord.from_row(row) for row in session.scalars(statement)]


def runs_with_model(session: Session) -> list[RunRecord]:
    """Succeeded runs that have a stored model, newest first (what Predict can use)."""
    statement = (
        select(Run)
        .join(Artifact, (Artifact.run_id == Run.id) & (Artifact.kind == ArtifactKind.MODEL))
        .where(Run.status == RunStatus.SUCCEEDED)
        .order_by(Run.id.desc())
    )
    return [RunRecord.from_row(row) for row in session.scalars(statement)]


def list_studies(session: Session) -> list[str]:
    rows = session.scalars(select(Run.study).where(Run.study.is_not(None)).distinct())
    return sorted(s for s in rows if s)


ACTIVE_OR_DONE = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.SUCCEEDED)


def runs_by_config_hash(session: Session, hashes: Sequence[str]) -> dict[str, list[int]]:
    """Queued, running or succeeded runs that train exactly these configs, by config hash."""
    found: dict[str, list[int]] = {}
    if not hashes:
        return found
    rows = session.execute(
        select(Run.config_hash, Run.id)
        .where(Run.config_hash.in_(list(set(hashes))), Run.status.in_(ACTIVE_OR_DONE))
        .order_by(Run.id)
    )
    for config_hash, run_id in rows:
        found.setdefault(config_hash, []).append(run_id)
    return found
