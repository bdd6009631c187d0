"""Benchmark of the full score rebuild against the plain SQL aggregate (see bench/README.md).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/trichter_bench .venv/bin/python bench/rebuild.py

Needs a PostgreSQL database with contacts (``manage.py generate_data``). Adds synthetic events until
the table holds ``--events`` (generated inside PostgreSQL from ``generate_series``, marked applied),
then times, in the same run and on the same data:

(a) the plain aggregate ``SELECT contact_id, sum(points) FROM scoring_event JOIN
    scoring_engagementrule … GROUP BY contact_id`` (computed in full on the server; only its count
    is sent back), warm, median of ``--aggregate-runs``;
(b) the full rebuild through ``scoring.rebuild.rebuild_run``: every contact's per-rule, per-topic
    and per-day rows, accumulator, fit and stored scores, in batches of ``--batch-size`` contacts,
    each batch its own transaction. ``--rebuilds`` times: the first one after loading the events
    writes every row; later ones recompute the same values and write (almost) nothing.

and prints the ratio rebuild / aggregate (target ≤ 1.5). Results go to
bench/results/rebuild-<UTC timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
TARGET_RATIO = 1.5

# Event types with their share of events, roughly a B2B website with newsletters and a sales team.
TYPE_SHARES = [
    ("page_view", 0.55),
    ("email_open", 0.15),
    ("newsletter_click", 0.08),
    ("download", 0.06),
    ("form_submit", 0.04),
    ("service_call", 0.03),
    ("trade_fair_visit", 0.02),
    ("usage", 0.02),
    ("offer_sent", 0.015),
    ("consultation_request", 0.01),
    ("demo_request", 0.01),
    ("price_request", 0.01),
    ("purchase", 0.005),
]
TOPICS = ["", "", "", "", "pcb-design", "ems", "box-build", "cable-harness", "testing", "firmware"]
URLS = [
    "/",
    "/pricing",
    "/products/pcb",
    "/blog/soldering",
    "/de/preise",
    "/contact",
    "/pricing/enterprise",
    "/about",
]

AGGREGATE_SQL = """
SELECT count(*), sum(points) FROM (
    SELECT e.contact_id, sum(r.points) AS points
    FROM scoring_event e JOIN scoring_engagementrule r ON r.event_type_id = e.type_id AND r.active
    WHERE e.contact_id IS NOT NULL AND e.applied_at IS NOT NULL
    GROUP BY e.contact_id
) per_contact
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000, help="Events the table should hold.")
    parser.add_argument("--chunk", type=int, default=1_000_000, help="Events generated per transaction.")
    parser.add_argument("--batch-size", type=int, default=None, help="Contacts per rebuild batch.")
    parser.add_argument("--rebuilds", type=int, default=2, help="Full rebuilds to time (default 2).")
    parser.add_argument("--aggregate-runs", type=int, default=3, help="Timed runs of the aggregate.")
    parser.add_argument("--seed", type=float, default=0.42, help="setseed() for event generation.")
    args = parser.parse_args(argv)
    _setup_django()

    from django.db import connection

    from funnel.models import Contact
    from scoring import rebuild
    from scoring.models import ContactRuleScore, Event, RebuildJob

    if connection.vendor != "postgresql":
        print(
            "bench/rebuild.py needs PostgreSQL: set DATABASE_URL, e.g.\n  DATABASE_URL="
            "postgres://postgres@127.0.0.1:5432/trichter_bench .venv/bin/python bench/rebuild.py"
        )
        return 2
    contacts = Contact.objects.count()
    if not contacts:
        print("No contacts: run `manage.py generate_data --contacts 1000000 --companies 50000` first.")
        return 2
    events = Event.objects.count()
    if events < args.events:
        _generate_events(args.events - events, start=events, chunk=args.chunk, seed=args.seed)
        events = Event.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        pg_version = cursor.fetchone()[0]
    print(f"{contacts:,} contacts, {events:,} events; {pg_version.split(',')[0]}; {os.cpu_count()} CPUs")

    # (a) the plain aggregate, warm.
    _aggregate()  # warms the cache
    aggregate_times = [_aggregate() for _ in range(args.aggregate_runs)]
    aggregate = statistics.median(aggregate_times)
    print(f"(a) plain aggregate: median {aggregate:.2f} s of {_fmt(aggregate_times)}")

    # (b) full rebuilds through scoring.rebuild.
    rebuilds = []
    for n in range(args.rebuilds):
        from_empty = not ContactRuleScore.objects.exists()
        job = rebuild._request(by=None, reason=f"bench/rebuild.py run {n + 1}", queue=False)
        batch_times, last = [], [time.perf_counter()]

        def progress(j, batch_times=batch_times, last=last):
            now = time.perf_counter()
            batch_times.append(now - last[0])
            last[0] = now
            if j.batches % 10 == 0 or j.status == RebuildJob.Status.DONE:
                print(f"    {j.done_contacts:>9,} of {j.total_contacts:,} contacts, {j.batches} batches")

        started = time.perf_counter()
        while rebuild.rebuild_run(job_id=job.pk, batch_size=args.batch_size, progress=progress):
            pass
        seconds = time.perf_counter() - started
        job.refresh_from_db()
        assert job.status == RebuildJob.Status.DONE, job.status
        per_batch = batch_times[:-1] or batch_times  # the last call only marks the job done
        rebuilds.append(
            {
                "from_empty_score_tables": from_empty,
                "seconds": round(seconds, 3),
                "ratio": round(seconds / aggregate, 2),
                "batches": job.batches,
                "batch_median_s": round(statistics.median(per_batch), 3),
                "batch_max_s": round(max(per_batch), 3),
                "events_per_s": round(events / seconds),
            }
        )
        kind = (
            "from empty score tables (writes every row)"
            if from_empty
            else "over existing scores (same values)"
        )
        print(
            f"(b) rebuild {n + 1}, {kind}: {seconds:.2f} s, {job.batches} batches "
            f"(median {rebuilds[-1]['batch_median_s']:.2f} s, max {rebuilds[-1]['batch_max_s']:.2f} s), "
            f"ratio {seconds / aggregate:.2f}× (target ≤ {TARGET_RATIO}×)"
        )
    after = _aggregate()
    print(f"(a) plain aggregate again after the rebuilds: {after:.2f} s")
    summary = _summary()
    print(
        f"stored: {summary['rule_rows']:,} rule rows, {summary['topic_rows']:,} topic rows, "
        f"{summary['day_rows']:,} day rows; {summary['engaged']:,} contacts with engagement > 0"
    )

    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = RESULTS_DIR / f"rebuild-{stamp}.json"
    path.write_text(
        json.dumps(
            {
                "when": stamp,
                "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "postgres": pg_version},
                "contacts": contacts,
                "events": events,
                "batch_size": args.batch_size or rebuild.BATCH_CONTACTS,
                "aggregate_s": {"median": round(aggregate, 3), "runs": aggregate_times, "after": after},
                "rebuilds": rebuilds,
                "stored": summary,
                "target_ratio": TARGET_RATIO,
            },
            indent=2,
        )
    )
    print(f"written to {path.relative_to(ROOT)}")
    return 0


def _aggregate() -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(AGGREGATE_SQL)
        cursor.fetchone()
    return round(time.perf_counter() - started, 3)


def _summary() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM scoring_contactrulescore),"
            " (SELECT count(*) FROM scoring_contacttopic), (SELECT count(*) FROM scoring_ruledaycount),"
            " (SELECT count(*) FROM funnel_contact WHERE engagement_score > 0)"
        )
        rules, topics, days, engaged = cursor.fetchone()
    return {"rule_rows": rules, "topic_rows": topics, "day_rows": days, "engaged": engaged}


def _generate_events(count: int, *, start: int, chunk: int, seed: float) -> None:
    """Add ``count`` applied events over the existing contacts, generated inside PostgreSQL.

    Over the last 365 days in time order (chunk k covers the k-th slice of the year, as a table that
    grows by arrival looks), contacts drawn with a skew (``power(random(), 1.6)``: a few very active
    contacts, a long tail), types and topics by the shares above, page views with a URL property.
    """
    from django.db import connection, transaction

    from scoring.models import EventType

    types = dict(EventType.objects.values_list("key", "id"))
    cases, cumulative = [], 0.0
    for key, share in TYPE_SHARES:
        cumulative += share
        cases.append(f"WHEN rt < {cumulative:.4f} THEN {types[key]}")
    type_sql = f"CASE {' '.join(cases)} ELSE {types['page_view']} END"
    topics = "(ARRAY[" + ", ".join(f"'{t}'" for t in TOPICS) + "])"
    urls = "(ARRAY[" + ", ".join(f"'{u}'" for u in URLS) + "])"
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM funnel_contact")
        low, high = cursor.fetchone()
    print(f"Generating {count:,} events over contacts {low:,}…{high:,} in chunks of {chunk:,}:")
    chunks = max(1, -(-count // chunk))
    generated_at = datetime.now(UTC)
    for k in range(chunks):
        n = min(chunk, count - k * chunk)
        first = start + k * chunk
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT setseed(%s)", [((seed * 1000 + k) % 1000) / 1000])
            cursor.execute(
                f"""
                INSERT INTO scoring_event (external_id, type_id, contact_id, anonymous_id, topic, properties,
                                           occurred_at, received_at, applied_at)
                SELECT 'bench-' || g, t, c, '', {topics}[1 + floor(rtopic * {len(TOPICS)})::int],
                       CASE WHEN t = {types["page_view"]}
                            THEN jsonb_build_object('url', {urls}[1 + floor(rurl * {len(URLS)})::int])
                            ELSE '{{}}'::jsonb END,
                       occ, occ, %(now)s
                FROM (
                    SELECT g, {type_sql} AS t,
                           %(low)s + floor((%(high)s - %(low)s + 1) * power(random(), 1.6))::bigint AS c,
                           random() AS rtopic, random() AS rurl,
                           %(now)s - interval '365 days' * (1 - (%(k)s + random()) / %(chunks)s) AS occ
                    FROM (SELECT g, random() AS rt FROM generate_series(%(first)s, %(last)s) g) r
                ) e
                """,
                {
                    "now": generated_at,
                    "low": low,
                    "high": high,
                    "k": k,
                    "chunks": chunks,
                    "first": first,
                    "last": first + n - 1,
                },
            )
        print(f"    chunk {k + 1}/{chunks}: {n:,} events in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    old_autocommit = connection.get_autocommit()
    connection.set_autocommit(True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) scoring_event")
    connection.set_autocommit(old_autocommit)
    print(f"    VACUUM (ANALYZE) scoring_event: {time.perf_counter() - started:.1f} s")


def _fmt(values) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def _setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-only-" + secrets.token_urlsafe(40))
    import django

    django.setup()


if __name__ == "__main__":
    sys.exit(main())
