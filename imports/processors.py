"""What one batch of rows does, per kind of import: validate each row, dedup, write in bulk.

A processor is built once per task run (it caches the lookup tables: stages, users, event types)
and its ``process(rows)`` is called inside the batch's transaction; it returns the counts and the
rejected rows, which the caller stores in that same transaction together with the cursor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import connection, transaction
from django.db.models.functions import Lower, Upper
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from funnel.models import Company, Contact, Stage, StageTransition, Tag, normalise_domain
from funnel.services import contact_move_stage_many, normalise_tags
from funnel.signals import contacts_changed
from imports.models import ImportJob
from imports.parsing import IGNORE
from webhooks import events as webhook_events

IMPORT_RULE = "csv_import"
TRUE_WORDS = {"1", "true", "yes", "y", "ja", "j", "x", "wahr", "on"}
FALSE_WORDS = {"", "0", "false", "no", "n", "nein", "falsch", "off", "-"}
TAG_SPLIT = re.compile(r"[,;|]")
GERMAN_DATETIME_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y")


class RowInvalid(Exception):
    """One row is rejected; the message is the reason shown in the report."""


@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    rejections: list[tuple[int, str, list[str]]] = field(default_factory=list)  # (index, reason, cells)


def processor_for(job: ImportJob):
    return {
        ImportJob.Kind.CONTACTS: ContactProcessor,
        ImportJob.Kind.COMPANIES: CompanyProcessor,
        ImportJob.Kind.EVENTS: EventProcessor,
    }[job.kind](job)


class _Processor:
    def __init__(self, job: ImportJob):
        self.job = job
        self.update = job.dedup == ImportJob.Dedup.UPDATE
        # Column position → field, for the mapped columns.
        self.columns = [(position, job.mapping.get(name, IGNORE)) for position, name in enumerate(job.header)]
        self.columns = [(p, f) for p, f in self.columns if f != IGNORE]
        self.width = len(job.header)

    def values(self, cells: list[str]) -> dict[str, str]:
        """The mapped cells of a row, stripped; raises RowInvalid when the row has more cells than
        the header has columns (a delimiter inside an unquoted cell shifts everything after it)."""
        if len(cells) > self.width and any(c.strip() for c in cells[self.width :]):
            raise RowInvalid(
                _("The row has %(n)d cells, the header %(m)d columns.") % {"n": len(cells), "m": self.width}
            )
        return {name: cells[p].strip() if p < len(cells) else "" for p, name in self.columns}

    def process(self, rows: list[tuple[int, list[str]]]) -> BatchResult:
        result = BatchResult()
        cleaned = []
        for index, cells in rows:
            if not any(cell.strip() for cell in cells):
                continue  # a blank line: nothing to import, nothing to report
            try:
                cleaned.append((index, self.clean(self.values(cells)), cells))
            except RowInvalid as exc:
                result.rejections.append((index, str(exc), cells))
        self.write(cleaned, result)
        return result

    def clean(self, values: dict[str, str]) -> dict:
        raise NotImplementedError

    def write(self, rows: list[tuple[int, dict, list[str]]], result: BatchResult) -> None:
        raise NotImplementedError


def _check_length(values: dict, model, names) -> None:
    for name in names:
        limit = model._meta.get_field(name).max_length
        if len(values.get(name) or "") > limit:
            raise RowInvalid(
                _("%(field)s: at most %(max)d characters.")
                % {"field": model._meta.get_field(name).verbose_name, "max": limit}
            )


# --- contacts -------------------------------------------------------------------------------------


class ContactProcessor(_Processor):
    TEXT = ("first_name", "last_name", "phone", "job_title")

    def __init__(self, job):
        super().__init__(job)
        stages = list(Stage.objects.order_by("position"))
        self.default_stage = stages[0]
        self.stages = {}
        for stage in stages:
            self.stages[stage.name.lower()] = stage
        for stage in stages:  # keys win over names
            self.stages[stage.key.lower()] = stage
        self.users = {
            username.lower(): pk
            for pk, username in get_user_model().objects.filter(is_active=True).values_list("pk", "username")
        }
        self.sources = {}
        for language in ("en", "de"):
            with translation.override(language):
                for value, label in Contact.Source.choices:
                    self.sources[str(label).lower()] = value
        for value in Contact.Source.values:
            self.sources[value] = value
        self.reason = _("CSV import #%(id)d") % {"id": job.pk}

    def clean(self, values: dict[str, str]) -> dict:
        out: dict = {}
        email = values.get("email", "")
        if email:
            if len(email) > 254:
                raise RowInvalid(_("Email: at most %(max)d characters.") % {"max": 254})
            try:
                validate_email(email)
            except ValidationError:
                raise RowInvalid(
                    _("Email: %(value)s is not a valid email address.") % {"value": email[:80]}
                ) from None
            out["email"] = email
        _check_length(values, Contact, self.TEXT)
        for name in self.TEXT:
            if values.get(name):
                out[name] = values[name]
        if not (email or values.get("first_name") or values.get("last_name")):
            raise RowInvalid(_("Neither an email address nor a name."))
        if company := values.get("company"):
            if len(company) > 200:
                raise RowInvalid(_("Company: at most %(max)d characters.") % {"max": 200})
            out["company"] = company
        if stage := values.get("stage"):
            if stage.lower() not in self.stages:
                raise RowInvalid(
                    _("Stage: unknown stage %(value)s (known: %(keys)s).")
                    % {
                        "value": stage[:40],
                        "keys": ", ".join(s.key for s in dict.fromkeys(self.stages.values())),
                    }
                )
            out["stage"] = self.stages[stage.lower()]
        if owner := values.get("owner"):
            if owner.lower() not in self.users:
                raise RowInvalid(_("Owner: no active user named %(value)s.") % {"value": owner[:40]})
            out["owner_id"] = self.users[owner.lower()]
        if source := values.get("source"):
            if source.lower() not in self.sources:
                raise RowInvalid(
                    _("Source: unknown source %(value)s (known: %(keys)s).")
                    % {"value": source[:40], "keys": ", ".join(Contact.Source.values)}
                )
            out["source"] = self.sources[source.lower()]
        if tags := values.get("tags"):
            names = normalise_tags(TAG_SPLIT.split(tags))
            if any(len(name) > 50 for name in names):
                raise RowInvalid(_("Tags: each at most %(max)d characters.") % {"max": 50})
            if names:
                out["tags"] = names
        if "consent_email" in values and values["consent_email"] != "":
            word = values["consent_email"].lower()
            if word in TRUE_WORDS:
                out["consent_email"] = True
            elif word in FALSE_WORDS:
                out["consent_email"] = False
            else:
                raise RowInvalid(_("Email consent: %(value)s is neither yes nor no.") % {"value": word[:20]})
        return out

    def write(self, rows, result: BatchResult) -> None:
        emails = {v["email"].lower() for _i, v, _c in rows if "email" in v}
        existing = _contacts_by_email(emails)
        new: list[dict] = []
        new_by_email: dict[str, dict] = {}
        updates: dict[int, dict] = {}
        for _index, values, _cells in rows:
            key = values.get("email", "").lower()
            if not key or (key not in existing and key not in new_by_email):
                new.append(values)
                if key:
                    new_by_email[key] = values
                continue
            if not self.update:
                result.skipped += 1
                continue
            # A duplicate within the file follows the same rule as one already stored.
            target = updates.setdefault(existing[key], {}) if key in existing else new_by_email[key]
            _merge(target, values)
            result.updated += 1

        companies = _companies_by_name({v["company"] for v in [*new, *updates.values()] if "company" in v})
        tag_ids = _tag_ids({t for v in [*new, *updates.values()] for t in v.get("tags", ())})
        now = timezone.now()
        created_ids = self._create(new, companies, tag_ids, now)
        updated_ids = self._update(updates, companies, tag_ids, now)
        result.created += len(created_ids)
        # In the batch's transaction, like every webhook outbox row.
        webhook_events.contacts_imported(
            created_ids,
            {pk: [k.removesuffix("_id") for k in updates[pk] if k != "email"] for pk in updated_ids},
        )
        changed = created_ids + updated_ids
        if changed:
            # Fit scores depend on the contact's fields, tags and company (scoring.receivers).
            transaction.on_commit(
                partial(contacts_changed.send, sender=Contact, contact_ids=changed, company_id=None)
            )

    def _create(self, rows: list[dict], companies, tag_ids, now) -> list[int]:
        if not rows:
            return []
        # Plain multi-row INSERTs: building 2,000 model instances per batch and preparing their
        # values through the ORM cost more than the database's work.
        stamp = connection.ops.adapt_datetimefield_value(now)
        values = [
            (
                v.get("email") or None,
                v.get("first_name", ""),
                v.get("last_name", ""),
                v.get("phone", ""),
                v.get("job_title", ""),
                companies.get(v["company"].upper()) if "company" in v else None,
                v.get("stage", self.default_stage).pk,
                v.get("owner_id"),
                v.get("source", Contact.Source.IMPORT),
                v.get("consent_email", False),
                "{}",
                0,
                0,
                0,
                stamp,
                stamp,
            )
            for v in rows
        ]
        ids = _insert(Contact, CONTACT_COLUMNS, values, returning=True)
        # The entry into the funnel, as funnel.services.record_entry writes it. Not announced one by
        # one (contact_stage_changed): a 100,000-row import would run the nurture triggers 100,000
        # times; imported contacts join sequences by an explicit enrollment instead.
        by = self.job.created_by_id
        _insert(
            StageTransition,
            TRANSITION_COLUMNS,
            [
                (pk, None, row[6], stamp, by, IMPORT_RULE, self.reason)
                for pk, row in zip(ids, values, strict=True)
            ],
        )
        _link_tags([(pk, v.get("tags", ())) for pk, v in zip(ids, rows, strict=True)], tag_ids)
        return ids

    def _update(self, updates: dict[int, dict], companies, tag_ids, now) -> list[int]:
        if not updates:
            return []
        contacts = list(Contact.objects.filter(pk__in=updates).order_by("pk"))
        fields: set[str] = set()
        moves = {}
        for contact in contacts:
            values = updates[contact.pk]
            for name in (
                "first_name",
                "last_name",
                "phone",
                "job_title",
                "source",
                "consent_email",
                "owner_id",
            ):
                if name in values:
                    setattr(contact, name, values[name])
                    fields.add(name.removesuffix("_id"))
            if "company" in values:
                contact.company_id = companies[values["company"].upper()]
                fields.add("company")
            if "stage" in values and values["stage"].pk != contact.stage_id:
                moves[contact.pk] = [(values["stage"], IMPORT_RULE)]
            contact.updated_at = now
        if fields:
            Contact.objects.bulk_update(contacts, [*sorted(fields), "updated_at"], batch_size=1000)
        if moves:
            contact_move_stage_many(moves=moves, reason=self.reason)
        # Tags are added, never removed: an import column "tags" says what the contacts have.
        _link_tags([(pk, v.get("tags", ())) for pk, v in updates.items()], tag_ids)
        return [c.pk for c in contacts]


CONTACT_COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "phone",
    "job_title",
    "company_id",
    "stage_id",
    "owner_id",
    "source",
    "consent_email",
    "properties",
    "score",
    "fit_score",
    "engagement_score",
    "created_at",
    "updated_at",
)
TRANSITION_COLUMNS = ("contact_id", "from_stage_id", "to_stage_id", "at", "by_id", "rule", "reason")
INSERT_CHUNK = 1000  # rows per INSERT statement (SQLite allows 32,766 parameters)


def _insert(model, columns, rows: list[tuple], *, returning: bool = False) -> list[int]:
    """INSERT the rows (tuples in ``columns`` order); with ``returning``, their new ids in order."""
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), INSERT_CHUNK):
            chunk = rows[start : start + INSERT_CHUNK]
            sql = f"INSERT INTO {table} ({names}) VALUES {', '.join([row_sql] * len(chunk))}"
            cursor.execute(sql + (" RETURNING id" if returning else ""), [v for row in chunk for v in row])
            if returning:
                ids += [row[0] for row in cursor.fetchall()]
    return ids


def _merge(target: dict, values: dict) -> None:
    """Fill ``target`` with the non-empty values of a later row; tags accumulate."""
    tags = normalise_tags([*target.get("tags", ()), *values.get("tags", ())])
    target.update({k: v for k, v in values.items() if k != "email"})
    if tags:
        target["tags"] = tags


def _contacts_by_email(emails: set[str]) -> dict[str, int]:
    if not emails:
        return {}
    # Lower() as the unique constraint compares, so the lookup matches exactly what would collide.
    return dict(
        Contact.objects.annotate(email_lower=Lower("email"))
        .filter(email_lower__in=emails)
        .values_list("email_lower", "id")
    )


def _companies_by_name(names: set[str]) -> dict[str, int]:
    """Upper-cased name → company id; missing companies are created. The oldest wins when the
    database already holds the same name twice."""
    if not names:
        return {}
    wanted = {name.upper(): name for name in names}
    found: dict[str, int] = {}
    for upper, pk in (
        Company.objects.annotate(name_upper=Upper("name"))
        .filter(name_upper__in=wanted)
        .order_by("-id")
        .values_list("name_upper", "id")
    ):
        found[upper] = pk
    missing = [Company(name=wanted[u]) for u in wanted if u not in found]
    if missing:
        Company.objects.bulk_create(missing)
        found.update({c.name.upper(): c.pk for c in missing})
    return found


def _tag_ids(names: set[str]) -> dict[str, int]:
    if not names:
        return {}
    lowered = {n.lower(): n for n in names}

    def existing():
        return dict(
            Tag.objects.annotate(name_lower=Lower("name"))
            .filter(name_lower__in=lowered)
            .values_list("name_lower", "id")
        )

    found = existing()
    missing = [Tag(name=n) for low, n in lowered.items() if low not in found]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        found = existing()
    return found


def _link_tags(pairs, tag_ids: dict[str, int]) -> None:
    through = Contact.tags.through
    links = [through(contact_id=pk, tag_id=tag_ids[t.lower()]) for pk, tags in pairs for t in tags]
    if links:
        through.objects.bulk_create(links, ignore_conflicts=True)


# --- companies ------------------------------------------------------------------------------------


class CompanyProcessor(_Processor):
    def clean(self, values: dict[str, str]) -> dict:
        out: dict = {}
        if not values.get("name"):
            raise RowInvalid(_("Name: required."))
        out["name"] = values["name"]
        if values.get("domain"):
            out["domain"] = normalise_domain(values["domain"])
            try:
                URLValidator()(f"https://{out['domain']}")
            except ValidationError:
                raise RowInvalid(
                    _("Domain: %(value)s is not a domain.") % {"value": values["domain"][:80]}
                ) from None
        if values.get("industry"):
            out["industry"] = values["industry"]
        _check_length(out, Company, ("name", "domain", "industry"))
        if raw := values.get("employees"):
            digits = re.sub(r"[.\s']", "", raw)  # 1.200 (German), 1 200, 1'200
            if not digits.isdigit() or int(digits) > 2_147_483_647:
                raise RowInvalid(_("Employees: %(value)s is not a whole number.") % {"value": raw[:20]})
            out["employees"] = int(digits)
        return out

    def write(self, rows, result: BatchResult) -> None:
        names = {v["name"].upper() for _i, v, _c in rows}
        existing: dict[str, int] = {}
        for upper, pk in (
            Company.objects.annotate(name_upper=Upper("name"))
            .filter(name_upper__in=names)
            .order_by("-id")
            .values_list("name_upper", "id")
        ):
            existing[upper] = pk  # the oldest wins
        new: dict[str, dict] = {}
        updates: dict[int, dict] = {}
        for _index, values, _cells in rows:
            key = values["name"].upper()
            if key not in existing and key not in new:
                new[key] = values
                continue
            if not self.update:
                result.skipped += 1
                continue
            target = updates.setdefault(existing[key], {}) if key in existing else new[key]
            target.update({k: v for k, v in values.items() if k != "name"})
            result.updated += 1
        Company.objects.bulk_create([Company(**v) for v in new.values()])
        result.created += len(new)
        if updates:
            companies = list(Company.objects.filter(pk__in=updates).order_by("pk"))
            fields: set[str] = set()
            for company in companies:
                for name, value in updates[company.pk].items():
                    setattr(company, name, value)
                    fields.add(name)
            if fields:
                Company.objects.bulk_update(companies, [*sorted(fields), "updated_at"], batch_size=1000)
            contact_ids = list(Contact.objects.filter(company_id__in=updates).values_list("pk", flat=True))
            if contact_ids:
                transaction.on_commit(
                    partial(contacts_changed.send, sender=Contact, contact_ids=contact_ids, company_id=None)
                )


# --- events ---------------------------------------------------------------------------------------


class EventProcessor(_Processor):
    """Rows become the input of the event API's ingestion service, which is idempotent by event id:
    a row whose id is already stored counts as skipped, so importing a file twice stores it once."""

    CHUNK = 1000  # the ingestion service's batch limit

    def clean(self, values: dict[str, str]) -> dict:
        event: dict = {}
        for name in ("type", "email", "anonymous_id", "topic"):
            if values.get(name):
                event[name] = values[name]
        event["id"] = values.get("external_id", "")
        if values.get("contact"):
            if not values["contact"].isdigit():
                raise RowInvalid(
                    _("Contact id: %(value)s is not a number.") % {"value": values["contact"][:20]}
                )
            event["contact"] = int(values["contact"])
        if raw := values.get("occurred_at"):
            event["occurred_at"] = _iso_datetime(raw)
        return event

    def write(self, rows, result: BatchResult) -> None:
        from scoring.ingest import EventBatchInvalid, events_ingest

        for start in range(0, len(rows), self.CHUNK):
            chunk = rows[start : start + self.CHUNK]
            # The service rejects a batch whole; take out the rows it names and send the rest again
            # (a second round can only name contacts that do not exist).
            for _attempt in range(3):
                if not chunk:
                    break
                try:
                    outcome = events_ingest(payload=[values for _i, values, _c in chunk])
                except EventBatchInvalid as exc:
                    bad: dict[int, list[str]] = {}
                    for error in exc.errors:
                        if error.get("index") is None:
                            raise
                        name = {"id": "external_id"}.get(error["field"], error["field"])
                        bad.setdefault(error["index"], []).append(f"{name}: {error['message']}")
                    for position in sorted(bad):
                        index, _values, cells = chunk[position]
                        result.rejections.append((index, " ".join(bad[position]), cells))
                    chunk = [row for position, row in enumerate(chunk) if position not in bad]
                    continue
                result.created += outcome.accepted
                result.skipped += outcome.duplicates
                break


def _iso_datetime(raw: str) -> str:
    """ISO 8601 as it is; German "31.12.2025 14:30" (taken as UTC) turned into ISO."""
    try:
        if parse_datetime(raw) is not None:
            return raw
    except ValueError:
        return raw  # the service says what is wrong with it
    for pattern in GERMAN_DATETIME_FORMATS:
        try:
            return datetime.strptime(raw, pattern).replace(tzinfo=UTC).isoformat()
        except ValueError:
            continue
    return raw
