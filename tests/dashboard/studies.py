"""A lab with runs of several studies, for the Runs and Compare pages' tests.

`seed_studies` adds to the `lab` fixture's runs a study "seeds": Adam and SGD, each trained with
seeds 0 and 1 (so a band has repeats to summarise), the Adam runs tagged "baseline", plus one
SGD run at batch size 32.
"""

from __future__ import annotations

from dataclasses import dataclass

from db.entities import EpochRecord
from db.metrics import record_epoch
from db.queue import claim_next
from db.session import Database
from tests.dashboard.conftest import Lab, queue_one, succeed


@dataclass(frozen=True)
class StudyLab:
    lab: Lab
    adam0: int
    adam1: int
    sgd0: int
    sgd1: int
    sgd_batch32: int

    @property
    def seeds_study(self) -> list[int]:
        return [self.adam0, self.adam1, self.sgd0, self.sgd1, self.sgd_batch32]


def trained(database: Database, name: str, skill: float, epochs: int = 4, **fields: object) -> int:
    """Queue a run of study "seeds" ahead of the others, record `epochs` epochs whose accuracy
    grows with `skill` (best at the second to last epoch), and finish it as succeeded."""
    queue_one(database, name, priority=10, epochs=epochs, study="seeds", **fields)
    with database.begin() as session:
        claimed = claim_next(session, "study-worker")
    assert claimed is not None and claimed.name == name
    for epoch in range(1, epochs + 1):
        peak = min(epoch, epochs - 1)
        record = EpochRecord(
            epoch=epoch,
            loss=1.0 / (epoch * skill),
            accuracy=min(0.3 + 0.15 * epoch * skill, 1.0),
            val_loss=1.2 / (peak * skill),
            val_accuracy=min(0.25 + 0.12 * peak * skill, 1.0) - (0.01 if epoch == epochs else 0),
            learning_rate=0.001,
            epoch_seconds=2.0 + skill,
        )
        with database.begin() as session:
            assert record_epoch(session, claimed.id, claimed.attempt, record)
    with database.begin() as session:
        succeed(session, claimed, f"all {epochs} epochs done")
    return claimed.id


def seed_studies(lab: Lab) -> StudyLab:
    database = lab.database
    baseline = ["baseline"]
    adam0 = trained(database, "adam-s0", 1.2, optimizer="adam", seed=0, tags=baseline)
    adam1 = trained(database, "adam-s1", 1.1, optimizer="adam", seed=1, tags=baseline)
    sgd0 = trained(database, "sgd-s0", 0.8, optimizer="sgd", seed=0)
    sgd1 = trained(database, "sgd-s1", 0.9, optimizer="sgd", seed=1)
    sgd32 = trained(database, "sgd-b32", 0.7, optimizer="sgd", seed=0, batch_size=32)
    return StudyLab(lab, adam0, adam1, sgd0, sgd1, sgd32)
