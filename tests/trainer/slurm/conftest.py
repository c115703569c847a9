"""The session's Slurm cluster: started once for the tests that ask for it, stopped at the end.

On a laptop without Slurm (or not root) those tests skip; under CI=true they must run, so a
cluster that cannot start fails them instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.trainer.slurm.cluster import ClusterUnavailable, SlurmCluster, check_prerequisites


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the Slurm tests must run under CI=true: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    try:
        check_prerequisites()
    except ClusterUnavailable as error:
        _unavailable(str(error))
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
    except ClusterUnavailable as error:
        cluster.stop()
        _unavailable(str(error))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def slurm(slurm_cluster: SlurmCluster) -> Iterator[SlurmCluster]:
    """The cluster, idle at the start of the test and left idle after it."""
    slurm_cluster.cancel_all()
    yield slurm_cluster
    slurm_cluster.cancel_all()
