"""How scoring reacts to changes announced by the funnel app (after their commit)."""

import logging

from django.dispatch import receiver

from funnel.signals import contacts_changed

logger = logging.getLogger(__name__)
# Up to this many contacts are rescored at once in the request; more go to the worker.
INLINE_LIMIT = 50


@receiver(contacts_changed, dispatch_uid="scoring.fit_on_contacts_changed")
def rescore_fit(sender, contact_ids=None, company_id=None, **kwargs):
    """Fit depends on contact fields, tags and the company: recompute it for the changed contacts."""
    from funnel.models import Contact
    from scoring.services import fit_recompute
    from scoring.tasks import recompute_fit

    if contact_ids is None and company_id is not None:
        few = list(
            Contact.objects.filter(company_id=company_id).values_list("pk", flat=True)[: INLINE_LIMIT + 1]
        )
        if len(few) <= INLINE_LIMIT:
            contact_ids, company_id = few, None
    if contact_ids is not None and len(contact_ids) <= INLINE_LIMIT:
        fit_recompute(contact_ids=contact_ids)
        return
    try:
        recompute_fit.delay(contact_ids=contact_ids, company_id=company_id)
    except Exception:  # noqa: BLE001 — a broker outage must not lose the rescoring
        logger.warning("Could not queue fit recompute; doing it now.", exc_info=True)
        recompute_fit(contact_ids=contact_ids, company_id=company_id)
