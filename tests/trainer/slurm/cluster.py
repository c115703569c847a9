"""A real one-node Slurm cluster on this machine, private to one test session.

Debian's `slurm-wlm` and `munge` (`make slurm` installs them) run as root from a folder under
the session's temp dir: munged with its own key and socket, slurmctld and slurmd in the
foreground on Slurm's default ports 6817/6818, so stopping them is stopping our own children.

What works in a container, and why each setting is there:
- `ProctrackType=proctrack/linuxproc`, `TaskPlugin=task/none`: no cgroup plugins, since a
  container rarely lets us create cgroups; linuxproc follows a job's processes by parent pid,
  which is enough for scancel and time limits (our worker does not daemonise).
- `SlurmdParameters=config_overrides`: the node has `CPUs=2` whatever the machine reports, so
  two one-CPU jobs run at once here and on CI alike.
- `AccountingStorageType=accounting_storage/none`, `JobAcctGatherType=jobacct_gather/none`: no
  slurmdbd, hence no sacct; the dispatcher reads squeue, which keeps ended jobs for MinJobAge.
- `MinJobAge=600`: ended jobs stay visible to squeue for the whole session.
- `KillWait=10`: scancel's SIGKILL follows its SIGTERM after 10 s (default 30); a worker hands
  its run back within one batch.
- `MpiDefault=none`: Debian's pmix plugin cannot load here and would only log errors.
- `NodeAddr=127.0.0.1`: the host name need not resolve.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

CONTROLLER_PORT = 6817
NODE_PORT = 6818
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scancel", "sinfo", "scontrol")
START_SECONDS = 60


class ClusterUnavailable(RuntimeError):
    """Slurm cannot run here; the message says what is missing."""


def node_name() -> str:
    return socket.gethostname().split(".")[0]


def check_prerequisites() -> None:
    """Raise ClusterUnavailable unless this machine can run the cluster."""
    missing = [name for name in (*DAEMONS, *CLIENTS) if shutil.which(name) is None]
    if missing:
        raise ClusterUnavailable(
            f"{', '.join(missing)} not installed: `make slurm` (apt-get install slurm-wlm munge)"
        )
    if os.geteuid() != 0:
        raise ClusterUnavailable("the Slurm tests start slurmd, which must run as root")
    for port in (CONTROLLER_PORT, NODE_PORT):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                raise ClusterUnavailable(
                    f"port {port} is taken: a Slurm daemon from an earlier run is still up"
                )


class SlurmCluster:
    """Writes the config, starts munged, slurmctld and slurmd, and stops them again."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf = root / "slurm.conf"
        self.socket = root / "munge" / "munge.socket"
        self.logs = root / "log"
        self.environ = {**os.environ, "SLURM_CONF": str(self.conf)}
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []

    def write_config(self) -> None:
        for folder in ("state", "spool", "log", "keys", "munge"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        (self.root / "keys").chmod(0o700)
        key = self.root / "keys" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        host = node_name()
        self.conf.write_text(
            "\n".join(
                [
                    "ClusterName=labtest",
                    f"SlurmctldHost={host}(127.0.0.1)",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    f"SlurmctldPort={CONTROLLER_PORT}",
                    f"SlurmdPort={NODE_PORT}",
                    "AuthType=auth/munge",
                    "CredType=cred/munge",
                    f"AuthInfo=socket={self.socket}",
                    f"StateSaveLocation={self.root / 'state'}",
                    f"SlurmdSpoolDir={self.root / 'spool'}",
                    f"SlurmctldPidFile={self.root / 'slurmctld.pid'}",
                    f"SlurmdPidFile={self.root / 'slurmd.pid'}",
                    f"SlurmctldLogFile={self.logs / 'slurmctld.log'}",
                    f"SlurmdLogFile={self.logs / 'slurmd.log'}",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_CPU",
                    "SlurmdParameters=config_overrides",
                    "MpiDefault=none",
                    "JobAcctGatherType=jobacct_gather/none",
                    "AccountingStorageType=accounting_storage/none",
                    "JobCompType=jobcomp/none",
                    "ReturnToService=2",
                    "MinJobAge=600",
                    "KillWait=10",
                    f"NodeName={host} NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN",
                    "PartitionName=lab Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )

    def start(self) -> None:
        self.write_config()
        munge_dir = self.root / "munge"
        self._spawn(
            "munged",
            "munged",
            "--foreground",
            "--force",  # our temp dirs are private (0700); munged wants world-traversable ones
            f"--socket={self.socket}",
            f"--key-file={self.root / 'keys' / 'munge.key'}",
            f"--log-file={self.logs / 'munged.log'}",
            f"--pid-file={munge_dir / 'munged.pid'}",
            f"--seed-file={munge_dir / 'munged.seed'}",
        )
        self._wait_for(self.socket.exists, "munged's socket")
        self._spawn("slurmctld", "slurmctld", "-D", "-i", "-f", str(self.conf))
        self._wait_for(lambda: self.run("sinfo", check=False).returncode == 0, "slurmctld")
        self._spawn("slurmd", "slurmd", "-D", "-f", str(self.conf))
        self._wait_for(lambda: self.node_state() == "idle", "the node to be idle")

    def _spawn(self, name: str, *command: str) -> None:
        log = (self.logs / f"{name}.out").open("wb")
        process = subprocess.Popen(
            command, env=self.environ, stdout=log, stderr=subprocess.STDOUT, cwd=self.root
        )
        self.processes.append((name, process))

    def _wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + START_SECONDS
        while not condition():
            for name, process in self.processes:
                if process.poll() is not None:
                    raise ClusterUnavailable(
                        f"{name} exited ({process.returncode})\n{self.tails()}"
                    )
            if time.monotonic() > deadline:
                raise ClusterUnavailable(f"no {what} after {START_SECONDS} s\n{self.tails()}")
            time.sleep(0.2)

    def node_state(self) -> str:
        done = self.run("sinfo", "--noheader", "--Node", "--format=%T", check=False)
        return done.stdout.strip().rstrip("*") if done.returncode == 0 else ""

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A Slurm client command against this cluster; `check` fails with Slurm's message."""
        done = subprocess.run(
            args, env=self.environ, capture_output=True, text=True, timeout=60, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr}")
        return done

    def job_ids(self, states: str = "PENDING,RUNNING,COMPLETING,CONFIGURING") -> list[str]:
        done = self.run("squeue", "--noheader", f"--states={states}", "--format=%i")
        return done.stdout.split()

    def cancel_all(self, timeout: float = 60) -> None:
        """Cancel every job and wait until none is left running: the next test starts idle."""
        ids = self.job_ids()
        if ids:
            self.run("scancel", *ids, check=False)
        deadline = time.monotonic() + timeout
        while self.job_ids() and time.monotonic() < deadline:
            time.sleep(0.2)

    def tails(self) -> str:
        parts = []
        for log in sorted(self.logs.glob("*")):
            parts.append(f"--- {log.name} ---\n{log.read_text(errors='replace')[-1500:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        self.cancel_all(timeout=20)
        for _name, process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        self.processes.clear()
