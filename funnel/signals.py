from django.dispatch import Signal

# Sent after the transaction that moved a contact has committed, never inside it, so receivers
# (scoring, nurturing, webhooks) may queue Celery work and see the committed row.
# Arguments: contact_id, transition_id, from_stage (key or None), to_stage (key), by_id, rule.
contact_stage_changed = Signal()

# Sent after commit when contact data that other apps derive values from may have changed (fields,
# tags, the company's data). Arguments: contact_ids (list) or company_id.
contacts_changed = Signal()
