"""How the customers app reacts to other apps (their signals are sent after commit)."""

from django.dispatch import receiver

from customers.services import signals_detect
from scoring.signals import events_applied


@receiver(events_applied, dispatch_uid="customers.detect_on_events")
def detect_on_events(sender, events, **kwargs):
    # Only events on a topic can show interest in a product.
    contact_ids = {contact_id for _e, contact_id, _t, topic in events if topic}
    if contact_ids:
        signals_detect(contact_ids=contact_ids)
