"""Demo personas and content blocks for ``manage.py load_demo`` (idempotent: matched by name and
title). Some hourglass phases are left without content on purpose, so the content map shows gaps.

This step runs after the funnel demo, so it is also where the demo contacts get their personas.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q

from content.models import ContentBlock, Persona
from content.services import content_save, persona_save
from funnel import demo as funnel_demo
from funnel.models import Company, Contact

PERSONAS = [
    (
        "Hardware development lead",
        "Runs a small electronics team at a machine builder or medical device maker.",
        "Board spins cost weeks\nEMC tests fail late\nToo few layout engineers in-house",
        "First-time-right boards\nPredictable time to market",
        "head of development, hardware lead, CTO",
        "industrial automation, medical devices",
    ),
    (
        "Purchasing manager",
        "Buys development services and series production; compares offers.",
        "Hidden costs after the order\nSuppliers who miss dates",
        "Fixed prices\nOne supplier from layout to series",
        "purchasing, procurement",
        "electronics, automotive",
    ),
]
# Demo contacts whose job title contains one of these words fit the persona. Spelt out because the
# demo's titles are mostly German and the personas' role lists English; about half the contacts
# match one, the rest stay without a persona, as in real data.
PERSONA_TITLE_WORDS = {
    "Hardware development lead": (
        "Leiter Entwicklung",
        "Head of R&D",
        "CTO",
        "Technischer Leiter",
        "Engineering Manager",
        "Projektleiter",
    ),
    "Purchasing manager": ("Einkauf", "Procurement", "Supply Chain"),
}
BLOCKS = [
    # title, format, phase, persona (index or None), topics (as the demo events carry them), url
    ("Ten reasons boards fail EMC", "article", "engagement", 0, ["emv"], "https://example.com/emc-reasons"),
    ("PCB design guide", "whitepaper", "education", 0, ["pcb-design"], "https://example.com/pcb-guide"),
    ("Checklist: choosing a layout service", "checklist", "evaluation", 1, ["pcb-design"], ""),
    ("What a board spin really costs", "tool", "justification", 1, ["prototyp"], ""),
    ("Case study: first-time-right medical board", "case_study", "justification", 0, ["pcb-design"], ""),
    ("Onboarding: your first project with us", "video", "adoption", None, [], ""),
    ("Webinar: from prototype to series production", "webinar", "retention", 0, ["serienfertigung"], ""),
]


@transaction.atomic
def load_demo_content() -> int:
    """Create what is missing; returns how many content blocks were created."""
    personas = []
    for name, description, pains, goals, roles_, industries in PERSONAS:
        persona = Persona.objects.filter(name=name).first() or persona_save(
            name=name, description=description, pains=pains, goals=goals, roles=roles_, industries=industries
        )
        personas.append(persona)
    assign_demo_personas(personas={p.name: p for p in personas})
    created = 0
    for title, format_, phase, persona, topics, url in BLOCKS:
        if ContentBlock.objects.filter(title=title).exists():
            continue
        content_save(
            title=title,
            format=format_,
            phase=phase,
            persona=personas[persona] if persona is not None else None,
            topics=topics,
            url=url,
        )
        created += 1
    return created


def assign_demo_personas(*, personas: dict[str, Persona]) -> int:
    """Give the demo firms' contacts that have no persona yet the one their job title fits: one UPDATE
    per persona. Contacts of other firms (``generate_data``, real ones) are left alone. Returns how
    many contacts got a persona."""
    demo_companies = Company.objects.filter(name__in=[row[0] for row in funnel_demo.COMPANIES]).values("id")
    assigned = 0
    for name, words in PERSONA_TITLE_WORDS.items():
        fits = Q()
        for word in words:
            fits |= Q(job_title__icontains=word)
        assigned += Contact.objects.filter(fits, persona__isnull=True, company_id__in=demo_companies).update(
            persona=personas[name]
        )
    return assigned
