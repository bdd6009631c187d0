"""The contact list as a CSV file: one definition of the columns for the browser UI
(``/contacts/export.csv``) and the API (``/api/v1/contacts/export/``), so both hand out the same file.

The export may cover every contact (a million rows), so it is streamed: the queryset is read with
``iterator(chunk_size=...)`` — one query for the rows plus one tag prefetch per chunk — and each row
is written as the client reads it. Nothing holds more than one chunk in memory.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from config.csv import csv_stream_response
from funnel.models import Contact

CHUNK_SIZE = 2000

# Machine-readable column names, the same as the API's fields where there is one.
CONTACT_EXPORT_HEADER = [
    "id",
    "email",
    "first_name",
    "last_name",
    "company",
    "job_title",
    "phone",
    "stage",
    "owner",
    "source",
    "persona",
    "score",
    "fit_score",
    "engagement_score",
    "tags",
    "consent_email",
    "created_at",
]


def contact_export_response(contacts: QuerySet[Contact], *, locale: str = "en") -> StreamingHttpResponse:
    """``contacts`` (from ``selectors.contact_list``: stage, company, owner and persona joined, tags
    prefetched) as a streamed CSV download named ``contacts-<today>.csv``, in the spreadsheet
    ``locale``'s dialect (the API's export is always "en")."""
    filename = f"contacts-{timezone.localdate().isoformat()}.csv"
    return csv_stream_response(filename, CONTACT_EXPORT_HEADER, contact_export_rows(contacts), locale=locale)


def contact_export_rows(contacts: QuerySet[Contact]) -> Iterator[list]:
    for contact in contacts.iterator(chunk_size=CHUNK_SIZE):
        yield [
            contact.pk,
            contact.email,
            contact.first_name,
            contact.last_name,
            contact.company.name if contact.company else None,
            contact.job_title,
            contact.phone,
            contact.stage.key,
            contact.owner.get_username() if contact.owner else None,
            contact.source,
            contact.persona.name if contact.persona else None,
            contact.score,
            contact.fit_score,
            contact.engagement_score,
            # Sorted here rather than in the prefetch, which must stay the plain one to be reused.
            ";".join(sorted(tag.name for tag in contact.tags.all())),
            contact.consent_email,
            contact.created_at,
        ]
