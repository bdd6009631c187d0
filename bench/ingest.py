"""Benchmark: event ingestion through the HTTP bulk endpoint, and event-to-score latency.

Runs a real gunicorn and a real Celery worker against PostgreSQL and Redis, posts batches of 1,000
events to ``POST /api/v1/events/`` from several client threads, and reports:

- events/s through HTTP (target ≥ 20,000 on a 2-core machine),
- the time of a raw ``COPY`` of as many events into the same table, and the ratio,
- event-to-score latency: from the request's arrival (``received_at``) to the commit of the
  transaction that applied the event (``applied_at``), p50/p95 (target p95 < 1 s).

Usage (see bench/README.md):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/trichter_bench REDIS_URL=redis://127.0.0.1:6379/7 \\
        .venv/bin/python bench/ingest.py [--batches 200] [--clients 4] [--web-workers 3]
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PORT = 8031
TYPES = [
    ("page_view", 55),
    ("email_open", 15),
    ("newsletter_click", 10),
    ("download", 10),
    ("form_submit", 4),
    ("service_call", 3),
    ("trade_fair_visit", 1),
    ("demo_request", 1),
    ("usage", 1),
]
TOPICS = ["pcb-design", "ems", "prototyping", "emc", "firmware", "", "", ""]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=200, help="batches of 1,000 events to post")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--celery-concurrency", type=int, default=2)
    args = parser.parse_args()

    env = _environment()
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("This benchmark needs PostgreSQL: set DATABASE_URL.")
    if not os.environ.get("REDIS_URL"):
        sys.exit("This benchmark needs Redis: set REDIS_URL.")

    key, contact_ids = _prepare()
    print(f"{len(contact_ids):,} contacts to spread events over; {args.batches} batches × 1,000 events.")
    batches = [_batch(contact_ids) for _ in range(args.batches)]
    bodies = [json.dumps(b).encode() for b in batches]

    processes = _start_servers(env, args)
    try:
        _wait_for_server()
        elapsed, statuses = _post_all(bodies, key, args.clients)
        accepted = statuses.get(202, 0) * 1000
        rate = accepted / elapsed
        print(f"HTTP: {accepted:,} events in {elapsed:.2f} s = {rate:,.0f} events/s  {dict(statuses)}")
        latencies = _wait_applied([e["id"] for b in batches for e in b])
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    copy_seconds = _copy_same_amount(batches)
    print(f"COPY of the same {accepted:,} events into the same table: {copy_seconds:.2f} s")
    print(f"ratio HTTP / COPY: {elapsed / copy_seconds:.1f}×")
    if latencies:
        latencies.sort()
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        median = statistics.median(latencies)
        print(
            f"event-to-score latency over {len(latencies):,} events: median {median:.3f} s, "
            f"p95 {p95:.3f} s, max {latencies[-1]:.3f} s"
        )
    return 0


def _environment() -> dict[str, str]:
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-only-" + uuid.uuid4().hex * 2,
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "LOG_LEVEL": "WARNING",
        # Ingestion is what we measure, not the throttle.
        "API_THROTTLE_USER": "1000000/min",
        "API_THROTTLE_EVENTS": "1000000/min",
    }
    return {**os.environ, **env}


def _prepare() -> tuple[str, list[int]]:
    from django.contrib.auth.models import Group, User

    from accounts.models import ApiToken
    from funnel.models import Contact

    user, _ = User.objects.get_or_create(username="bench-ingest")
    user.groups.add(Group.objects.get(name="sales"))
    _, key = ApiToken.objects.issue(user=user, name="bench/ingest.py")
    high = Contact.objects.order_by("-id").values_list("id", flat=True).first() or 0
    ids = list(Contact.objects.filter(id__gte=max(0, high - 200_000)).values_list("id", flat=True)[:200_000])
    if not ids:
        sys.exit("No contacts: run manage.py generate_data first (see bench/README.md).")
    return key, ids


def _batch(contact_ids: list[int]) -> list[dict]:
    kinds = [t for t, w in TYPES for _ in range(w)]
    return [
        {
            "id": uuid.uuid4().hex,
            "type": random.choice(kinds),
            "contact": random.choice(contact_ids),
            "topic": random.choice(TOPICS),
            "properties": {"url": random.choice(["/", "/pricing", "/blog/emc", "/services/pcb"])},
        }
        for _ in range(1000)
    ]


def _start_servers(env: dict[str, str], args) -> list[subprocess.Popen]:
    python = sys.executable
    bindir = Path(python).parent
    web = subprocess.Popen(
        [
            str(bindir / "gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--workers",
            str(args.web_workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    worker = subprocess.Popen(
        [
            str(bindir / "celery"),
            "-A",
            "config",
            "worker",
            "--loglevel=WARNING",
            f"--concurrency={args.celery_concurrency}",
        ],
        cwd=ROOT,
        env=env,
    )
    return [web, worker]


def _wait_for_server() -> None:
    for _ in range(100):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            conn.request("GET", "/login/")
            if conn.getresponse().status == 200:
                time.sleep(2)  # let the Celery worker finish starting too
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit("gunicorn did not start")


def _post_all(bodies: list[bytes], key: str, clients: int):
    queue = list(enumerate(bodies))
    lock = threading.Lock()
    statuses: dict[int, int] = {}

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
        headers = {"Authorization": f"Token {key}", "Content-Type": "application/json"}
        while True:
            with lock:
                if not queue:
                    return
                _, body = queue.pop()
            conn.request("POST", "/api/v1/events/", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            with lock:
                statuses[response.status] = statuses.get(response.status, 0) + 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, statuses


def _wait_applied(external_ids: list[str], timeout: float = 300.0) -> list[float]:
    from django.db import connection

    deadline = time.time() + timeout
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE bench_ids (external_id varchar(255) PRIMARY KEY)")
        buffer = io.StringIO("\n".join(external_ids) + "\n")
        cursor.cursor.copy_expert("COPY bench_ids FROM STDIN", buffer)
        while time.time() < deadline:
            cursor.execute(
                "SELECT count(*) FROM scoring_event e JOIN bench_ids b USING (external_id) "
                "WHERE e.applied_at IS NULL"
            )
            pending = cursor.fetchone()[0]
            if pending == 0:
                break
            time.sleep(0.5)
        else:
            print(f"{pending:,} events still not applied after {timeout:.0f} s")
        cursor.execute(
            "SELECT EXTRACT(EPOCH FROM e.applied_at - e.received_at) FROM scoring_event e "
            "JOIN bench_ids b USING (external_id) WHERE e.applied_at IS NOT NULL"
        )
        latencies = [float(row[0]) for row in cursor.fetchall()]
        cursor.execute("DROP TABLE bench_ids")
    return latencies


def _copy_same_amount(batches: list[list[dict]]) -> float:
    """COPY as many events (new ids, marked applied so no worker touches them) and remove them again."""
    from django.db import connection, transaction

    from scoring.models import EventType

    types = dict(EventType.objects.values_list("key", "id"))
    out = io.StringIO()
    now = "2026-01-01 00:00:00+00"
    for batch in batches:
        for e in batch:
            props = json.dumps(e["properties"]).replace("\\", "\\\\")
            fields = [f"copy-{uuid.uuid4().hex}", types[e["type"]], e["contact"], "", e["topic"], props]
            out.write("\t".join(map(str, [*fields, now, now, now])) + "\n")
    data = out.getvalue()
    with transaction.atomic(), connection.cursor() as cursor:
        start = time.perf_counter()
        cursor.cursor.copy_expert(
            "COPY scoring_event (external_id, type_id, contact_id, anonymous_id, topic, properties, "
            "occurred_at, received_at, applied_at) FROM STDIN",
            io.StringIO(data),
        )
        seconds = time.perf_counter() - start
        cursor.execute("DELETE FROM scoring_event WHERE external_id LIKE 'copy-%%'")
    return seconds


if __name__ == "__main__":
    raise SystemExit(main())
