"""Exit statuses of `python -m trainer worker` and `slurm dispatch` that schedulers rely on.

A systemd unit, a Kubernetes Deployment or a Slurm job can act on them: restart after 0 and
75, alert on 2 (a restart will not help), and know that 128+N means a second signal N cut the
graceful stop short (the run's lease then requeues it).
"""

from __future__ import annotations

OK = 0  # stopped as asked: --max-runs reached, --until-idle found nothing, or SIGTERM/SIGINT
FAILED = 1  # an unexpected error (Python's own status for an uncaught exception); see the log
CONFIG_ERROR = 2  # bad DATABASE_URL, stale schema, bad option or GPU: fix the setup first
# EX_TEMPFAIL: the database did not answer a one-shot command (queue, runs, slurm dispatch
# --once, ...): try later. A worker never exits for it: it waits with back-off, logging once
# a minute, and SIGTERM still stops it with 0.
DATABASE_UNAVAILABLE = 75
