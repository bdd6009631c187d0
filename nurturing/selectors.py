"""Read-side queries of nurturing for the browser pages, with their joins built in so that no list
runs N+1: the counts of a whole list come from one grouped query, never one per row."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count, QuerySet

from nurturing.models import EmailTemplate, Enrollment, Sequence, Step, StepRun

# The enrollment states and exit reasons, in the order the pages show them.
EXIT_REASONS = tuple(Enrollment.ExitReason)


@dataclass
class SequenceCounts:
    """How many enrollments of one sequence are in each state; exits broken down by reason."""

    active: int = 0
    completed: int = 0
    failed: int = 0
    exited: dict[str, int] = field(default_factory=dict)  # exit reason → count

    @property
    def exited_total(self) -> int:
        return sum(self.exited.values())

    @property
    def total(self) -> int:
        return self.active + self.completed + self.failed + self.exited_total

    @property
    def exits(self) -> list[tuple[str, str, int]]:
        """(reason, label, count) for every reason that occurred, in the model's order."""
        return [(r.value, r.label, self.exited[r.value]) for r in EXIT_REASONS if self.exited.get(r.value)]


def sequence_queryset() -> QuerySet[Sequence]:
    """Sequences with what their trigger and goal refer to."""
    return Sequence.objects.select_related(
        "goal_stage", "trigger_stage", "trigger_event_type", "trigger_tag", "created_by"
    )


def sequence_list() -> list[Sequence]:
    """All sequences by name, each with ``counts`` (:class:`SequenceCounts`) and ``step_count``.

    Two queries whatever the number of sequences and enrollments: the sequences (with their step
    count), and one grouped count of enrollments per (sequence, state, exit reason), which the
    (sequence, state, exit_reason) index answers.
    """
    sequences = list(sequence_queryset().annotate(step_count=Count("steps")).order_by("name", "id"))
    counts = sequence_counts(sequence_ids=[s.pk for s in sequences])
    for sequence in sequences:
        sequence.counts = counts.get(sequence.pk, SequenceCounts())
    return sequences


def sequence_counts(*, sequence_ids: Iterable[int]) -> dict[int, SequenceCounts]:
    """Enrollment counts per sequence id (one grouped query; none for no ids)."""
    ids = list(sequence_ids)
    if not ids:
        return {}
    rows = (
        Enrollment.objects.filter(sequence_id__in=ids)
        .order_by()
        .values_list("sequence_id", "state", "exit_reason")
        .annotate(n=Count("pk"))
    )
    counts: dict[int, SequenceCounts] = {}
    for sequence_id, state, reason, n in rows:
        entry = counts.setdefault(sequence_id, SequenceCounts())
        if state == Enrollment.State.ACTIVE:
            entry.active += n
        elif state == Enrollment.State.COMPLETED:
            entry.completed += n
        elif state == Enrollment.State.FAILED:
            entry.failed += n
        elif state == Enrollment.State.EXITED:
            entry.exited[reason] = entry.exited.get(reason, 0) + n
    return counts


def sequence_steps(*, sequence: Sequence) -> list[Step]:
    """The sequence's steps in order, each with ``reached`` (how many step runs it had) and
    ``current`` (active enrollments waiting on it). Three queries for any number of steps: the steps
    with their references, and one grouped count each for runs and for enrollments."""
    steps = list(
        Step.objects.filter(sequence=sequence)
        .select_related("template", "event_type", "stage", "tag", "yes_step", "no_step")
        .order_by("position")
    )
    if not steps:
        return steps
    ids = [s.pk for s in steps]
    reached = dict(
        StepRun.objects.filter(step_id__in=ids)
        .order_by()
        .values_list("step_id")
        .annotate(n=Count("pk"))
        .values_list("step_id", "n")
    )
    current = dict(
        Enrollment.objects.filter(step_id__in=ids, state=Enrollment.State.ACTIVE)
        .order_by()
        .values_list("step_id")
        .annotate(n=Count("pk"))
        .values_list("step_id", "n")
    )
    for step in steps:
        step.reached = reached.get(step.pk, 0)
        step.current = current.get(step.pk, 0)
    return steps


def sequence_enrollments(*, sequence: Sequence, state: str = "") -> QuerySet[Enrollment]:
    """The sequence's enrollments, newest first, with contact and current step; ``state`` (already
    validated) narrows them."""
    qs = Enrollment.objects.filter(sequence=sequence).select_related("contact", "step", "sequence")
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("-entered_at", "-id")


def template_list() -> QuerySet[EmailTemplate]:
    """Email templates by name, each with ``step_count`` and ``sequence_count`` (where it is used)."""
    return EmailTemplate.objects.annotate(
        step_count=Count("steps", distinct=True),
        sequence_count=Count("steps__sequence", distinct=True),
    ).order_by("name", "id")


def contact_enrollments(*, contact_id: int) -> list[Enrollment]:
    """The contact's enrollments, newest first, each with its ``step_runs`` (oldest first).

    Two queries: the enrollments with sequence and current step, and all their runs at once."""
    enrollments = list(
        Enrollment.objects.filter(contact_id=contact_id)
        .select_related("sequence", "step")
        .order_by("-entered_at", "-id")
    )
    by_id = {e.pk: e for e in enrollments}
    for enrollment in enrollments:
        enrollment.step_runs = []
    if by_id:
        runs = StepRun.objects.filter(enrollment_id__in=list(by_id)).order_by("enrollment_id", "tick")
        for run in runs.select_related("step"):
            by_id[run.enrollment_id].step_runs.append(run)
    return enrollments


def active_enrollment_contact_ids(*, contact_ids: Iterable[int]) -> set[int]:
    """Which of these contacts are in a sequence now (one query; none for no ids)."""
    ids = [i for i in contact_ids if i is not None]
    if not ids:
        return set()
    return set(
        Enrollment.objects.filter(state=Enrollment.State.ACTIVE, contact_id__in=ids)
        .order_by()
        .values_list("contact_id", flat=True)
        .distinct()
    )


def step_choices_after(*, sequence: Sequence, step: Step | None) -> QuerySet[Step]:
    """Steps a branch of ``step`` may go to: the later ones. A new step is appended at the end, so it
    has none yet; it gets its targets by an edit once the steps after it exist."""
    if step is None or not step.pk:
        return Step.objects.none()
    return (
        Step.objects.filter(sequence=sequence, position__gt=step.position)
        .select_related("template")
        .order_by("position")
    )
