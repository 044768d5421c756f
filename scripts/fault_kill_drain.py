"""Issue 14's fault run: 20 SIGKILLs of the worker's whole process group over a 2,000-job drain.

Runs the suite's test (tests/jobs/test_batches.py::test_worker_killed_mid_batch_...) at full size:
every job must end ``completed`` exactly once, and only a job whose handler was running when its
worker died may show an extra run (attempt history ``stalled``). Prints the test's figures.

    REDIS_URL=redis://127.0.0.1:6379/<n> [DATABASE_URL=...] .venv/bin/python scripts/fault_kill_drain.py
"""

import os
import subprocess
import sys

TEST = (
    "tests/jobs/test_batches.py::"
    "test_worker_killed_mid_batch_every_job_ends_once_and_only_running_ones_ran_twice"
)

if __name__ == "__main__":
    env = dict(os.environ)
    env.setdefault("FAULT_JOBS", "2000")
    env.setdefault("FAULT_KILLS", "20")
    sys.exit(subprocess.call([sys.executable, "-m", "config.devstack", "test", TEST, "-q", "-s"], env=env))
