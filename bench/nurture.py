"""Benchmark: draining 100,000 due nurture enrollments with one Celery worker, and a fault run.

Sets up its own PostgreSQL database (``--db``, default ``trichter_bench_nurture``) with
``--contacts`` contacts (all with email consent), a sequence "email → wait 3 days", and enrolls every
contact so that all are due at once. Then, for each run, it starts ONE real Celery worker (``--pool
solo``: one process) on Redis, queues the engine and the outbox, and waits until nothing is due:

- *throughput*: steps/s of the engine (each enrollment runs two steps: the email is queued, the wait
  starts) and emails/s of the delivery, the worker using Django's locmem email backend;
- *fault*: the same drain, but the worker is killed with SIGKILL twice — once when about ``--kill-at``
  of the steps ran, once when that share of the emails was sent — and a new one started each time;
  the worker sends through a backend that appends each Message-ID to a
  file, so duplicates and missing emails are counted where the recipient would see them.

Both runs check: one step run per (enrollment, tick), one outbox email per enrollment, every email sent.

Usage (see bench/README.md):
    REDIS_URL=redis://127.0.0.1:6379/8 .venv/bin/python bench/nurture.py [--contacts 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--db", default="trichter_bench_nurture")
    parser.add_argument("--kill-at", type=float, default=0.4, help="share of steps after which to SIGKILL")
    parser.add_argument("--skip", choices=["throughput", "fault"], action="append", default=[])
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        sys.exit("Set REDIS_URL (a Redis database of its own, e.g. redis://127.0.0.1:6379/8).")
    db_url = f"postgres://postgres@127.0.0.1:5432/{args.db}"
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnop"),
        "ALLOWED_HOSTS": "localhost",
        "DEBUG": "0",
        "PYTHONPATH": f"{ROOT}:{ROOT / 'bench'}",
        # The fault run's interrupted sends are retried after this lease (production: 10 minutes).
        "NURTURE_SEND_LEASE_SECONDS": "5",
    }
    os.environ.update(env)
    _prepare_database(args, env)

    import django

    django.setup()
    results = {"contacts": args.contacts, "at": datetime.now(UTC).isoformat()}
    if "throughput" not in args.skip:
        results["throughput"] = _run(args, env, email_url="locmem://", kill_at=None)
    if "fault" not in args.skip:
        results["fault"] = _run(args, env, email_url=None, kill_at=args.kill_at)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"nurture-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nresults: {out}")
    return 0


def _prepare_database(args, env) -> None:
    exists = subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-Atc",
            f"SELECT 1 FROM pg_database WHERE datname='{args.db}'",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not exists:
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", args.db], check=True)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True)
    count = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", args.db, "-Atc", "SELECT count(*) FROM funnel_contact"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if int(count) < args.contacts:
        print(f"generating {args.contacts - int(count):,} contacts …", flush=True)
        subprocess.run(
            [*manage, "generate_data", "--contacts", str(args.contacts - int(count)), "--companies", "2000"],
            env={**env, "DEBUG": "1"},
            check=True,
        )


def _reset(contacts: int) -> int:
    """Empty the nurture tables, build the sequence, enroll ``contacts`` contacts due now."""
    from django.db import connection

    from funnel.models import Contact
    from nurturing.models import Enrollment, OutboundEmail, StepRun
    from nurturing.services import enroll, sequence_activate, sequence_save, step_save, template_save

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE nurturing_steprun, nurturing_outboundemail, nurturing_enrollment, nurturing_step, "
            "nurturing_sequence, nurturing_emailtemplate CASCADE"
        )
    Contact.objects.filter(consent_email=False).update(consent_email=True)
    template = template_save(
        name="Bench",
        subject="Hello {{ first_name }}",
        body_text="Hi {{ first_name }} from {{ company }}: https://example.com/pcb\n{{ unsubscribe_url }}",
        body_html='<p>Hi {{ first_name }}, <a href="https://example.com/pcb">read</a></p>',
    )
    sequence = sequence_save(name="Bench")
    step_save(sequence=sequence, kind="email", template=template)
    step_save(sequence=sequence, kind="wait", wait=timedelta(days=3))
    sequence = sequence_activate(sequence=sequence)
    ids = list(Contact.objects.order_by("pk").values_list("pk", flat=True)[:contacts])
    started = time.perf_counter()
    result = enroll(sequence=sequence, contact_ids=ids, now=datetime.now(UTC) - timedelta(minutes=1))
    print(f"enrolled {len(result.enrolled):,} contacts in {time.perf_counter() - started:.1f} s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE nurturing_enrollment")
    assert Enrollment.objects.count() == len(ids) and not StepRun.objects.exists()
    assert not OutboundEmail.objects.exists()
    return len(ids)


def _worker(env, email_url: str | None, log: Path, maillog: Path) -> subprocess.Popen:
    worker_env = {**env}
    if email_url:
        worker_env["EMAIL_URL"] = email_url
        worker_env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    else:
        worker_env["DJANGO_SETTINGS_MODULE"] = "nurture_settings"  # bench/nurture_settings.py
        worker_env["NURTURE_BENCH_MAILLOG"] = str(maillog)
    return subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "celery"),
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
        ],
        env=worker_env,
        cwd=ROOT,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _kick() -> None:
    from nurturing.tasks import deliver_emails, run_due_steps

    run_due_steps.delay()
    deliver_emails.delay()


def _state() -> tuple[int, int, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM nurturing_steprun")
        steps = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM nurturing_outboundemail WHERE state = 'sent'")
        sent = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM nurturing_enrollment WHERE state = 'active' AND next_run_at <= now()"
        )
        due = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM nurturing_outboundemail WHERE state NOT IN ('queued', 'sending')"
        )
        settled = cursor.fetchone()[0]
    return steps, sent, due, settled


def _run(args, env, *, email_url: str | None, kill_at: float | None) -> dict:
    from django.db import connection

    name = "fault" if kill_at else "throughput"
    print(f"\n== {name} run", flush=True)
    n = _reset(args.contacts)
    expected_steps = 2 * n
    RESULTS.mkdir(exist_ok=True)
    log = RESULTS / f"nurture-worker-{name}.log"
    maillog = RESULTS / "nurture-maillog.txt"
    maillog.unlink(missing_ok=True)
    worker = _worker(env, email_url, log, maillog)
    time.sleep(3)  # the worker connects
    started = time.perf_counter()
    _kick()
    steps_done_at = sent_done_at = None
    killed = []
    while True:
        time.sleep(0.25)
        steps, sent, due, settled = _state()
        now = time.perf_counter() - started
        # Kill once while the engine runs steps, once while the outbox is being sent.
        engine_kill = not killed and steps >= kill_at * expected_steps if kill_at else False
        delivery_kill = len(killed) == 1 and sent >= kill_at * n if kill_at else False
        if engine_kill or delivery_kill:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
            killed.append({"at_s": round(now, 2), "steps_done": steps, "sent": sent})
            print(f"SIGKILL after {now:.1f} s: {steps:,} steps, {sent:,} emails sent", flush=True)
            worker = _worker(env, email_url, log, maillog)
            time.sleep(3)
            _kick()  # in production the beat tick (every 10 s) does this
        if steps_done_at is None and steps >= expected_steps and due == 0:
            steps_done_at = now
        if settled >= n:  # every email sent, or (after a kill mid-send) unconfirmed
            sent_done_at = now
            break
        if now > 1800:
            print("giving up after 30 minutes", flush=True)
            break
    os.killpg(worker.pid, signal.SIGTERM)
    worker.wait(timeout=60)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT 1 FROM nurturing_steprun "
            "GROUP BY enrollment_id, tick HAVING count(*) > 1) d"
        )
        duplicate_runs = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM (SELECT 1 FROM nurturing_outboundemail "
            "GROUP BY enrollment_id HAVING count(*) > 1) d"
        )
        duplicate_emails = cursor.fetchone()[0]
        cursor.execute("SELECT state, count(*) FROM nurturing_outboundemail GROUP BY state")
        states = dict(cursor.fetchall())
        cursor.execute("SELECT count(*) FROM nurturing_outboundemail WHERE attempts > 1")
        resent = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM nurturing_steprun")
        steps = cursor.fetchone()[0]
    result = {
        "enrollments": n,
        "steps": steps,
        "steps_expected": expected_steps,
        "engine_seconds": round(steps_done_at, 2) if steps_done_at else None,
        "steps_per_second": round(steps / steps_done_at) if steps_done_at else None,
        "drain_seconds": round(sent_done_at, 2) if sent_done_at else None,
        "emails_per_second": round(states.get("sent", 0) / sent_done_at) if sent_done_at else None,
        "outbox_states": states,
        "duplicate_step_runs": duplicate_runs,
        "enrollments_with_two_emails": duplicate_emails,
        "emails_sent_more_than_once_by_us": resent,
    }
    if killed:
        result["killed"] = killed
        ids = maillog.read_text().split() if maillog.exists() else []
        result["provider_received"] = len(ids)
        result["provider_unique_message_ids"] = len(set(ids))
        result["provider_duplicates"] = len(ids) - len(set(ids))
        result["provider_missing"] = n - len(set(ids))
    for key, value in result.items():
        print(f"  {key}: {value}")
    return result


if __name__ == "__main__":
    raise SystemExit(main())
