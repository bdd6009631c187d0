"""Write-side logic of personas and content blocks."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from content.models import ContentBlock, Persona

_TOPIC = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")


def topics_normalise(topics) -> list[str]:
    """Topics as events carry them: lower-case slugs (``pcb-design``), each once, in the given order."""
    if isinstance(topics, str):
        topics = topics.split(",")
    result: list[str] = []
    for raw in topics:
        if not isinstance(raw, str):
            raise ValidationError({"topics": [_("Topics are words such as pcb-design.")]})
        topic = "-".join(raw.strip().lower().split())
        if not topic:
            continue
        if not _TOPIC.match(topic):
            raise ValidationError(
                {
                    "topics": [
                        _("“%(topic)s” is not a topic: use letters, digits and hyphens.")
                        % {"topic": topic[:40]}
                    ]
                }
            )
        if topic not in result:
            result.append(topic)
    if len(result) > 20:
        raise ValidationError({"topics": [_("At most 20 topics.")]})
    return result


def persona_save(*, persona: Persona | None = None, **fields) -> Persona:
    persona = persona or Persona()
    for name, value in fields.items():
        setattr(persona, name, value)
    persona.full_clean()
    persona.save()
    return persona


@transaction.atomic
def persona_delete(*, persona: Persona) -> None:
    """Content written for the persona stays, without a persona (it shows as a gap in the map)."""
    persona.delete()


def content_save(*, block: ContentBlock | None = None, **fields) -> ContentBlock:
    block = block or ContentBlock()
    if "topics" in fields:
        fields["topics"] = topics_normalise(fields["topics"])
    for name, value in fields.items():
        setattr(block, name, value)
    block.full_clean()
    block.save()
    return block


def content_delete(*, block: ContentBlock) -> None:
    block.delete()
