from django.dispatch import Signal

# Both are sent after the transaction that wrote them has committed (receivers may queue work).

# Events were applied to contacts' scores. Argument: events, a list of
# (event id, contact id, event type id, topic), in order of occurrence; anonymous events are left out.
events_applied = Signal()

# Stored scores of these contacts changed because of their activity or fit (not by a rebuild).
# Argument: contact_ids (list).
scores_changed = Signal()

# Contacts' engagement rose to the sales threshold (one ThresholdCrossing row each). Argument:
# crossings, a list of (crossing id, contact id, owner id or None) — the owner when it was recorded.
threshold_crossed = Signal()
