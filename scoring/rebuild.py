"""Full rebuild of all scores after a rule change: every contact's per-rule, per-topic and per-day
numbers, engagement accumulator, fit and stored scores, recomputed from its stored events.

Interface used by scoring.rules, the API and the UI:

- ``rebuild_request(*, by=None, reason="") -> RebuildJob``: record that scores must be rebuilt and
  queue the work after commit; a request while a job is pending joins that job (its reason is
  appended); a request while a job is running creates a new pending job, because the running one may
  have passed contacts with the old rules. When the new job starts, the older one is marked
  *superseded* and stops after its current batch: the new one recomputes every contact anyway.
- ``rebuild_status() -> RebuildJob | None``: the latest job with its progress for the UI/API.
- ``rebuild_run(*, job_id, …)``: the work itself (the task ``scoring.tasks.rebuild_scores`` and the
  command ``manage.py rebuild_scores`` call it); ``rebuild_resume()``: the periodic check that queues
  jobs no worker is on (the broker was down, a worker died).

How a job runs
--------------
In batches over contact ids (``BATCH_CONTACTS`` contacts in id order; ``last_contact_id`` is the
cursor). Each batch is one transaction that holds the job row locked (``SELECT … FOR UPDATE SKIP
LOCKED``: a second worker on the same job skips it), rebuilds the contacts in ``(last_contact_id, hi]``
and moves the cursor. A worker that dies mid-batch rolls the batch back, cursor included, so the next
worker resumes exactly after the last committed batch; running a job twice does nothing twice.
The task works for a time budget, then queues itself again.

On PostgreSQL a batch is set-based SQL: delete the batch's ContactRuleScore / ContactTopic /
RuleDayCount rows, then one statement aggregates the events joined to the active engagement rules
(weights ``2^((t − EPOCH)/h)``, daily caps with a window over (contact, rule, UTC day) in order of
occurrence), inserts the three tables, computes fit from the active fit rules, and updates
ContactScore and the denormalised Contact columns. On other databases (SQLite) the batch runs the
incremental engine's own code (``scoring.services._tally``) over the batch's events in order of
occurrence — the same semantics, fine for small data.

Both give the scores the incremental engine gives when events are applied in order of occurrence.
(Events applied late, after later events of the same day already filled a daily cap, are counted by
the engine in the order they were applied; the rebuild counts in order of occurrence. The points of
the day are the same, their decay weights can differ a little; the rebuild's is the canonical one.)

Threshold crossings are not recorded during a rebuild: ``above_threshold`` is updated silently. A
rebuild changes scores because the rules changed, not because the contact did something; owners
would otherwise be told again about contacts they know.

Why a rebuild and the incremental engine never interleave
---------------------------------------------------------
A batch recomputes its contacts from their events with ``applied_at IS NOT NULL``; events still
pending are applied afterwards by the engine, on top, with the then current rules. For that to be
exact, the two must not overlap on a contact. Both lock the contacts' ContactScore rows first, in
contact id order (``scoring.services._lock_scores`` for the engine; the batch locks its whole id
range), and only then read the rules, the day counts and the events (PostgreSQL's READ COMMITTED
gives each statement a fresh snapshot, so what they read after the lock includes everything the
other committed). So either the engine's transaction commits first — its events are applied and the
batch, which waited for the lock, recomputes them with the new rules — or the batch commits first,
and the engine then adds its events on top of the rebuilt rows, with the rules the batch used or
newer (a rule change creates its job in the same transaction, so any batch of that job starts after
the change is visible). The same lock order in both means no deadlocks between them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from funnel.models import Company, Contact, Tag
from scoring import decay
from scoring.models import (
    ContactRuleScore,
    ContactScore,
    ContactTopic,
    EngagementRule,
    Event,
    FitRule,
    RebuildJob,
    RuleDayCount,
)

logger = logging.getLogger(__name__)

BATCH_CONTACTS = 20_000  # PostgreSQL: ~10 events a contact → ~200,000 events a batch
BATCH_CONTACTS_PYTHON = 500  # other databases: the Python engine, and SQLite's parameter limit
TASK_BUDGET_SECONDS = 60  # then the task queues itself again (well below the task time limit)
RESUME_AFTER = timedelta(minutes=2)  # a job without progress for this long has lost its worker
MAX_FAILURES = 3  # consecutive failed batches before a job is marked failed
REASON_MAX_LENGTH = 2000

Status = RebuildJob.Status


# --- Public interface -----------------------------------------------------------------------------


def rebuild_request(*, by=None, reason: str = "") -> RebuildJob:
    """Ask for a full rebuild (call it inside the transaction that changes the rules)."""
    return _request(by=by, reason=reason, queue=True)


def rebuild_status() -> RebuildJob | None:
    """The latest job (pending, running or finished) with its progress."""
    return RebuildJob.objects.order_by("-created_at", "-id").first()


def rebuild_run(
    *,
    job_id: int,
    budget_seconds: float | None = None,
    batch_size: int | None = None,
    now: datetime | None = None,
    progress: Callable[[RebuildJob], None] | None = None,
) -> bool:
    """Start the job if it is pending and rebuild batches until it is finished, ``budget_seconds``
    have passed, or another worker holds it. Returns True when work is left and this caller should
    continue later (budget spent); False when the job is finished, not runnable or busy elsewhere.

    ``now`` fixes the moment scores are computed for (tests); ``progress`` is called after each batch.
    """
    deadline = time.monotonic() + budget_seconds if budget_seconds else None
    batch_size = batch_size or (
        BATCH_CONTACTS if connection.vendor == "postgresql" else BATCH_CONTACTS_PYTHON
    )
    if not _start(job_id):
        return False
    while True:
        try:
            outcome, job = _run_batch(job_id=job_id, batch_size=batch_size, now=now)
        except Exception as exc:
            _record_failure(job_id, exc)
            raise
        if job is not None and progress is not None:
            progress(job)
        if outcome != _MORE:
            return False
        if deadline is not None and time.monotonic() >= deadline:
            return True


def rebuild_resume(*, now: datetime | None = None) -> list[int]:
    """Queue the jobs that no worker is on: pending ones whose task was lost, running ones without
    progress for ``RESUME_AFTER``. A job queued twice is harmless (see ``rebuild_run``)."""
    cutoff = (now or timezone.now()) - RESUME_AFTER
    stalled = Q(status=Status.PENDING, created_at__lte=cutoff) | Q(
        Q(heartbeat_at__lte=cutoff) | Q(heartbeat_at__isnull=True, started_at__lte=cutoff),
        status=Status.RUNNING,
    )
    ids = list(RebuildJob.objects.filter(stalled).order_by("id").values_list("id", flat=True))
    for job_id in ids:
        logger.info("Resuming score rebuild #%s", job_id)
        _enqueue(job_id)
    return ids


# --- Jobs -----------------------------------------------------------------------------------------


def _request(*, by, reason: str, queue: bool) -> RebuildJob:
    by_id = getattr(by, "pk", None)
    with transaction.atomic():
        job = RebuildJob.objects.select_for_update().filter(status=Status.PENDING).first()
        if job is None:
            try:
                with transaction.atomic():  # a savepoint: a concurrent request may win the race
                    job = RebuildJob.objects.create(reason=reason[:REASON_MAX_LENGTH], requested_by_id=by_id)
            except IntegrityError:  # rebuildjob_one_pending: join the job the other request created
                job = RebuildJob.objects.select_for_update().get(status=Status.PENDING)
                _join(job, reason)
        else:
            _join(job, reason)
        if queue:
            # Also when joining: if queueing the pending job failed before, this request picks it up.
            transaction.on_commit(partial(_enqueue, job.pk))
    return job


def _join(job: RebuildJob, reason: str) -> None:
    if reason and reason not in job.reason.split("; "):
        job.reason = "; ".join(filter(None, [job.reason, reason]))[:REASON_MAX_LENGTH]
        job.save(update_fields=["reason"])


def _enqueue(job_id: int) -> None:
    from scoring.tasks import rebuild_scores

    try:
        rebuild_scores.delay(job_id)
    except Exception:  # noqa: BLE001 — the job row stays; rebuild_resume or the next request queues it
        logger.warning("Could not queue score rebuild #%s; the periodic check will.", job_id, exc_info=True)


def _start(job_id: int) -> bool:
    """Move a pending job to running (once: a conditional UPDATE); True if the job is running."""
    now = timezone.now()
    with transaction.atomic():
        started = RebuildJob.objects.filter(pk=job_id, status=Status.PENDING).update(
            status=Status.RUNNING,
            started_at=now,
            heartbeat_at=now,
            total_contacts=Contact.objects.count(),
        )
        if started:
            older = RebuildJob.objects.filter(status=Status.RUNNING).exclude(pk=job_id)
            for old_id in older.order_by("id").values_list("id", flat=True):
                logger.info("Score rebuild #%s supersedes #%s", job_id, old_id)
            older.update(status=Status.SUPERSEDED, finished_at=now)
            logger.info("Score rebuild #%s started", job_id)
            return True
    return RebuildJob.objects.filter(pk=job_id, status=Status.RUNNING).exists()


_MORE, _FINISHED, _IDLE = "more", "finished", "idle"


def _run_batch(*, job_id: int, batch_size: int, now: datetime | None) -> tuple[str, RebuildJob | None]:
    """Rebuild the next batch of contacts and move the cursor, in one transaction."""
    with transaction.atomic():
        job = RebuildJob.objects.select_for_update(skip_locked=True).filter(pk=job_id).first()
        if job is None or job.status != Status.RUNNING:
            return _IDLE, job  # another worker is on it, or it is finished / superseded
        lo = job.last_contact_id
        hi, count = _next_range(lo, batch_size)
        batch_now = now or timezone.now()
        if hi is not None:
            if connection.vendor == "postgresql":
                _rebuild_range_sql(lo, hi, batch_now)
            else:
                _rebuild_range_python(lo, hi, batch_now)
            job.last_contact_id = hi
            job.done_contacts += count
            job.batches += 1
        job.heartbeat_at = timezone.now()
        job.failures = 0
        job.total_contacts = max(job.total_contacts, job.done_contacts)
        if hi is None:
            job.status = Status.DONE
            job.finished_at = job.heartbeat_at
            job.total_contacts = job.done_contacts
            logger.info("Score rebuild #%s done: %s contacts", job_id, job.done_contacts)
        job.save()
    return (_MORE if hi is not None else _FINISHED), job


def _next_range(lo: int, batch_size: int) -> tuple[int | None, int]:
    """The upper id of the next batch after ``lo`` and the number of contacts in it (None: none left)."""
    after = Contact.objects.filter(pk__gt=lo).order_by("pk").values_list("pk", flat=True)
    last = list(after[batch_size - 1 : batch_size])
    if last:
        return last[0], batch_size
    ids = list(after)
    return (ids[-1], len(ids)) if ids else (None, 0)


def _record_failure(job_id: int, exc: Exception) -> None:
    """Count a failed batch (rolled back, so the cursor did not move); fail the job after a few."""
    logger.exception("Score rebuild #%s: batch failed", job_id)
    try:
        with transaction.atomic():
            job = RebuildJob.objects.select_for_update().filter(pk=job_id, status=Status.RUNNING).first()
            if job is None:
                return
            job.failures += 1
            if job.failures >= MAX_FAILURES:
                job.status = Status.FAILED
                job.finished_at = timezone.now()
                job.error = f"{type(exc).__name__}: {exc}"[:2000]
            job.save(update_fields=["failures", "status", "finished_at", "error"])
    except Exception:  # noqa: BLE001 — the database itself may be what failed
        logger.exception("Score rebuild #%s: could not record the failure", job_id)


# --- One batch: PostgreSQL, set-based ---------------------------------------------------------------


def _rebuild_range_sql(lo: int, hi: int, now: datetime) -> None:
    """Rebuild contacts with ``lo < id <= hi`` in a few statements (inside the batch's transaction)."""
    from scoring.services import _load_rules

    crs, topics, days = (m._meta.db_table for m in (ContactRuleScore, ContactTopic, RuleDayCount))
    scores, contacts, events = ContactScore._meta.db_table, Contact._meta.db_table, Event._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '64MB'")
        # The lock that keeps the incremental engine out of these contacts (see the module docstring):
        # every contact gets a score row (its fit is computed below), all of them locked in id order.
        cursor.execute(
            f"INSERT INTO {scores} (contact_id, engagement_acc, fit_score, fit_grade, above_threshold) "
            f"SELECT id, 0, 0, 'D', false FROM {contacts} WHERE id > %s AND id <= %s ORDER BY id "
            "ON CONFLICT (contact_id) DO NOTHING",
            [lo, hi],
        )
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {scores} WHERE contact_id > %s AND contact_id <= %s "
            "ORDER BY contact_id FOR UPDATE) locked",
            [lo, hi],
        )
        rules = _load_rules()  # after the lock, like the engine
        settings = rules.settings
        half_life_seconds = settings.half_life_days * 86400.0
        fit_sql, params = _fit_sql(rules.fit)
        params.update(
            lo=lo,
            hi=hi,
            epoch=decay.EPOCH,
            epoch_unix=decay.EPOCH.timestamp(),
            half_life_seconds=half_life_seconds,
            growth_now=decay.growth(now, settings.half_life_days),
            threshold=settings.sales_threshold,
            grade_a=settings.grade_a_min,
            grade_b=settings.grade_b_min,
            grade_c=settings.grade_c_min,
        )
        cursor.execute(
            _BATCH_SQL.format(
                events=events,
                rules=EngagementRule._meta.db_table,
                rule_writes=_sync_sql("rule", crs, ("contact_id", "rule_id"), ("events", "acc")),
                day_writes=_sync_sql("day", days, ("contact_id", "rule_id", "day"), ("points",)),
                topic_writes=_sync_sql("topic", topics, ("contact_id", "topic"), ("events", "acc")),
                scores=scores,
                contacts=contacts,
                companies=Company._meta.db_table,
                fit=fit_sql,
            ),
            params,
        )


# One statement: the events of the batch with their weights; their matches with the active rules;
# the points each match counts (capped rules: a running sum per contact, rule and UTC day in order of
# occurrence, as the engine's loop does it); then, per table, the rows that should exist compared
# with those that do: only differences are written (a rebuild after a small rule change rewrites
# little). Then fit and the stored scores, again only where they changed. The arithmetic is the
# engine's: power() and round() on doubles are C's pow() and rint(), as in Python.
_BATCH_SQL = """
WITH ev AS MATERIALIZED (
    SELECT e.id, e.contact_id, e.type_id, e.topic, e.properties, e.occurred_at,
           power(2.0::float8, (date_part('epoch', e.occurred_at) - %(epoch_unix)s)
                              / %(half_life_seconds)s) AS w
    FROM {events} e
    WHERE e.contact_id > %(lo)s AND e.contact_id <= %(hi)s AND e.applied_at IS NOT NULL
),
hit AS MATERIALIZED (
    SELECT ev.id, ev.contact_id, ev.occurred_at, ev.w, r.id AS rule_id, r.points,
           (r.daily_cap IS NOT NULL AND r.points > 0) AS capped, r.daily_cap
    FROM ev JOIN {rules} r
      ON r.event_type_id = ev.type_id AND r.active
     AND (r.topic = '' OR r.topic = ev.topic)
     AND (r.property_key = ''
          OR strpos(lower(ev.properties ->> r.property_key), lower(r.property_contains)) > 0)
),
capped AS MATERIALIZED (
    SELECT contact_id, rule_id, day, w,
           LEAST(points, GREATEST(0, daily_cap - (
               sum(points) OVER (PARTITION BY contact_id, rule_id, day ORDER BY occurred_at, id) - points
           ))) AS counted
    FROM (SELECT hit.*, (hit.occurred_at AT TIME ZONE 'UTC')::date AS day FROM hit WHERE capped) c
),
rule_rows AS MATERIALIZED (
    SELECT contact_id, rule_id, count(*)::int AS events, sum(counted * w) AS acc
    FROM (
        SELECT contact_id, rule_id, points AS counted, w FROM hit WHERE NOT capped
        UNION ALL
        SELECT contact_id, rule_id, counted, w FROM capped
    ) counted
    GROUP BY contact_id, rule_id
),
day_rows AS MATERIALIZED (
    SELECT contact_id, rule_id, day, sum(counted)::int AS points FROM capped
    GROUP BY contact_id, rule_id, day HAVING sum(counted) <> 0
),
topic_rows AS MATERIALIZED (
    SELECT contact_id, topic, count(*)::int AS events, sum(w) AS acc FROM ev WHERE topic <> ''
    GROUP BY contact_id, topic
),
{rule_writes},
{day_writes},
{topic_writes},
fresh AS MATERIALIZED (
    SELECT c.id AS contact_id, coalesce(a.acc, 0)::float8 AS acc, ({fit})::int AS fit
    FROM {contacts} c
    LEFT JOIN {companies} co ON co.id = c.company_id
    LEFT JOIN (SELECT contact_id, sum(acc) AS acc FROM rule_rows GROUP BY contact_id) a
           ON a.contact_id = c.id
    WHERE c.id > %(lo)s AND c.id <= %(hi)s
),
shown AS MATERIALIZED (
    SELECT f.*, round(f.acc / %(growth_now)s::float8)::int AS engagement,
           CASE WHEN f.fit >= %(grade_a)s THEN 'A' WHEN f.fit >= %(grade_b)s THEN 'B'
                WHEN f.fit >= %(grade_c)s THEN 'C' ELSE 'D' END AS grade
    FROM fresh f
),
stored AS (
    UPDATE {scores} cs SET
        engagement_acc = n.acc, fit_score = n.fit, fit_grade = n.grade,
        above_threshold = n.above, due_at = n.due_at
    FROM (
        SELECT s.contact_id, s.acc, s.fit, s.grade, s.engagement >= %(threshold)s AS above,
               CASE WHEN s.engagement = 0 OR s.acc = 0 THEN NULL ELSE
                   %(epoch)s::timestamptz + make_interval(secs =>
                       %(half_life_seconds)s * ln(abs(s.acc) / (abs(s.engagement) - 0.5)) / ln(2.0::float8))
               END AS due_at
        FROM shown s
    ) n
    WHERE cs.contact_id = n.contact_id
      AND (cs.engagement_acc, cs.fit_score, cs.fit_grade, cs.above_threshold, cs.due_at)
          IS DISTINCT FROM (n.acc, n.fit, n.grade, n.above, n.due_at)
)
UPDATE {contacts} c SET engagement_score = s.engagement, fit_score = s.fit, score = s.engagement + s.fit
FROM shown s
WHERE c.id = s.contact_id
  AND (c.engagement_score, c.fit_score, c.score) IS DISTINCT FROM (s.engagement, s.fit, s.engagement + s.fit)
"""


def _sync_sql(name: str, table: str, keys: tuple[str, ...], values: tuple[str, ...]) -> str:
    """Three CTEs that make ``table``'s rows of the batch equal to the CTE ``{name}_rows``: delete
    the rows that should not exist, update those whose values differ, insert the missing ones. In one
    statement all three see the rows as they were before it, so they touch disjoint rows. (No other
    transaction writes these contacts' rows meanwhile: they are locked, see the module docstring.)"""
    same_key = " AND ".join(f"t.{k} = s.{k}" for k in keys)
    columns = ", ".join((*keys, *values))
    return f"""{name}_deleted AS (
    DELETE FROM {table} t
    WHERE t.contact_id > %(lo)s AND t.contact_id <= %(hi)s
      AND NOT EXISTS (SELECT 1 FROM {name}_rows s WHERE {same_key})
),
{name}_updated AS (
    UPDATE {table} t SET {", ".join(f"{v} = s.{v}" for v in values)}
    FROM {name}_rows s
    WHERE {same_key} AND t.contact_id > %(lo)s AND t.contact_id <= %(hi)s
      AND ({", ".join(f"t.{v}" for v in values)}) IS DISTINCT FROM ({", ".join(f"s.{v}" for v in values)})
),
{name}_inserted AS (
    INSERT INTO {table} ({columns})
    SELECT {columns} FROM {name}_rows s
    WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {same_key})
)"""


def _fit_sql(fit_rules: list[FitRule]) -> tuple[str, dict]:
    """The fit score of contact ``c`` (company ``co``) as one SQL expression: the engine's
    ``scoring.services._fit_matches`` per active rule."""
    from scoring.services import FREEMAIL_DOMAINS

    through = Contact.tags.through._meta.db_table
    tags = Tag._meta.db_table
    terms, params = [], {}
    for n, rule in enumerate(fit_rules):
        key = f"fit{n}"
        values = [v.strip().lower() for v in rule.value.split(",") if v.strip()]
        attr = rule.attribute
        if attr == FitRule.Attribute.INDUSTRY_IN:
            condition = (
                f"coalesce(co.industry, '') <> '' "
                f"AND lower(btrim(co.industry, E' \\t\\n\\r\\f\\v')) = ANY(%({key})s::text[])"
            )
            params[key] = values
        elif attr == FitRule.Attribute.EMPLOYEES_GTE:
            condition = f"co.employees IS NOT NULL AND co.employees >= %({key})s"
            params[key] = int(rule.value)
        elif attr == FitRule.Attribute.JOB_TITLE_CONTAINS:
            condition = (
                f"EXISTS (SELECT 1 FROM unnest(%({key})s::text[]) v WHERE strpos(lower(c.job_title), v) > 0)"
            )
            params[key] = values
        elif attr == FitRule.Attribute.BUSINESS_EMAIL:
            # The part after the last "@" (the whole address if there is none), as rpartition gives it.
            domain = "regexp_replace(lower(coalesce(c.email, '')), '^.*@', '')"
            condition = f"{domain} <> '' AND NOT ({domain} = ANY(%({key})s::text[]))"
            params[key] = sorted(FREEMAIL_DOMAINS)
        elif attr == FitRule.Attribute.HAS_TAG:
            condition = (
                f"EXISTS (SELECT 1 FROM {through} ct JOIN {tags} t ON t.id = ct.tag_id "
                f"WHERE ct.contact_id = c.id AND lower(t.name) = ANY(%({key})s::text[]))"
            )
            params[key] = values
        else:
            continue
        params[f"{key}_points"] = rule.points
        terms.append(f"CASE WHEN {condition} THEN %({key}_points)s ELSE 0 END")
    return (" + ".join(terms) or "0"), params


# --- One batch: other databases, the engine's Python --------------------------------------------------


def _rebuild_range_python(lo: int, hi: int, now: datetime) -> None:
    from config.sql import upsert_add
    from scoring.services import (
        _ensure_scores,
        _load_rules,
        _store_scores,
        _tally,
        _write_tally,
        fit_recompute,
    )

    ids = list(Contact.objects.filter(pk__gt=lo, pk__lte=hi).order_by("pk").values_list("pk", flat=True))
    rules = _load_rules()
    _ensure_scores(ids)
    in_range = {"contact_id__gt": lo, "contact_id__lte": hi}
    for model in (ContactRuleScore, ContactTopic, RuleDayCount):
        model.objects.filter(**in_range).delete()
    ContactScore.objects.filter(**in_range).update(engagement_acc=0.0)
    rows = list(
        Event.objects.filter(applied_at__isnull=False, **in_range).values_list(
            "id", "contact_id", "type_id", "topic", "properties", "occurred_at"
        )
    )
    rows.sort(key=lambda r: (r[5], r[0]))  # in order of occurrence, as the engine sorts a batch
    tally = _tally(rows, rules, {})
    _write_tally(tally)
    upsert_add(
        ContactScore,
        ("contact_id",),
        ("engagement_acc",),
        list(tally.acc.items()),
        insert_only={"fit_score": 0, "fit_grade": "D", "above_threshold": False},
    )
    fit_recompute(contact_ids=ids, rules=rules, store=False)
    _store_scores(ids, rules, now, record_crossings=False)
