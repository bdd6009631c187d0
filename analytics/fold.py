"""The write side of the analytics: fold queued stage transitions into passages and daily figures.

A batch claims the queued transitions of up to ``BATCH_CONTACTS`` contacts (DELETE … RETURNING, in
the same transaction as the figures it writes, so a crash leaves them queued and nothing counted
twice) and folds them in a fixed number of statements whatever the batch size: read the
transitions and the contacts' passages so far, insert the new passages, set ``next_at`` on the
passages they complete, and add to the daily figures, the dwell histogram and the cohorts.

Folds are serialised (an advisory lock on PostgreSQL; SQLite serialises writers anyway), so a
contact's transitions are always folded in the order they happened.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from django.db import connection, transaction
from django.utils import timezone

from analytics.models import Dimension, PendingTransition, StageCohort, StageDay, StageDwell, StagePassage
from config.sql import update_rows, upsert_add
from funnel.models import Stage, StageTransition

BATCH_CONTACTS = 2_000
# The stage whose monthly entrants form the cohorts (PRODUCT.md: "contacts that became leads in M").
COHORT_STAGE = "lead"
# pg_advisory_xact_lock key of the fold ("TRICHTER" folded into a bigint).
LOCK_KEY = 0x7472_6963_6874_0001
DWELL_CAP_DAYS = 3_650


def whole_days(delta) -> int:
    """Rounded to whole days, halves up (as ``floor(x + 0.5)`` in the SQL rebuild)."""
    return math.floor(delta.total_seconds() / 86_400 + 0.5)


@dataclass
class _Passage:
    contact_id: int
    stage_id: int
    at: datetime
    day: date
    landed: bool
    next_at: datetime | None
    source: str
    owner_id: int | None
    industry: str
    persona_id: int | None
    id: int | None = None  # None: new in this batch

    def values(self) -> list[tuple[str, str]]:
        """(dimension, value) pairs this passage counts under."""
        return [
            (Dimension.ALL, ""),
            (Dimension.SOURCE, self.source),
            (Dimension.OWNER, str(self.owner_id or "")),
            (Dimension.INDUSTRY, self.industry),
            (Dimension.PERSONA, str(self.persona_id or "")),
        ]


def fold_pending(*, max_batches: int | None = None, wait: bool = True) -> int:
    """Fold queued transitions batch by batch until none are left (or ``max_batches`` ran).
    With ``wait=False`` a fold already running elsewhere makes this return at once (the page that
    wants fresh figures then shows what is folded rather than wait). Returns transitions folded."""
    folded = batches = 0
    after = 0  # claim in contact id order from here: see _claim
    while max_batches is None or batches < max_batches:
        result = _fold_batch(wait=wait, after=after)
        if result is None:
            if not after:
                break
            after = 0  # once more from the start, for contacts queued behind the cursor meanwhile
            continue
        count, after = result
        folded += count
        batches += 1
    return folded


def pending_count() -> int:
    return PendingTransition.objects.count()


@transaction.atomic
def _fold_batch(*, wait: bool, after: int) -> tuple[int, int] | None:
    """One batch in one transaction: (transitions folded, the last contact id), or None when there
    was nothing to claim (or the lock was busy)."""
    if not _lock(wait=wait):
        return None
    claimed = _claim(BATCH_CONTACTS, after)
    if not claimed:
        return None
    contact_ids = sorted({contact_id for _, contact_id in claimed})
    return _fold_contacts(contact_ids, only={transition_id for transition_id, _ in claimed}), contact_ids[-1]


def _fold_contacts(contact_ids: list[int], *, only: set[int] | None) -> int:
    """Fold the transitions of these contacts (those in ``only``, or all of them). Folding a
    transition again changes nothing: a stage counts at the contact's first passage, once."""
    stages = list(Stage.objects.order_by("position").values_list("id", "position", "key"))
    # Transitions of contacts deleted meanwhile are gone (cascade): their queue rows just vanish.
    transitions = [
        row
        for row in StageTransition.objects.filter(contact_id__in=contact_ids)
        .order_by("contact_id", "at", "id")
        .values_list(
            "id",
            "contact_id",
            "at",
            "from_stage__position",
            "to_stage_id",
            "to_stage__position",
            "contact__source",
            "contact__owner_id",
            "contact__company__industry",
            "contact__persona_id",
        )
        if only is None or row[0] in only
    ]
    passages = _existing_passages(contact_ids)
    new = _new_passages(transitions, stages, passages)
    figures = _Figures()
    completed = _complete_previous(new, stages, passages, figures)
    _cohorts(new, stages, passages, figures)
    for passage in new:
        for dimension, value in passage.values():
            figures.day[(dimension, passage.day, passage.stage_id, value)][0] += 1
    StagePassage.objects.bulk_create(
        [
            StagePassage(
                contact_id=p.contact_id,
                stage_id=p.stage_id,
                at=p.at,
                day=p.day,
                landed=p.landed,
                next_at=p.next_at,
                source=p.source,
                owner_id=p.owner_id,
                industry=p.industry,
                persona_id=p.persona_id,
            )
            for p in new
        ],
        batch_size=1_000,
    )
    update_rows(StagePassage, "id", {"next_at": "timestamptz"}, [(p.id, p.next_at) for p in completed])
    figures.write()
    return len(transitions)


def _lock(*, wait: bool) -> bool:
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_KEY])
        return cursor.fetchone()[0]


def _claim(limit: int, after: int) -> list[tuple[int, int]]:
    """Take every queued transition of the next ``limit`` contacts with an id above ``after`` (all of
    a contact's queued transitions at once, so that none is folded before an earlier one).

    The cursor matters for a large backlog: each claim deletes the rows at the low end of the
    contact index, and until a vacuum those dead entries stay; starting every scan at the lowest id
    would walk all of them again (quadratic — 1.7 s per batch after 100,000 folded)."""
    table = PendingTransition._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE contact_id IN "
            f"(SELECT DISTINCT contact_id FROM {table} WHERE contact_id > %s ORDER BY contact_id LIMIT %s) "
            f"RETURNING transition_id, contact_id",
            [after, limit],
        )
        return cursor.fetchall()


def _existing_passages(contact_ids: list[int]) -> dict[tuple[int, int], _Passage]:
    rows = StagePassage.objects.filter(contact_id__in=contact_ids).values_list(
        "id",
        "contact_id",
        "stage_id",
        "at",
        "day",
        "landed",
        "next_at",
        "source",
        "owner_id",
        "industry",
        "persona_id",
    )
    return {
        (contact_id, stage_id): _Passage(contact_id, stage_id, at, day, landed, next_at, *rest, id=pk)
        for pk, contact_id, stage_id, at, day, landed, next_at, *rest in rows
    }


def _new_passages(transitions, stages, passages: dict) -> list[_Passage]:
    """The stages each transition passes (from before a stage to it or beyond) that its contact has
    not passed before; the first time counts. Adds them to ``passages``."""
    new: list[_Passage] = []
    for (
        _,
        contact_id,
        at,
        from_position,
        to_stage_id,
        to_position,
        source,
        owner_id,
        industry,
        persona_id,
    ) in transitions:
        day = timezone.localtime(at).date()
        for stage_id, position, _ in stages:
            if position > to_position or (from_position is not None and position <= from_position):
                continue
            if (contact_id, stage_id) in passages:
                continue
            passage = _Passage(
                contact_id,
                stage_id,
                at,
                day,
                stage_id == to_stage_id,
                None,
                source or "",
                owner_id,
                industry or "",
                persona_id,
            )
            passages[(contact_id, stage_id)] = passage
            new.append(passage)
    return new


def _complete_previous(new, stages, passages, figures: _Figures) -> list[_Passage]:
    """A new passage of a stage completes the contact's passage of the stage before it: that one
    converted (counted on the day it was entered), and if the contact arrived in it, its days there
    go into the dwell histogram. Returns the completed passages stored before this batch."""
    previous = {stage_id: stages[i - 1][0] for i, (stage_id, _, _) in enumerate(stages) if i}
    completed: list[_Passage] = []
    for passage in new:
        before = passages.get((passage.contact_id, previous.get(passage.stage_id)))
        if before is None or before.next_at is not None:
            continue
        before.next_at = passage.at
        for dimension, value in before.values():
            figures.day[(dimension, before.day, before.stage_id, value)][1] += 1
        if before.landed:
            days = min(whole_days(passage.at - before.at), DWELL_CAP_DAYS)
            figures.dwell[(before.day, before.stage_id, max(days, 0))] += 1
        if before.id is not None:
            completed.append(before)
    return completed


def _cohorts(new, stages, passages, figures: _Figures) -> None:
    """Each new passage of a stage after the cohort stage counts for the month the contact passed it."""
    cohort = next(((sid, pos) for sid, pos, key in stages if key == COHORT_STAGE), None)
    if cohort is None:
        return
    cohort_id, cohort_position = cohort
    later = {sid for sid, pos, _ in stages if pos > cohort_position}
    for passage in new:
        if passage.stage_id not in later:
            continue
        entry = passages.get((passage.contact_id, cohort_id))
        if entry is None:
            continue
        months = (passage.day.year - entry.day.year) * 12 + passage.day.month - entry.day.month
        if months >= 0:
            figures.cohort[(entry.day.replace(day=1), passage.stage_id, months)] += 1


class _Figures:
    """Increments collected over a batch, written as three upserts."""

    def __init__(self):
        self.day: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
        self.dwell: dict[tuple, int] = defaultdict(int)
        self.cohort: dict[tuple, int] = defaultdict(int)

    def write(self) -> None:
        upsert_add(
            StageDay,
            ("dimension", "day", "stage_id", "value"),
            ("entered", "converted"),
            [(*key, entered, converted) for key, (entered, converted) in self.day.items()],
        )
        upsert_add(
            StageDwell, ("day", "stage_id", "days"), ("contacts",), [(*k, n) for k, n in self.dwell.items()]
        )
        upsert_add(
            StageCohort,
            ("month", "stage_id", "months_after"),
            ("contacts",),
            [(*k, n) for k, n in self.cohort.items()],
        )


def rebuild() -> int:
    """Recount everything from the stage history. Figures are incomplete until it finishes. The
    breakdowns then take each contact's source, owner, industry and persona as they are now (the
    history does not keep what they were). Returns the transitions counted.

    PostgreSQL: a handful of set-based statements in one transaction (readers see the old figures
    until it commits). Elsewhere: the incremental fold over every contact's whole history, a batch of
    contacts per transaction. Either way, transitions queued meanwhile are folded later, harmlessly
    even where the rebuild already saw them (a stage counts at a contact's first passage, once)."""
    if connection.vendor == "postgresql":
        return _rebuild_sql()
    with transaction.atomic():
        _lock(wait=True)
        _empty()
    folded, after = 0, 0
    while True:
        with transaction.atomic():
            _lock(wait=True)
            contact_ids = list(
                StageTransition.objects.filter(contact_id__gt=after)
                .order_by("contact_id")
                .values_list("contact_id", flat=True)
                .distinct()[:BATCH_CONTACTS]
            )
            if not contact_ids:
                return folded
            folded += _fold_contacts(contact_ids, only=None)
            after = contact_ids[-1]


def _empty() -> None:
    with connection.cursor() as cursor:
        for model in (StagePassage, StageDay, StageDwell, StageCohort, PendingTransition):
            cursor.execute(f"DELETE FROM {model._meta.db_table}")


# The same definitions as the incremental fold, as SQL (tests compare the two on PostgreSQL).
_REBUILD_PASSAGES = """
INSERT INTO analytics_stagepassage
    (contact_id, stage_id, at, day, landed, next_at, source, owner_id, industry, persona_id)
SELECT DISTINCT ON (t.contact_id, s.id)
    t.contact_id, s.id, t.at, (t.at AT TIME ZONE %(tz)s)::date, s.id = t.to_stage_id, NULL,
    c.source, c.owner_id, coalesce(co.industry, ''), c.persona_id
FROM funnel_stagetransition t
JOIN funnel_stage ts ON ts.id = t.to_stage_id
LEFT JOIN funnel_stage fs ON fs.id = t.from_stage_id
JOIN funnel_stage s ON s.position <= ts.position AND (fs.id IS NULL OR s.position > fs.position)
JOIN funnel_contact c ON c.id = t.contact_id
LEFT JOIN funnel_company co ON co.id = c.company_id
ORDER BY t.contact_id, s.id, t.at, t.id
"""
_REBUILD_NEXT = """
WITH following AS (
    SELECT id, lead(id) OVER (ORDER BY position) AS next_id FROM funnel_stage
)
UPDATE analytics_stagepassage p SET next_at = n.at
FROM following f, analytics_stagepassage n
WHERE f.id = p.stage_id AND n.stage_id = f.next_id AND n.contact_id = p.contact_id
"""
_REBUILD_DAYS = """
INSERT INTO analytics_stageday (dimension, day, stage_id, value, entered, converted)
SELECT d.dimension, p.day, p.stage_id, d.value, count(*), count(p.next_at)
FROM analytics_stagepassage p
CROSS JOIN LATERAL (VALUES
    ('all', ''), ('source', p.source), ('owner', coalesce(p.owner_id::text, '')),
    ('industry', p.industry), ('persona', coalesce(p.persona_id::text, ''))
) AS d(dimension, value)
GROUP BY d.dimension, p.day, p.stage_id, d.value
"""
_REBUILD_DWELL = """
INSERT INTO analytics_stagedwell (day, stage_id, days, contacts)
SELECT day, stage_id,
       least(greatest(floor(extract(epoch FROM next_at - at) / 86400 + 0.5)::int, 0), %(cap)s), count(*)
FROM analytics_stagepassage
WHERE landed AND next_at IS NOT NULL
GROUP BY 1, 2, 3
"""
_REBUILD_COHORTS = """
INSERT INTO analytics_stagecohort (month, stage_id, months_after, contacts)
SELECT date_trunc('month', l.day)::date, p.stage_id,
       (extract(year FROM p.day) - extract(year FROM l.day)) * 12
       + extract(month FROM p.day) - extract(month FROM l.day), count(*)
FROM analytics_stagepassage l
JOIN funnel_stage ls ON ls.id = l.stage_id AND ls.key = %(cohort)s
JOIN analytics_stagepassage p ON p.contact_id = l.contact_id
JOIN funnel_stage ps ON ps.id = p.stage_id AND ps.position > ls.position
WHERE date_trunc('month', p.day) >= date_trunc('month', l.day)
GROUP BY 1, 2, 3
"""


def _rebuild_sql() -> int:
    params = {"tz": timezone.get_current_timezone_name(), "cap": DWELL_CAP_DAYS, "cohort": COHORT_STAGE}
    with transaction.atomic(), connection.cursor() as cursor:
        _lock(wait=True)
        _empty()
        for statement in (_REBUILD_PASSAGES, _REBUILD_NEXT, _REBUILD_DAYS, _REBUILD_DWELL, _REBUILD_COHORTS):
            cursor.execute(statement, params)
        cursor.execute("SELECT count(*) FROM funnel_stagetransition")
        return cursor.fetchone()[0]
