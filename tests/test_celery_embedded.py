"""The embedded default really works: a task queued by one process travels through the filesystem broker
under var/celery to a separate `celery worker --beat` process, which runs it.

The worker imports this module (``-I``) to learn the probe task; the task writes a file, because the
embedded default keeps no task results."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from celery import shared_task

BASE_DIR = Path(__file__).resolve().parent.parent


@shared_task(name="tests.probe_write")
def probe_write(path: str, text: str) -> None:
    Path(path).write_text(text)


_SEND = """
import sys, django
django.setup()
from tests.test_celery_embedded import probe_write
probe_write.delay(sys.argv[1], sys.argv[2])
"""


def test_task_round_trips_through_the_filesystem_broker(tmp_path):
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    # DATABASE_URL and REDIS_URL stay unset even when the suite itself runs on PostgreSQL and Redis.
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DEBUG="1", TRICHTER_VAR_DIR=str(tmp_path / "var"))
    log = tmp_path / "worker.log"
    target = tmp_path / "delivered.txt"
    with log.open("w") as log_file:
        worker = subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", "config", "worker", "--beat"),
                *("-I", "tests.test_celery_embedded", "--concurrency=1", "--loglevel=INFO"),
            ],
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        sent = subprocess.run(
            [sys.executable, "-c", _SEND, str(target), "hello from the web process"],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sent.returncode == 0, sent.stderr
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and worker.poll() is None:
            if target.exists() and "beat: Starting..." in log.read_text():
                break
            time.sleep(0.2)
        output = log.read_text()
        assert target.exists(), f"the worker did not run the task; its log:\n{output}"
        assert target.read_text() == "hello from the web process"
        assert "Connected to filesystem://" in output
        assert "beat: Starting..." in output
        assert not (BASE_DIR / "control").exists(), "the transport's control folder belongs under var/celery"
    finally:
        # Only the main process: it stops its pool and beat itself (see the Makefile's run target).
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0, log.read_text()
