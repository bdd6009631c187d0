"""How nurturing reacts to the other apps (their signals are sent after commit, except deletion)."""

from functools import partial

from django.db import transaction
from django.db.models.signals import m2m_changed, pre_delete
from django.dispatch import receiver

from funnel.models import Contact
from funnel.signals import contact_stage_changed
from nurturing import triggers
from scoring.signals import events_applied, scores_changed


@receiver(contact_stage_changed, dispatch_uid="nurturing.stage_changed")
def on_stage_changed(sender, contact_id, to_stage, **kwargs):
    triggers.stage_entered(contact_id=contact_id, stage_key=to_stage)


@receiver(events_applied, dispatch_uid="nurturing.events_applied")
def on_events_applied(sender, events, **kwargs):
    triggers.events_applied(events=events)


@receiver(scores_changed, dispatch_uid="nurturing.scores_changed")
def on_scores_changed(sender, contact_ids, **kwargs):
    triggers.scores_changed(contact_ids=contact_ids)


@receiver(m2m_changed, sender=Contact.tags.through, dispatch_uid="nurturing.tags_added")
def on_tags_added(sender, instance, action, reverse, pk_set, **kwargs):
    if action != "post_add" or not pk_set:
        return
    # Forward (contact.tags.add(tag…)): instance is the contact; reverse (tag.contacts.add(…)): the tag.
    pairs = {tag_id: {instance.pk} for tag_id in pk_set} if not reverse else {instance.pk: set(pk_set)}
    transaction.on_commit(partial(triggers.tags_added, pairs=pairs))


@receiver(pre_delete, sender=Contact, dispatch_uid="nurturing.contact_deleted")
def on_contact_deleted(sender, instance, **kwargs):
    # In the deleting transaction: the enrollments end with it (and stay, without the contact).
    triggers.contacts_deleted(contact_ids=[instance.pk])
