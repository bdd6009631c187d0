"""Template helpers of nurturing: which contacts of a list are in a sequence now (one query for the
whole page), and wait durations and weekdays in words."""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from nurturing.forms import WEEKDAYS
from nurturing.selectors import active_enrollment_contact_ids

register = template.Library()


@register.simple_tag
def nurtured_contact_ids(contacts) -> set[int]:
    """``{% nurtured_contact_ids page.items as nurtured %}``: the ids of those contacts that have an
    active enrollment. One query for the page, none for an empty page."""
    return active_enrollment_contact_ids(contact_ids=[c.pk for c in contacts])


@register.filter
def duration(value) -> str:
    """A wait in words: 3 days, 1 day 4 hours, 90 minutes → 1 hour 30 minutes."""
    if not isinstance(value, timedelta):
        return ""
    minutes = int(value.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = []
    if days:
        parts.append(ngettext("%(n)s day", "%(n)s days", days) % {"n": days})
    if hours:
        parts.append(ngettext("%(n)s hour", "%(n)s hours", hours) % {"n": hours})
    if minutes or not parts:
        parts.append(ngettext("%(n)s minute", "%(n)s minutes", minutes) % {"n": minutes})
    return " ".join(parts)


@register.filter
def weekdays(value) -> str:
    """ "12345" → "Mon, Tue, Wed, Thu, Fri"; empty → "no day"."""
    names = dict(WEEKDAYS)
    days = [str(names[c]) for c in str(value or "") if c in names]
    return ", ".join(days) if days else _("no day")
