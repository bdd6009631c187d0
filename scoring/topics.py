"""Topics as events carry them (``Event.topic``): one normalisation for every place that names topics —
products (offers), content blocks (content), rules and filters."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.utils.text import slugify
from django.utils.translation import gettext as _

from scoring.models import TOPIC_MAX_LENGTH


def topics_normalise(topics: Iterable[str] | str, *, most: int) -> list[str]:
    """Trimmed lower-case slugs ("PCB Design" → ``pcb-design``), each at most TOPIC_MAX_LENGTH
    characters, without duplicates, in the order given; a string is split at commas. Blank entries
    are skipped; an entry with nothing left after slugifying, too long an entry or more than ``most``
    topics raise a ValidationError on ``topics`` naming each problem."""
    if isinstance(topics, str):
        topics = topics.split(",")
    result: list[str] = []
    errors: list[str] = []
    for raw in topics:
        text = str(raw).strip()
        if not text:
            continue
        topic = slugify(text, allow_unicode=True)
        if not topic:
            errors.append(
                _("“%(topic)s” is not a topic: use letters, digits and hyphens.") % {"topic": text[:40]}
            )
        elif len(topic) > TOPIC_MAX_LENGTH:
            errors.append(
                _("“%(topic)s…” is too long: a topic has at most %(max)s characters.")
                % {"topic": topic[:30], "max": TOPIC_MAX_LENGTH}
            )
        elif topic not in result:
            result.append(topic)
    if len(result) > most:
        errors.append(_("At most %(max)s topics.") % {"max": most})
    if errors:
        raise ValidationError({"topics": errors})
    return result
