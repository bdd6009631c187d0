"""Read-side queries of personas and content: the content map and what content achieves."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import CharField, Count, Exists, F, OuterRef, Q
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from content.hourglass import PHASES, PhaseInfo
from content.models import ContentBlock, Persona
from funnel.models import StageTransition
from scoring.models import Event


@dataclass
class MapRow:
    info: PhaseInfo
    cells: list[int] = field(default_factory=list)  # one count per persona column (last: no persona)

    @property
    def empty(self) -> bool:
        return not any(self.cells)


def content_map() -> tuple[list[Persona], list[MapRow]]:
    """The ten hourglass phases × personas (plus a column for content without a persona), each cell
    the number of content blocks — two queries. Empty cells are the gaps marketing should fill."""
    personas = list(Persona.objects.order_by("name"))
    counts = {
        (phase, persona_id): n
        for phase, persona_id, n in ContentBlock.objects.order_by()
        .values_list("phase", "persona_id")
        .annotate(n=Count("id"))
    }
    columns = [p.pk for p in personas] + [None]
    rows = [MapRow(info, [counts.get((info.phase.value, c), 0) for c in columns]) for info in PHASES]
    return personas, rows


def content_list(*, phase: str = "", persona_id: int | None = None):
    qs = ContentBlock.objects.select_related("persona").order_by("phase", "title", "id")
    if phase:
        qs = qs.filter(phase=phase)
    if persona_id:
        qs = qs.filter(persona_id=persona_id)
    return qs


def content_performance(block_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per content block: events that carried its id (``properties.content_id``), distinct contacts,
    and of those how many moved forward in the funnel after such an event — one grouped query."""
    if not block_ids:
        return {}
    forward_after = StageTransition.objects.filter(
        contact_id=OuterRef("contact_id"),
        at__gt=OuterRef("occurred_at"),
        from_stage__isnull=False,
        to_stage__position__gt=F("from_stage__position"),
    )
    rows = (
        # has_key first: PostgreSQL answers it from a partial index of just the events that carry a
        # content id (migration content/0002); the text cast makes 12 and "12" the same on both databases.
        Event.objects.filter(properties__has_key="content_id", contact__isnull=False)
        .annotate(content=Cast(KT("properties__content_id"), CharField()))
        .filter(content__in=[str(i) for i in block_ids])
        .order_by()
        .values("content")
        .annotate(
            events=Count("id"),
            contacts=Count("contact_id", distinct=True),
            moved=Count("contact_id", distinct=True, filter=Q(Exists(forward_after))),
        )
    )
    return {int(r["content"]): {k: r[k] for k in ("events", "contacts", "moved")} for r in rows}
