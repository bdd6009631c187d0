"""How the sales workspace reacts to the other apps' after-commit signals."""

import logging

from django.dispatch import receiver

from scoring.signals import threshold_crossed

logger = logging.getLogger(__name__)


@receiver(threshold_crossed, dispatch_uid="sales.tasks_on_threshold_crossed")
def on_threshold_crossed(sender, crossings, **kwargs):
    """A contact became ripe: a call task for its owner (an unowned contact gets one first)."""
    from sales.services import tasks_from_crossings

    try:
        tasks_from_crossings(crossings=crossings)
    except Exception:  # noqa: BLE001 — the crossings are committed; this must not break their sender
        logger.exception(
            "Could not create the call tasks of threshold crossings %s.", [c[0] for c in crossings]
        )
