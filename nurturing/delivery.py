"""Sending the outbox (nurturing.models.OutboundEmail) through Django's email backend.

A batch is claimed (``SKIP LOCKED``) and marked *sending* in one transaction; then, outside any
transaction that holds locks, each email is handled in three steps — record the attempt, call the
provider, record the result — and each record is committed before the next provider call. So after a
crash at most one email of the batch is in doubt:

* *sending* rows never attempted are sent after ``LEASE`` (they certainly did not go out);
* a *sending* row whose attempt was recorded but not its result becomes *unconfirmed* and is not sent
  again: a nurture email must never reach anyone twice (Mautic's duplicate-send reports), so the
  doubt is resolved towards at most once. Its Message-ID is the key, should a provider log be checked.

Consent is checked again at sending time: a contact who unsubscribed after the step ran gets nothing
(the row becomes *suppressed*).
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from funnel.models import Contact
from nurturing import emails
from nurturing.models import OutboundEmail

logger = logging.getLogger(__name__)

BATCH = 200
# How long a *sending* row is left alone before it counts as interrupted
# (settings.NURTURE_SEND_LEASE_SECONDS).
LEASE = timedelta(seconds=settings.NURTURE_SEND_LEASE_SECONDS)
MAX_ATTEMPTS = 6  # retries after 1, 4, 16, 64, 256 minutes, then failed


def deliver(*, limit: int = BATCH, now: datetime | None = None) -> int:
    """Send up to ``limit`` due emails; returns how many were claimed."""
    now = now or timezone.now()
    interrupted = Q(state=OutboundEmail.State.SENDING, sending_since__lte=now - LEASE)
    with transaction.atomic():
        # The one email per crash that may have gone out: never again (see the module docstring).
        OutboundEmail.objects.filter(interrupted, attempted_at__isnull=False).update(
            state=OutboundEmail.State.UNCONFIRMED,
            last_error="Interrupted while sending; not sent again to avoid a duplicate.",
        )
        rows = list(
            OutboundEmail.objects.select_for_update(skip_locked=True)
            .filter(Q(state=OutboundEmail.State.QUEUED, next_attempt_at__lte=now) | interrupted)
            .order_by("next_attempt_at", "id")[:limit]
        )
        if not rows:
            return 0
        consenting = set(
            Contact.objects.filter(
                pk__in={r.contact_id for r in rows if r.contact_id}, consent_email=True
            ).values_list("pk", flat=True)
        )
        suppressed = [r.pk for r in rows if r.contact_id not in consenting]
        rows = [r for r in rows if r.contact_id in consenting]
        if suppressed:
            OutboundEmail.objects.filter(pk__in=suppressed).update(state=OutboundEmail.State.SUPPRESSED)
        OutboundEmail.objects.filter(pk__in=[r.pk for r in rows]).update(
            state=OutboundEmail.State.SENDING, sending_since=now
        )
    if rows:
        _send(rows)
    return len(rows) + len(suppressed)


def _send(rows: list[OutboundEmail]) -> None:
    connection = get_connection(fail_silently=False)
    try:
        connection.open()
    except Exception as exc:  # noqa: BLE001 — provider down: every row is retried later
        for row in rows:
            row.attempts += 1
            _failed(row, exc, permanent=False)
        return
    _fast_commits(True)
    sent = None  # the previous email, sent but not yet recorded as sent
    try:
        for row in rows:
            try:
                message = _message(row, connection)  # built before the attempt: a bad row fails alone
            except Exception as exc:  # noqa: BLE001
                _record(sent=sent)
                sent = None
                _failed(row, exc, permanent=True)
                continue
            row.attempts += 1
            # One statement records the previous email as sent and this one as attempted — both
            # before this provider call, which is all the crash analysis in the docstring needs.
            _record(sent=sent, attempted=row)
            sent = None
            try:
                connection.send_messages([message])
            except smtplib.SMTPRecipientsRefused as exc:
                _failed(row, exc, permanent=True)  # the address is refused: retrying will not help
            except Exception as exc:  # noqa: BLE001
                refused = isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500
                _failed(row, exc, permanent=refused)
            else:
                sent = row
        _record(sent=sent)
    finally:
        _fast_commits(False)
        try:
            connection.close()
        except Exception:  # noqa: BLE001
            logger.warning("Closing the email connection failed", exc_info=True)


def _fast_commits(on: bool) -> None:
    """While sending, each mark commits on its own without waiting for the disk flush (PostgreSQL's
    ``synchronous_commit = off`` for this session): the commit still reaches the server before the
    next provider call, so a killed worker loses nothing; only a crash of the database server itself
    could lose the last marks. An fsync per mark would cap delivery at a few hundred emails a second."""
    if db_connection.vendor == "postgresql" and not db_connection.in_atomic_block:
        with db_connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off" if on else "RESET synchronous_commit")


def _record(*, sent: OutboundEmail | None = None, attempted: OutboundEmail | None = None) -> None:
    """Record that ``sent`` went out and that ``attempted`` is about to: one UPDATE, its own
    transaction (autocommit), committed before the next provider call."""
    if sent is None and attempted is None:
        return
    now = timezone.now()
    table = OutboundEmail._meta.db_table
    sent_id = sent.pk if sent else None
    attempted_id = attempted.pk if attempted else None
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET "
            "state = CASE WHEN id = %s THEN %s ELSE state END, "
            "sent_at = CASE WHEN id = %s THEN %s ELSE sent_at END, "
            "last_error = CASE WHEN id = %s THEN '' ELSE last_error END, "
            "attempted_at = CASE WHEN id = %s THEN %s ELSE attempted_at END, "
            "attempts = CASE WHEN id = %s THEN %s ELSE attempts END "
            "WHERE id IN (%s, %s)",
            [
                sent_id,
                OutboundEmail.State.SENT.value,
                sent_id,
                db_connection.ops.adapt_datetimefield_value(now),
                sent_id,
                attempted_id,
                db_connection.ops.adapt_datetimefield_value(now),
                attempted_id,
                attempted.attempts if attempted else 0,
                sent_id or 0,
                attempted_id or 0,
            ],
        )


def _mark(pk: int, **fields) -> None:
    """Record a failure (its own transaction, committed before the next provider call)."""
    OutboundEmail.objects.filter(pk=pk).update(**fields)


def _message(row: OutboundEmail, connection) -> EmailMultiAlternatives:
    unsubscribe = emails.unsubscribe_url(row.contact_id)
    message = EmailMultiAlternatives(
        subject=row.subject,
        body=row.body_text,
        to=[row.to],
        connection=connection,
        headers={
            "Message-ID": row.message_id,
            # RFC 8058 one-click unsubscribe: mail clients POST to the link.
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    if row.body_html:
        message.attach_alternative(row.body_html, "text/html")
    return message


def _failed(row: OutboundEmail, exc: Exception, *, permanent: bool) -> None:
    """The provider refused: the email certainly did not go out, so a retry cannot duplicate it."""
    error = f"{type(exc).__name__}: {exc}"[:500]
    if permanent or row.attempts >= MAX_ATTEMPTS:
        logger.warning("Nurture email %s failed for good: %s", row.key, error)
        _mark(
            row.pk,
            state=OutboundEmail.State.FAILED,
            last_error=error,
            attempted_at=None,
            attempts=row.attempts,
        )
        return
    _mark(
        row.pk,
        state=OutboundEmail.State.QUEUED,
        attempts=row.attempts,
        last_error=error,
        sending_since=None,
        attempted_at=None,
        next_attempt_at=timezone.now() + timedelta(minutes=4 ** (row.attempts - 1)),
    )
