"""Built-in event types (API.md), default scoring rules (seed 001) and stage rules (the issue)."""

from django.db import migrations

EVENT_TYPES = [
    # key, name, fast lane
    ("page_view", "Page view", False),
    ("newsletter_click", "Newsletter click", False),
    ("email_open", "Email opened", False),
    ("download", "Download", False),
    ("form_submit", "Form submitted", False),
    ("service_call", "Service call", False),
    ("trade_fair_visit", "Trade fair visit", False),
    ("consultation_request", "Consultation request", True),
    ("demo_request", "Demo request", True),
    ("price_request", "Price request", True),
    ("offer_sent", "Offer sent", False),
    ("purchase", "Purchase", False),
    ("usage", "Usage", False),
    ("reference_given", "Reference given", False),
    ("referral", "Referral", False),
]

# name, event type, points, daily cap, property match
ENGAGEMENT_RULES = [
    ("Website visit", "page_view", 1, 10, None),
    ("Pricing page visit", "page_view", 10, 20, ("url", "/pricing")),
    ("Newsletter click", "newsletter_click", 5, 15, None),
    ("Email opened", "email_open", 1, 3, None),
    ("Download (paid with contact details)", "download", 10, None, None),
    ("Form submitted", "form_submit", 15, None, None),
    ("Service call", "service_call", 15, None, None),
    ("Met at a trade fair", "trade_fair_visit", 20, None, None),
    ("Consultation request", "consultation_request", 40, None, None),
    ("Demo request", "demo_request", 40, None, None),
    ("Price request", "price_request", 40, None, None),
]

FIT_RULES = [
    ("Target industry", "industry_in", "electronics, industrial automation, medical devices, automotive", 15),
    ("Company with 50+ employees", "employees_gte", "50", 10),
    ("Company with 250+ employees", "employees_gte", "250", 5),
    ("Technical decision maker", "job_title_contains", "engineer, entwickler, cto, head of r&d, hardware", 15),
    ("Business email address", "business_email", "", 10),
]

# name, trigger, event type, from stage, to stage
STAGE_RULES = [
    ("First identified activity", "identified_activity", None, "suspect", "lead"),
    ("Right time: engagement at the sales threshold, fit B or better", "right_time", None, "lead", "prospect"),
    ("Sales fast lane", "fast_lane", None, "suspect", "prospect"),
    ("Purchase", "event_type", "purchase", "suspect", "customer"),
    ("Usage started", "event_type", "usage", "customer", "consumption"),
    ("Reference given", "event_type", "reference_given", "customer", "reference"),
    ("Referral", "event_type", "referral", "customer", "reference"),
]


def create_defaults(apps, schema_editor):
    EventType = apps.get_model("scoring", "EventType")
    EngagementRule = apps.get_model("scoring", "EngagementRule")
    FitRule = apps.get_model("scoring", "FitRule")
    StageRule = apps.get_model("scoring", "StageRule")
    ScoringSettings = apps.get_model("scoring", "ScoringSettings")
    Stage = apps.get_model("funnel", "Stage")

    types = {}
    for key, name, fast_lane in EVENT_TYPES:
        types[key], _ = EventType.objects.get_or_create(
            key=key, defaults={"name": name, "fast_lane": fast_lane, "builtin": True}
        )
    for name, key, points, cap, match in ENGAGEMENT_RULES:
        prop_key, contains = match or ("", "")
        EngagementRule.objects.get_or_create(
            name=name,
            event_type=types[key],
            defaults={"points": points, "daily_cap": cap, "property_key": prop_key, "property_contains": contains},
        )
    for name, attribute, value, points in FIT_RULES:
        FitRule.objects.get_or_create(name=name, defaults={"attribute": attribute, "value": value, "points": points})
    stages = {s.key: s for s in Stage.objects.all()}
    for name, trigger, key, from_key, to_key in STAGE_RULES:
        StageRule.objects.get_or_create(
            name=name,
            defaults={
                "trigger": trigger,
                "event_type": types[key] if key else None,
                "from_stage": stages[from_key],
                "to_stage": stages[to_key],
            },
        )
    ScoringSettings.objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("scoring", "0001_initial"), ("funnel", "0004_stage_count_deltas")]
    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
