"""Training phases and parameter counts: recorded as each phase begins, fenced, once each."""

from __future__ import annotations

from db.entities import TrainingPhase
from db.phases import record_phase
from db.runs import get_run
from db.session import Database
from tests.db.factories import running_run

FROZEN = TrainingPhase(1, "frozen", 1_000, 40, 1e-3)
TUNED = TrainingPhase(3, "fine_tune", 1_000, 600, 1e-5, unfrozen_layers=20)


def _phases(database: Database, run_id: int) -> tuple[TrainingPhase, ...]:
    with database.read() as session:
        run = get_run(session, run_id)
    assert run is not None
    return run.phases


def test_phases_accumulate_and_set_the_parameter_columns(database: Database) -> None:
    """A frozen phase then fine-tuning: both listed; the columns hold the latest counts."""
    run_id, attempt = running_run(database)
    for phase in (FROZEN, TUNED):
        with database.begin() as session:
            assert record_phase(session, run_id, attempt, phase)
    with database.read() as session:
        run = get_run(session, run_id)
    assert run is not None and run.phases == (FROZEN, TUNED)
    assert (run.total_params, run.trainable_params) == (1_000, 600)


def test_a_phase_recorded_again_replaces_the_later_ones(database: Database) -> None:
    """A resumed attempt re-recording a switch, or a restart from epoch 1, records it once."""
    run_id, attempt = running_run(database)
    for phase in (FROZEN, TUNED, TUNED):
        with database.begin() as session:
            record_phase(session, run_id, attempt, phase)
    assert _phases(database, run_id) == (FROZEN, TUNED)
    with database.begin() as session:
        record_phase(session, run_id, attempt, FROZEN)
    assert _phases(database, run_id) == (FROZEN,)


def test_an_attempt_that_lost_the_run_records_nothing(database: Database) -> None:
    """The write is fenced by the attempt like every other worker write."""
    run_id, attempt = running_run(database)
    with database.begin() as session:
        assert not record_phase(session, run_id, attempt + 1, FROZEN)
    with database.read() as session:
        run = get_run(session, run_id)
    assert run is not None and run.phases == () and run.total_params is None
