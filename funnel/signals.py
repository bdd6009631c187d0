from django.dispatch import Signal

# Sent after the transaction that moved a contact has committed, never inside it, so receivers
# (scoring, nurturing, webhooks) may queue Celery work and see the committed row.
# Arguments: contact_id, transition_id, from_stage (key or None), to_stage (key), by_id, rule.
contact_stage_changed = Signal()
