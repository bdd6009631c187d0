"""Demo nurture content for ``manage.py load_demo``: email templates, two active sequences, a dozen
enrollments, and fast-lane tasks for the demo's recent demo/price/consultation requests.
Idempotent: what exists (by name, by key) is left as it is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta

from django.db import transaction
from django.utils import timezone

from funnel.models import Contact, Stage, Tag
from nurturing.models import EmailTemplate, Sequence
from nurturing.services import (
    enroll,
    fast_lane,
    sequence_activate,
    sequence_save,
    step_save,
    template_save,
)
from scoring.models import Event, EventType

FOOTER = "\n\n--\nLayout & Leiterplatte GmbH · Don't want these emails? {{ unsubscribe_url }}"
TEMPLATES = [
    (
        "PCB guide 1/3: thanks for the download",
        "{{ first_name }}, your PCB design guide",
        "Hello {{ first_name }},\n\nthanks for downloading our PCB design guide. The checklist on page 4 "
        "is where most redesigns start: https://example.com/pcb/checklist\n\n{{ owner }}" + FOOTER,
    ),
    (
        "PCB guide 2/3: impedance case study",
        "How {{ company }} could save a board spin",
        "Hello {{ first_name }},\n\na customer saved a full board spin by checking impedances before "
        "layout: https://example.com/pcb/case-impedance\n\n{{ owner }}" + FOOTER,
    ),
    (
        "PCB guide 3/3: talk to an engineer",
        "30 minutes with a layout engineer?",
        "Hello {{ first_name }},\n\nif a project is coming up, book a free 30-minute review of your "
        "schematic: https://example.com/pcb/review\n\n{{ owner }}" + FOOTER,
    ),
    (
        "Welcome to the newsletter",
        "Welcome, {{ first_name }}",
        "Hello {{ first_name }},\n\nonce a month we send one practical article on electronics design. "
        "This month: EMC pitfalls in prototypes — https://example.com/emc\n\n{{ owner }}" + FOOTER,
    ),
]


@dataclass
class DemoNurtureResult:
    sequences_created: int = 0
    enrolled: int = 0
    tasks_created: int = 0


@transaction.atomic
def load_demo_nurturing() -> DemoNurtureResult:
    result = DemoNurtureResult()
    templates = {}
    for name, subject, body in TEMPLATES:
        templates[name] = EmailTemplate.objects.filter(name=name).first() or template_save(
            name=name, subject=subject, body_text=body
        )
    stage = {s.key: s for s in Stage.objects.all()}
    types = {t.key: t for t in EventType.objects.all()}

    if not Sequence.objects.filter(name="New download on PCB design").exists():
        sequence = sequence_save(
            name="New download on PCB design",
            goal="Three mails over two weeks; hot contacts go to sales, the rest keep ripening.",
            goal_stage=stage["prospect"],
            trigger=Sequence.Trigger.EVENT,
            trigger_event_type=types["download"],
            trigger_topic="pcb-design",
            window_start=time(8),
            window_end=time(18),
            window_days="12345",
            time_zone="Europe/Berlin",
        )
        first, second, third = (templates[n] for n, *_ in TEMPLATES[:3])
        step_save(sequence=sequence, kind="email", template=first)
        step_save(sequence=sequence, kind="wait", wait=timedelta(days=7))
        branch = step_save(sequence=sequence, kind="branch", condition="score_gte", condition_value="50")
        step_save(sequence=sequence, kind="task", text="Call: hot PCB design lead", due_hours=24)
        step_save(sequence=sequence, kind="end")
        later = step_save(sequence=sequence, kind="email", template=second)
        step_save(sequence=sequence, kind="wait", wait=timedelta(days=7))
        step_save(sequence=sequence, kind="email", template=third)
        step_save(
            sequence=sequence,
            step=branch,
            kind="branch",
            condition="score_gte",
            condition_value="50",
            no_step=later,
        )
        sequence_activate(sequence=sequence)
        result.sequences_created += 1

    if not Sequence.objects.filter(name="Welcome new leads").exists():
        cold, _created = Tag.objects.get_or_create(name="cold")
        sequence = sequence_save(
            name="Welcome new leads",
            goal="Greet every new lead and learn who reads.",
            goal_stage=stage["prospect"],
            trigger=Sequence.Trigger.STAGE_ENTERED,
            trigger_stage=stage["lead"],
            reentry=Sequence.Reentry.AFTER_DAYS,
            reentry_days=180,
        )
        step_save(sequence=sequence, kind="email", template=templates["Welcome to the newsletter"])
        wait = step_save(
            sequence=sequence,
            kind="wait_event",
            event_type=types["newsletter_click"],
            wait=timedelta(days=10),
        )
        clicked = step_save(sequence=sequence, kind="notify", text="Read the welcome mail and clicked")
        step_save(sequence=sequence, kind="end")
        no_click = step_save(sequence=sequence, kind="add_tag", tag=cold)
        step_save(
            sequence=sequence,
            step=wait,
            kind="wait_event",
            event_type=types["newsletter_click"],
            wait=timedelta(days=10),
            yes_step=clicked,
            no_step=no_click,
        )
        sequence = sequence_activate(sequence=sequence)
        leads = Contact.objects.filter(stage=stage["lead"], consent_email=True).order_by("pk")[:12]
        result.enrolled = len(enroll(sequence=sequence, contact_ids=[c.pk for c in leads]).enrolled)
        result.sequences_created += 1

    # A sequence that hands a few warm leads to sales at once: the engine creates their call tasks.
    if not Sequence.objects.filter(name="Hand warm leads to sales").exists():
        sequence = sequence_save(
            name="Hand warm leads to sales",
            goal="A call for leads marketing picked by hand.",
            goal_stage=stage["prospect"],
        )
        step_save(
            sequence=sequence, kind="task", text="Call: picked by marketing as a warm lead", due_hours=48
        )
        sequence = sequence_activate(sequence=sequence)
        warm = Contact.objects.filter(stage=stage["lead"], owner__isnull=False).order_by("-score", "pk")[:3]
        result.enrolled += len(enroll(sequence=sequence, contact_ids=[c.pk for c in warm]).enrolled)
        result.sequences_created += 1
        from nurturing.engine import tick

        tick()

    # The sales fast lane for the last month's requests (a rerun finds the tasks by their keys).
    recent = Event.objects.filter(
        type__fast_lane=True, contact__isnull=False, occurred_at__gte=timezone.now() - timedelta(days=30)
    ).select_related("type")
    for event in recent.order_by("occurred_at")[:20]:
        if fast_lane(contact_id=event.contact_id, event_id=event.pk, type_name=event.type.name):
            result.tasks_created += 1
    return result
