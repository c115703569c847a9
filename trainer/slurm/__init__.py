"""Slurm schedules the workers: a dispatcher submits `trainer worker --max-runs 1` jobs."""
