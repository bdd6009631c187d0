"""Write-side logic of personas and content blocks."""

from __future__ import annotations

from django.db import transaction

from content.models import ContentBlock, Persona
from scoring.topics import topics_normalise as normalise


def topics_normalise(topics) -> list[str]:
    """A content block's topics, normalised as everywhere (scoring.topics), at most 20."""
    return normalise(topics, most=20)


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
