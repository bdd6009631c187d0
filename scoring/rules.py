"""Write-side services for scoring configuration: event types, rules and settings.

Every change that alters how points are computed asks for a full rebuild of the scores
(:func:`scoring.rebuild.rebuild_request`), after commit, so that stored scores never mix two rule sets.
"""

from __future__ import annotations

from django.db import models, transaction
from django.utils.translation import gettext as _

from audit.models import Action
from audit.services import audit_record
from scoring.models import EngagementRule, EventType, FitRule, ScoringSettings, StageRule
from scoring.rebuild import rebuild_request

# Fields whose change alters computed points; editing only a name does not need a rebuild.
SCORING_FIELDS = {
    EngagementRule: {
        "event_type",
        "points",
        "topic",
        "property_key",
        "property_contains",
        "daily_cap",
        "active",
    },
    FitRule: {"attribute", "value", "points", "active"},
    ScoringSettings: {"half_life_days", "grade_a_min", "grade_b_min", "grade_c_min"},
    StageRule: set(),  # stage rules act on future events only
    EventType: set(),
}


def _save(instance: models.Model, *, by, changed: set[str]) -> models.Model:
    instance.full_clean()
    with transaction.atomic():
        created = instance.pk is None
        instance.save()
        audit_record(
            actor=by,
            action=Action.RULE_CHANGED,
            target=instance,
            change="created" if created else "updated",
            fields=sorted(changed),
        )
        if changed & SCORING_FIELDS[type(instance)]:
            rebuild_request(
                by=by,
                reason=_("%(kind)s “%(name)s” changed")
                % {"kind": instance._meta.verbose_name, "name": instance},
            )
    return instance


def rule_create(*, model: type[models.Model], by=None, **fields) -> models.Model:
    """Create an EngagementRule, FitRule, StageRule or EventType from validated fields."""
    if model is EventType:
        fields.setdefault("name", fields.get("key", ""))
    return _save(model(**fields), by=by, changed=set(fields) | {"active"})


def rule_update(*, instance: models.Model, by=None, **fields) -> models.Model:
    if (
        isinstance(instance, EventType)
        and instance.builtin
        and "key" in fields
        and fields["key"] != instance.key
    ):
        raise ValueError(_("The key of a built-in event type cannot change: integrations send it."))
    changed = {name for name, value in fields.items() if getattr(instance, name) != value}
    for name, value in fields.items():
        setattr(instance, name, value)
    return _save(instance, by=by, changed=changed)


@transaction.atomic
def rule_delete(*, instance: models.Model, by=None) -> None:
    """Delete a rule (a built-in or used event type cannot be deleted)."""
    if isinstance(instance, EventType):
        if instance.builtin:
            raise ValueError(_("Built-in event types cannot be deleted."))
        if instance.events.exists():
            raise ValueError(_("This event type has events; mark it inactive in its rules instead."))
    affects_scores = bool(SCORING_FIELDS[type(instance)])
    label = str(instance)
    audit_record(actor=by, action=Action.RULE_CHANGED, target=instance, change="deleted")
    instance.delete()
    if affects_scores:
        rebuild_request(by=by, reason=_("rule “%(name)s” deleted") % {"name": label})


def settings_update(*, by=None, **fields) -> ScoringSettings:
    return rule_update(instance=ScoringSettings.load(), by=by, **fields)
