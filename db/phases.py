"""A run's training phases (frozen backbone, fine-tuning) and its parameter counts."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.entities import TrainingPhase
from db.models import Run, RunStatus
from db.queue import update_held_run


def record_phase(session: Session, run_id: int, attempt: int, phase: TrainingPhase) -> bool:
    """Record that `phase` begins at its epoch; False if `attempt` no longer holds the run.

    Phases recorded from that epoch on by an earlier attempt are replaced, so a run restarted
    from scratch, or resumed just before its switch to fine-tuning, records each phase once.
    The run's parameter columns take the new phase's counts.
    """
    current = session.scalar(
        select(Run.phases).where(
            Run.id == run_id, Run.attempt == attempt, Run.status == RunStatus.RUNNING
        )
    )
    kept = [item for item in current or () if int(item["epoch"]) < phase.epoch]
    values = {
        "phases": [*kept, phase.to_json()],
        "total_params": phase.total_params,
        "trainable_params": phase.trainable_params,
    }
    return update_held_run(session, run_id, attempt, values)
