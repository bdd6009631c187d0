"""Benchmark of the funnel analytics at 1,000,000 contacts and 3,000,000 stage transitions (issue 6:
the analytics page and ``GET /api/v1/funnel/`` answer in ≤ 500 ms; the funnel table with its live
metric column stays at ≤ 100 ms).

Steps (each skipped when already done, so a second run only measures):
1. contacts: ``generate_data`` as in bench/run.py (≈ 1.8 M transitions for 1 M contacts);
2. transitions up to ``--transitions``: contacts past the first stage fall back one stage and come
   again (two transitions each, after their last one, in one INSERT … SELECT), the kind of history
   that must not count twice;
3. the fold: ``analytics.fold.rebuild()`` over the whole history when anything is queued (timed);
4. the requests, in-process with Django's test client, production-like settings (see bench/run.py).

Run (PostgreSQL only; results in bench/results/analytics-<UTC>.json):
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/trichter_bench .venv/bin/python bench/analytics.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402  (bench/run.py: settings, the bench user, measuring and printing)

TARGETS_MS = {"analytics": 500.0, "table": 100.0}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--transitions", type=int, default=3_000_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--generate", action="store_true", help="Generate missing contacts.")
    parser.add_argument("--refold", action="store_true", help="Rebuild the analytics even if current.")
    parser.add_argument(
        "--moves",
        type=int,
        default=0,
        metavar="N",
        help="Also move N leads to prospect through the stage service and time the incremental fold.",
    )
    args = parser.parse_args(argv)
    run.setup_django()
    from django.db import connection

    if connection.vendor != "postgresql":
        print("bench/analytics.py measures PostgreSQL at scale; set DATABASE_URL.", file=sys.stderr)
        return 2
    if not run.ensure_contacts(args):
        return 2
    add_round_trips(args.transitions)
    fold_seconds = fold(args.refold)
    incremental = incremental_fold(args.moves) if args.moves else None
    run.ensure_static_manifest()
    user, token = run.bench_user()
    from django.contrib.auth.models import Group

    from accounts.roles import MARKETING

    user.groups.add(Group.objects.get(name=MARKETING))  # saved plans are edited by marketing
    endpoints = endpoints_to_measure(user)
    results = [run.measure(endpoint, user=user, token=token, args=args) for endpoint in endpoints]
    run.print_table(results)
    for result in results:
        target = TARGETS_MS["table"] if result.label.startswith("funnel table") else TARGETS_MS["analytics"]
        verdict = "n/a" if result.p95_ms is None else ("met" if result.p95_ms <= target else "MISSED")
        print(f"  {result.label:<48} p95 {result.p95_ms} ms, target ≤ {target:.0f} ms: {verdict}")
    run.print_slowest_queries(results)
    write(results, fold_seconds, incremental)
    return 0


def counts() -> tuple[int, int]:
    from funnel.models import Contact, StageTransition

    return Contact.objects.count(), StageTransition.objects.count()


def add_round_trips(target: int) -> None:
    """Bring the history up to ``target`` transitions: back one stage and forward again."""
    from django.db import connection, transaction

    from funnel.models import Stage

    contacts, transitions = counts()
    missing = target - transitions
    print(f"Database: {contacts:,} contacts, {transitions:,} stage transitions (need {target:,}).")
    if missing <= 0:
        return
    stages = list(Stage.objects.order_by("position").values_list("id", flat=True))
    previous = ", ".join(f"({stage}, {before})" for before, stage in zip(stages, stages[1:], strict=False))
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH prev(stage_id, prev_id) AS (VALUES {previous}),
            picked AS (
                SELECT c.id, c.stage_id, prev.prev_id,
                       (SELECT max(t.at) FROM funnel_stagetransition t WHERE t.contact_id = c.id) AS last_at
                FROM funnel_contact c JOIN prev ON prev.stage_id = c.stage_id
                ORDER BY c.id LIMIT %s
            )
            INSERT INTO funnel_stagetransition (contact_id, from_stage_id, to_stage_id, at, rule, reason)
            SELECT id, stage_id, prev_id, last_at + (now() - last_at) * 0.3, 'bench', 'fell back' FROM picked
            UNION ALL
            SELECT id, prev_id, stage_id, last_at + (now() - last_at) * 0.6, 'bench', 'came again' FROM picked
            """,
            [missing // 2 + missing % 2],
        )
        added = cursor.rowcount
    # Fewer when fewer contacts are past the first stage than asked for: run again for the rest.
    print(f"Added {added:,} fall-back-and-return transitions in {time.monotonic() - started:.1f} s.")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) funnel_stagetransition")


def fold(force: bool) -> float | None:
    from analytics.fold import pending_count, rebuild
    from analytics.models import StagePassage

    pending = pending_count()
    if not force and not pending and StagePassage.objects.exists():
        print("Analytics: nothing queued, figures current.")
        return None
    print(f"Rebuilding the analytics ({pending:,} transitions queued) …")
    started = time.monotonic()
    folded = rebuild()
    seconds = time.monotonic() - started
    from django.db import connection

    with connection.cursor() as cursor:
        for table in (
            "analytics_stagepassage",
            "analytics_stageday",
            "analytics_stagedwell",
            "analytics_stagecohort",
            "analytics_pendingtransition",
        ):
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    print(f"Folded {folded:,} transitions in {seconds:.1f} s ({folded / seconds:,.0f}/s).")
    return seconds


def incremental_fold(moves: int) -> dict:
    """Move ``moves`` leads to prospect (``contact_move_stage_many``, batches of 1,000 as the scoring
    rules do) and time the fold that the periodic task would run next."""
    from analytics.fold import fold_pending
    from funnel.models import Contact, Stage
    from funnel.services import contact_move_stage_many

    prospect = Stage.objects.get(key="prospect")
    ids = list(Contact.objects.filter(stage__key="lead").order_by("-id").values_list("id", flat=True)[:moves])
    started = time.monotonic()
    for start in range(0, len(ids), 1_000):
        contact_move_stage_many(moves={i: [(prospect, "bench")] for i in ids[start : start + 1_000]})
    moved = time.monotonic() - started
    started = time.monotonic()
    folded = fold_pending()
    seconds = time.monotonic() - started
    print(
        f"Incremental: {len(ids):,} leads moved in {moved:.1f} s; fold of {folded:,} transitions "
        f"{seconds:.2f} s ({folded / seconds:,.0f}/s)."
    )
    return {"moved": len(ids), "move_seconds": moved, "folded": folded, "fold_seconds": seconds}


def endpoints_to_measure(user) -> list:
    """The API and pages for a year, a quarter and a month, the funnel table and the plan pages."""
    from django.utils import timezone

    from analytics.models import SavedPlan

    today = timezone.localdate()
    quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    year = {"since": (today - timedelta(days=364)).isoformat(), "until": today.isoformat()}
    quarter = {"since": quarter_start.isoformat(), "until": today.isoformat()}
    month = {"since": today.replace(day=1).isoformat(), "until": today.isoformat()}
    plan, _ = SavedPlan.objects.get_or_create(
        name="bench/analytics.py",
        defaults={
            "revenue_goal": 2_400_000,
            "average_order_value": 12_000,
            "starts_on": date(today.year, 1, 1),
            "months": 12,
            "rates": {"suspect": 0.3, "lead": 0.4, "prospect": 0.5, "customer": 0.8, "consumption": 0.5},
            "required": {
                "suspect": 3334,
                "lead": 1000,
                "prospect": 400,
                "customer": 200,
                "consumption": 160,
                "reference": 80,
            },
            "created_by": user,
        },
    )
    E = run.Endpoint
    return [
        E("API funnel  last 365 days (default)", ("funnel-figures",), "/api/v1/funnel/", {}, "token"),
        E("API funnel  this quarter", ("funnel-figures",), "/api/v1/funnel/", quarter, "token"),
        E(
            "analytics page  last 365 days",
            ("analytics:figures",),
            "/analytics/",
            {"period": "custom", **year},
            "session",
        ),
        E(
            "analytics page  this quarter",
            ("analytics:figures",),
            "/analytics/",
            {"period": "custom", **quarter},
            "session",
        ),
        E(
            "analytics page  this month",
            ("analytics:figures",),
            "/analytics/",
            {"period": "custom", **month},
            "session",
        ),
        E(
            "analytics page  by owner, year",
            ("analytics:figures",),
            "/analytics/",
            {"period": "custom", **year, "dimension": "owner"},
            "session",
        ),
        E(
            "plan page  €2.4 M / €12,000",
            ("analytics:plan",),
            "/plan/",
            {"revenue_goal": "2400000", "average_order_value": "12000", "months": "12"},
            "session",
        ),
        E("saved plan vs actual", (), f"/plans/{plan.pk}/", {}, "session"),
        E("funnel table  GET / (metric column)", ("funnel:table",), "/", {}, "session"),
    ]


def write(results, fold_seconds, incremental) -> None:
    contacts, transitions = counts()
    run.RESULTS_DIR.mkdir(exist_ok=True)
    path = run.RESULTS_DIR / f"analytics-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(
        json.dumps(
            {
                "contacts": contacts,
                "transitions": transitions,
                "fold_seconds": fold_seconds,
                "incremental_fold": incremental,
                "results": [{k: v for k, v in r.__dict__.items() if k != "timings_ms"} for r in results],
            },
            indent=2,
            default=str,
        )
    )
    print(f"\nResults written to {path.relative_to(run.ROOT)}")


if __name__ == "__main__":
    raise SystemExit(main())
