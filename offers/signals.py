"""Signals of the offers app, sent after commit (``transaction.on_commit``), so that receivers see the
committed rows and may queue Celery work."""

from django.dispatch import Signal

# An offer was won: kwargs ``offer_id``, ``contact_id`` (None if the contact was deleted),
# ``company_id``, ``product_ids`` (the products the contact now owns through it).
offer_won = Signal()
