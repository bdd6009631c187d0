"""Synthetic contacts at scale for ``manage.py generate_data``: a million contacts with histories in a minute.

On PostgreSQL the rows are streamed with ``COPY … FROM STDIN`` (CSV) in chunks; one thread generates
the next chunk while PostgreSQL ingests the previous one, so on two cores Python and the server work
at the same time. Other databases (SQLite) get the same rows through large ``bulk_create`` batches.

Ids are written explicitly so that tags and transitions can refer to contacts without reading them
back. They are reserved under a table lock and the sequences are moved past them at the end; the
emails embed the contact id, so a second run appends new rows instead of colliding with the first.

Every contact is consistent with the rules of the funnel: its first transition has no from_stage and
happens at its ``created_at``, the later ones follow in time, and its current stage is the last
transition's ``to_stage``.
"""

from __future__ import annotations

import csv
import io
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction

from accounts.roles import SALES
from funnel import demo
from funnel.models import Company, Contact, Stage, StageTransition, Tag

# Share of contacts whose *current* stage is suspect, lead, prospect, customer, consumption, reference.
STAGE_SHARES = (0.60, 0.20, 0.09, 0.05, 0.04, 0.02)
SCORE_RANGE = demo.SCORE_RANGE
HISTORY_SECONDS = 730 * 86_400  # contacts were created over the last two years
GENERATOR_RULE = "generate_data"
GENERATED_SALES_USERS = 5  # created when no user has the sales role, so that contacts get owners
TAGGED_SHARE = 0.30
COMPANY_SHARE = 0.92  # contacts with a company
# The demo's mix of sources, plus a few contacts whose source nobody recorded ("").
SOURCE_WEIGHTS = (*((str(source), weight) for source, weight in demo.SOURCE_WEIGHTS), ("", 5))
DEFAULT_BATCH = 50_000
# Written as "{}" by the CSV writer and taken as the value by the ORM; never mutated.
EMPTY_PROPERTIES: dict = {}

LEGAL_FORMS = ("GmbH", "GmbH", "GmbH", "AG", "GmbH & Co. KG", "KG", "SE", "Ltd", "B.V.", "s.r.o.")
COMPANY_WORDS = (
    "Elektronik",
    "Sensorik",
    "Messtechnik",
    "Antriebstechnik",
    "Steuerungstechnik",
    "Medizintechnik",
    "Automation",
    "Systems",
    "Power",
    "Photonik",
    "Robotik",
    "Energietechnik",
    "Lichttechnik",
    "Embedded",
    "Industrietechnik",
    "Fahrzeugtechnik",
    "Gerätebau",
    "Solutions",
    "Instruments",
)
COMPANY_PREFIXES = (
    "Nord",
    "Süd",
    "West",
    "Ost",
    "Rhein",
    "Main",
    "Elb",
    "Isar",
    "Donau",
    "Alpen",
    "Hanse",
    "Alb",
    "Harz",
    "Tauber",
    "Mosel",
    "Saar",
    "Weser",
    "Ems",
    "Spree",
    "Neckar",
    "Inn",
    "Lech",
    "Ruhr",
)


@dataclass
class GenerateResult:
    companies: int
    contacts: int
    transitions: int
    tag_links: int
    seconds: float


def generate(
    *,
    contacts: int,
    companies: int,
    seed: int = 1,
    batch: int = DEFAULT_BATCH,
    rebuild_indexes: bool | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> GenerateResult:
    """Append ``companies`` companies and ``contacts`` contacts (with tags and histories).

    ``rebuild_indexes`` (PostgreSQL): drop and rebuild indexes around the load; None decides by size.
    """
    started = time.monotonic()
    stage_ids = list(Stage.objects.order_by("position").values_list("id", flat=True))
    if len(stage_ids) != len(STAGE_SHARES):
        raise RuntimeError(f"Expected the six default stages, found {len(stage_ids)}; run migrate first.")
    owner_ids = _sales_user_ids()
    tag_ids = _tag_ids()
    if connection.vendor == "postgresql":
        if rebuild_indexes is None:
            rebuild_indexes = _worth_rebuilding(contacts)
        writer = _CopyWriter(defer_indexes=rebuild_indexes, progress=progress)
    else:
        writer = _BulkCreateWriter(batch)
    counts = {"companies": 0, "contacts": 0, "transitions": 0, "tag_links": 0}

    with transaction.atomic():
        company_start, contact_start = writer.reserve_ids()
        rows = _Rows(
            seed=seed,
            stage_ids=stage_ids,
            owner_ids=owner_ids,
            tag_ids=tag_ids,
            company_ids=(company_start, company_start + companies),
            timestamp=writer.timestamp,
        )
        writer.write_companies(rows.companies(company_start, companies))
        counts["companies"] = companies
        progress(f"companies: {companies:,} ({time.monotonic() - started:.1f} s)")

        chunks = (
            rows.contact_chunk(start, min(batch, contact_start + contacts - start))
            for start in range(contact_start, contact_start + contacts, batch)
        )
        for chunk in _prefetch(chunks):
            writer.write_contacts(chunk)
            counts["contacts"] += len(chunk.contacts)
            counts["transitions"] += len(chunk.transitions)
            counts["tag_links"] += len(chunk.links)
            progress(
                f"contacts: {counts['contacts']:,}/{contacts:,}, transitions: {counts['transitions']:,} "
                f"({time.monotonic() - started:.1f} s)"
            )
        writer.finish()
    writer.analyze()
    return GenerateResult(**counts, seconds=time.monotonic() - started)


def contact_email(contact_id: int, first_ascii: str, last_ascii: str) -> str:
    """Unique because the id is; spread over 100 invented domains so that domains repeat like real ones."""
    return f"{first_ascii}.{last_ascii}.{contact_id}@example-{contact_id % 100}.test"


# --- rows -----------------------------------------------------------------------------------------


@dataclass
class _Chunk:
    contacts: list[tuple]
    transitions: list[tuple]
    links: list[tuple]


class _Rows:
    """Generates row tuples in the column order of :data:`CONTACT_COLUMNS` etc.

    Hot loop: a million iterations, so per-row work is kept to a few ``random()`` calls and table
    lookups; vectorised ``choices(k=n)`` draws are made per chunk.
    """

    def __init__(self, *, seed, stage_ids, owner_ids, tag_ids, company_ids, timestamp):
        self.seed = seed
        self.stage_ids = stage_ids
        self.owner_ids = owner_ids or [None]
        self.tag_ids = tag_ids
        self.company_ids = company_ids
        self.timestamp = timestamp
        self.now = int(time.time())
        self.first_names = [(n, demo._ascii(n)) for n in demo.FIRST_NAMES]
        self.last_names = [(n, demo._ascii(n)) for n in demo.LAST_NAMES]
        self.titles, title_weights = zip(*demo.JOB_TITLES, strict=True)
        self.title_cum = _cumulative(title_weights)
        self.stage_cum = _cumulative(STAGE_SHARES)
        self.sources, source_weights = zip(*SOURCE_WEIGHTS, strict=True)
        self.source_cum = _cumulative(source_weights)

    def companies(self, start: int, count: int) -> Iterator[tuple]:
        rng = random.Random(f"{self.seed}:companies:{start}")
        for company_id in range(start, start + count):
            if rng.random() < 0.3:
                base = f"{rng.choice(self.last_names)[0]} {rng.choice(COMPANY_WORDS)}"
            else:
                base = f"{rng.choice(COMPANY_PREFIXES)}{rng.choice(COMPANY_WORDS).lower()}"
            name = f"{base} {rng.choice(LEGAL_FORMS)}"
            created = self.timestamp(self.now - int(rng.random() * HISTORY_SECONDS))
            yield (
                company_id,
                name,
                f"{demo._ascii(base)}-{company_id}.example",
                rng.choice(demo.INDUSTRIES),
                int(rng.lognormvariate(4, 1.2)) + 1,
                EMPTY_PROPERTIES,
                created,
                created,
            )

    def contact_chunk(self, start: int, count: int) -> _Chunk:
        # Seeded per chunk, so a chunk's rows do not depend on how the previous ones were drawn.
        rng = random.Random(f"{self.seed}:contacts:{start}")
        rand = rng.random
        ts = self.timestamp
        now = self.now
        stage_ids = self.stage_ids
        owners = self.owner_ids
        n_owners = len(owners)
        tag_ids = self.tag_ids
        company_lo, company_hi = self.company_ids
        n_companies = company_hi - company_lo
        finals = rng.choices(range(6), cum_weights=self.stage_cum, k=count)
        firsts = rng.choices(self.first_names, k=count)
        lasts = rng.choices(self.last_names, k=count)
        titles = rng.choices(self.titles, cum_weights=self.title_cum, k=count)
        # A generator of their own, so that the other columns are what they were before sources.
        sources = random.Random(f"{self.seed}:sources:{start}").choices(
            self.sources, cum_weights=self.source_cum, k=count
        )
        contacts, transitions, links = [], [], []
        for i in range(count):
            contact_id = start + i
            final = finals[i]
            first, first_ascii = firsts[i]
            last, last_ascii = lasts[i]
            owner = owners[int(rand() * n_owners)] if final or rand() < 0.05 else None
            low, high = SCORE_RANGE[final]
            score = low + int(rand() * (high - low + 1))
            fit = int(score * (0.3 + 0.3 * rand()))
            created = now - int(rand() * HISTORY_SECONDS)

            # The path through the stages: usually every stage in order; a few skip the lead stage
            # (asked for an offer straight away), a few were one stage further and came back.
            path = list(range(final + 1))
            roll = rand()
            if final >= 2 and roll < 0.04:
                del path[1]
            elif 1 <= final <= 3 and roll > 0.98:
                path += [final + 1, final]
            created_ts = ts(created)
            transitions.append((contact_id, None, stage_ids[path[0]], created_ts, None, GENERATOR_RULE, ""))
            # Later moves fall into consecutive slots between creation and now, so they stay in order.
            slot = (now - created) // len(path)
            at = created
            for step in range(1, len(path)):
                at = created + step * slot + int(rand() * slot * 0.8)
                transitions.append(
                    (contact_id, stage_ids[path[step - 1]], stage_ids[path[step]], ts(at), owner, "", "")
                )

            roll = rand()
            if roll < TAGGED_SHARE:
                tag = int(rand() * len(tag_ids))
                links.append((contact_id, tag_ids[tag]))
                if roll < TAGGED_SHARE / 3:
                    other = (tag + 1 + int(rand() * (len(tag_ids) - 1))) % len(tag_ids)
                    links.append((contact_id, tag_ids[other]))

            phone = ""
            if rand() < 0.5:
                phone = f"+49 {30 + int(rand() * 969)} {100_000 + int(rand() * 9_900_000)}"
            contacts.append(
                (
                    contact_id,
                    contact_email(contact_id, first_ascii, last_ascii),
                    first,
                    last,
                    phone,
                    titles[i],
                    company_lo + int(rand() * n_companies) if rand() < COMPANY_SHARE else None,
                    stage_ids[final],
                    owner,
                    sources[i],
                    rand() < 0.35,
                    EMPTY_PROPERTIES,
                    score,
                    fit,
                    score - fit,
                    created_ts,
                    ts(at),
                )
            )
        return _Chunk(contacts, transitions, links)


def _cumulative(weights) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


def _prefetch(chunks: Iterator[_Chunk], depth: int = 2) -> Iterator[_Chunk]:
    """Generate the next chunks in a thread while the caller writes the current one.

    psycopg2 releases the GIL while it waits for PostgreSQL, so generation and ingestion overlap.
    """
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce():
        try:
            for chunk in chunks:
                if stop.is_set():
                    return
                buffer.put(chunk)
            buffer.put(done)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            buffer.put(exc)

    thread = threading.Thread(target=produce, name="generate_data", daemon=True)
    thread.start()
    try:
        while (item := buffer.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                buffer.get_nowait()
            except queue.Empty:
                thread.join(0.05)


# --- writers --------------------------------------------------------------------------------------


def _columns(model, names):
    return [model._meta.get_field(name).column for name in names]


def _attnames(model, names):
    """Field names as model keyword arguments: foreign keys by their ``_id`` attribute."""
    return [model._meta.get_field(name).attname for name in names]


COMPANY_FIELDS = ("id", "name", "domain", "industry", "employees", "properties", "created_at", "updated_at")
CONTACT_FIELDS = (
    "id",
    "email",
    "first_name",
    "last_name",
    "phone",
    "job_title",
    "company",
    "stage",
    "owner",
    "source",
    "consent_email",
    "properties",
    "score",
    "fit_score",
    "engagement_score",
    "created_at",
    "updated_at",
)
TRANSITION_FIELDS = ("contact", "from_stage", "to_stage", "at", "by", "rule", "reason")


# Below this many new contacts, maintaining the indexes row by row is cheaper than rebuilding them.
REBUILD_INDEXES_FROM = 100_000


def _worth_rebuilding(new_contacts: int) -> bool:
    """Rebuild rather than maintain indexes when the load is large and at least doubles the table."""
    if new_contacts < REBUILD_INDEXES_FROM:
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT GREATEST(reltuples, 0)::bigint FROM pg_class WHERE oid = %s::regclass",
            [Contact._meta.db_table],
        )
        existing = cursor.fetchone()[0]
    return new_contacts >= existing


class _CopyWriter:
    """PostgreSQL: COPY in CSV; empty unquoted fields are NULL except in the text columns named.

    With ``defer_indexes`` the secondary indexes and foreign keys of the loaded tables are dropped
    before the load and recreated after it, inside the same transaction, as pg_restore does: one
    sorted build per index instead of a million single-row insertions (the three trigram GIN indexes
    alone made the load three times slower), and one anti-join per foreign key instead of a
    deferred trigger per row. A failure rolls the drops back with everything else. The price: the
    tables are locked against readers until the load commits.
    """

    def __init__(self, *, defer_indexes: bool = False, progress=lambda message: None):
        self.timestamp = _TimestampText()
        self.link_model = Contact.tags.through
        self.cursor = connection.cursor()
        self.defer_indexes = defer_indexes
        self.progress = progress
        self.dropped_indexes: list[tuple[str, str]] = []
        self.dropped_constraints: list[tuple[str, str, str]] = []
        self.tables = [m._meta.db_table for m in (Company, Contact, StageTransition, self.link_model)]

    def reserve_ids(self) -> tuple[int, int]:
        # EXCLUSIVE blocks other writers (their ids would interleave with ours) but not readers.
        tables = [Company._meta.db_table, Contact._meta.db_table]
        self.cursor.execute(f"LOCK TABLE {', '.join(tables)} IN EXCLUSIVE MODE")
        starts = []
        for table in tables:
            self.cursor.execute(
                f"SELECT GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), "
                f"(SELECT last_value FROM {self._sequence(table)})) + 1"
            )
            starts.append(self.cursor.fetchone()[0])
        if self.defer_indexes:
            self._drop_indexes_and_foreign_keys()
        return starts[0], starts[1]

    def _drop_indexes_and_foreign_keys(self):
        # Primary keys and indexes that back a constraint (unique together) stay; the rest is rebuilt.
        self.cursor.execute(
            """
            SELECT i.relname, pg_get_indexdef(i.oid)
            FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
            WHERE x.indrelid = ANY(%s::regclass[]) AND NOT x.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
            """,
            [self.tables],
        )
        indexes = self.cursor.fetchall()
        self.cursor.execute(
            """
            SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
            FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(%s::regclass[])
            """,
            [self.tables],
        )
        self.dropped_constraints = self.cursor.fetchall()
        for table, name, _definition in self.dropped_constraints:
            self.cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _definition in indexes:
            self.cursor.execute(f'DROP INDEX "{name}"')
        self.dropped_indexes = indexes
        self.progress(
            f"dropped {len(indexes)} indexes and {len(self.dropped_constraints)} foreign keys for the load"
        )

    def _rebuild_indexes_and_foreign_keys(self):
        started = time.monotonic()
        # Sorting a million keys fits in memory with this; the default 64 MB spills to disk.
        self.cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
        slow = []
        for name, definition in self.dropped_indexes:
            index_started = time.monotonic()
            self.cursor.execute(definition)
            slow.append((time.monotonic() - index_started, name))
        slowest = ", ".join(f"{name} {seconds:.1f} s" for seconds, name in sorted(slow, reverse=True)[:4])
        elapsed = time.monotonic() - started
        self.progress(f"rebuilt {len(self.dropped_indexes)} indexes ({elapsed:.1f} s; slowest: {slowest})")
        started = time.monotonic()
        for table, name, definition in self.dropped_constraints:
            self.cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        self.progress(
            f"re-checked {len(self.dropped_constraints)} foreign keys ({time.monotonic() - started:.1f} s)"
        )

    def _sequence(self, table: str) -> str:
        self.cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        return self.cursor.fetchone()[0]

    def write_companies(self, rows):
        self._copy(
            Company._meta.db_table, _columns(Company, COMPANY_FIELDS), rows, not_null=["domain", "industry"]
        )

    def write_contacts(self, chunk: _Chunk):
        self._copy(
            Contact._meta.db_table,
            _columns(Contact, CONTACT_FIELDS),
            chunk.contacts,
            not_null=["first_name", "last_name", "phone", "job_title", "source"],
        )
        self._copy(
            StageTransition._meta.db_table,
            _columns(StageTransition, TRANSITION_FIELDS),
            chunk.transitions,
            not_null=["rule", "reason"],
        )
        self._copy(self.link_model._meta.db_table, ["contact_id", "tag_id"], chunk.links)

    def _copy(self, table, columns, rows, not_null=()):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        buffer.seek(0)
        options = "FORMAT csv"
        if not_null:
            options += f", FORCE_NOT_NULL ({', '.join(not_null)})"
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH ({options})"
        self.cursor.copy_expert(sql, buffer, 1 << 20)  # read size; positional for Django's debug cursor

    def finish(self):
        if self.defer_indexes:
            self._rebuild_indexes_and_foreign_keys()
        for table in (Company._meta.db_table, Contact._meta.db_table):
            sequence = self._sequence(table)
            self.cursor.execute(
                f"SELECT setval(%s, GREATEST((SELECT COALESCE(MAX(id), 1) FROM {table}), "
                f"(SELECT last_value FROM {sequence})))",
                [sequence],
            )

    def analyze(self):
        # Fresh statistics, or the planner guesses row counts from an empty table. VACUUM also sets
        # the visibility map, without which COUNTs cannot use index-only scans until autovacuum
        # gets round to the new rows; it cannot run inside a transaction (e.g. a test's).
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        started = time.monotonic()
        for table in self.tables:
            self.cursor.execute(f"{command} {table}")
        self.progress(f"{command}: {time.monotonic() - started:.1f} s")
        self.cursor.close()


class _TimestampText:
    """Epoch seconds → '2026-11-22 05:53:45+00'.

    datetime.isoformat() per row costs about as much as the rest of a row together; a memo of the
    days seen and a table of the 86,400 times of day make it two lookups.
    """

    def __init__(self):
        self.days: dict[int, str] = {}
        self.times = [f" {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}+00" for s in range(86_400)]

    def __call__(self, epoch: int) -> str:
        day, second = divmod(epoch, 86_400)
        text = self.days.get(day)
        if text is None:
            text = self.days[day] = datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d")
        return text + self.times[second]


class _BulkCreateWriter:
    """Any other database (SQLite): the same rows as model instances, in large batches."""

    def __init__(self, batch: int):
        self.batch = batch
        self.link_model = Contact.tags.through

    @staticmethod
    def timestamp(epoch: int) -> datetime:
        return datetime.fromtimestamp(epoch, UTC)

    def reserve_ids(self) -> tuple[int, int]:
        # SQLite serialises writers on its own; the open transaction keeps the max stable.
        def next_id(model):
            last = model.objects.order_by("-id").values_list("id", flat=True).first()
            return (last or 0) + 1

        return next_id(Company), next_id(Contact)

    def write_companies(self, rows):
        objs = (Company(**dict(zip(COMPANY_FIELDS, row, strict=True))) for row in rows)
        self._bulk(Company, objs)

    def write_contacts(self, chunk: _Chunk):
        names = _attnames(Contact, CONTACT_FIELDS)
        self._bulk(Contact, (Contact(**dict(zip(names, row, strict=True))) for row in chunk.contacts))
        names = _attnames(StageTransition, TRANSITION_FIELDS)
        self._bulk(
            StageTransition,
            (StageTransition(**dict(zip(names, row, strict=True))) for row in chunk.transitions),
        )
        self._bulk(self.link_model, (self.link_model(contact_id=c, tag_id=t) for c, t in chunk.links))

    def _bulk(self, model, objs):
        model.objects.bulk_create(list(objs), batch_size=min(self.batch, 5_000))

    def finish(self):
        pass

    def analyze(self):
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


# --- reference data -------------------------------------------------------------------------------


def _sales_user_ids() -> list[int]:
    """Users with the sales role own the generated contacts; a few are created if there are none."""
    group = Group.objects.get(name=SALES)
    ids = list(group.user_set.filter(is_active=True).order_by("id").values_list("id", flat=True))
    if ids:
        return ids
    User = get_user_model()
    for n in range(1, GENERATED_SALES_USERS + 1):
        user, created = User.objects.get_or_create(username=f"gen-sales-{n}")
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        user.groups.add(group)
        ids.append(user.pk)
    return ids


def _tag_ids() -> list[int]:
    ids = []
    for name in demo.TAGS:
        tag = Tag.objects.filter(name__iexact=name).first() or Tag.objects.create(name=name)
        ids.append(tag.pk)
    return ids
