"""The marketing hourglass (seed 003): ten phases of the customer relationship and the funnel stage
each one refines. Fixed by the model, so a constant rather than a table."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class Phase(models.TextChoices):
    ENGAGEMENT = "engagement", _("Engagement")
    EDUCATION = "education", _("Education")
    RESEARCH = "research", _("Research")
    EVALUATION = "evaluation", _("Evaluation")
    JUSTIFICATION = "justification", _("Justification")
    PURCHASE = "purchase", _("Purchase")
    ADOPTION = "adoption", _("Adoption")
    RETENTION = "retention", _("Retention")
    EXPANSION = "expansion", _("Expansion")
    ADVOCACY = "advocacy", _("Advocacy")


@dataclass(frozen=True)
class PhaseInfo:
    phase: Phase
    stage: str  # funnel stage key
    question: str  # what the customer asks in this phase


PHASES: tuple[PhaseInfo, ...] = (
    PhaseInfo(Phase.ENGAGEMENT, "suspect", _("Do I like this brand? Is it relevant to me?")),
    PhaseInfo(Phase.EDUCATION, "lead", _("What is my problem, and how do others solve it?")),
    PhaseInfo(Phase.RESEARCH, "lead", _("Which solutions are there, and who offers them?")),
    PhaseInfo(Phase.EVALUATION, "prospect", _("Which solution fits us best?")),
    PhaseInfo(Phase.JUSTIFICATION, "prospect", _("Is it worth the money? How do I convince the others?")),
    PhaseInfo(Phase.PURCHASE, "customer", _("Is buying simple, and is the start well prepared?")),
    PhaseInfo(Phase.ADOPTION, "consumption", _("How do we get it running and used?")),
    PhaseInfo(Phase.RETENTION, "consumption", _("Does this company care about my success?")),
    PhaseInfo(Phase.EXPANSION, "consumption", _("What else can they do for us?")),
    PhaseInfo(Phase.ADVOCACY, "reference", _("What can I do to support them?")),
)
STAGE_OF_PHASE = {info.phase.value: info.stage for info in PHASES}


def phases_by_stage() -> dict[str, list[PhaseInfo]]:
    """Stage key → the hourglass phases that refine it, in order."""
    result: dict[str, list[PhaseInfo]] = {}
    for info in PHASES:
        result.setdefault(info.stage, []).append(info)
    return result
