"""The six stages of the default B2B funnel, with texts for all five columns.

The texts follow the electronics design service of seed 000: ~25,000 contact persons at ~8,000
target firms, ~1,000 offers a year, about half of them won, ~200 customer firms, ~10 published
references a year. Marketing rewrites them in the funnel table.
"""

from django.db import migrations

STAGES = [
    {
        "key": "suspect",
        "name": "Suspect",
        "buying_process": "Belongs to the target group: a firm with its own electronic products. Has a design "
        "or manufacturing need now or soon, but does not know us yet.",
        "task": "Be findable and stand out: trade fairs, search engines, phone research, articles on the "
        "topics our target firms search for.",
        "expected_response": "Visits the website, stops at the booth, takes a call, downloads a guide.",
        "metric": "Contacts in the target group (≈ 25,000 persons at ≈ 8,000 firms); share reached per month.",
        "discovery": "Which channels and topics reach the target group at all, and which firms fit best.",
    },
    {
        "key": "lead",
        "name": "Lead",
        "buying_process": "Has come into contact with us: visited the website, met us at a fair, answered a "
        "call or searched for a topic we cover. Collects information on possible suppliers.",
        "task": "Identify the person, learn the need and nurture it with useful content until it is ripe; "
        "do not call too early.",
        "expected_response": "Leaves contact details, subscribes to the newsletter, downloads more, asks a first "
        "question.",
        "metric": "New leads per month by source; engagement score; share that becomes a prospect.",
        "discovery": "Which content and which sources produce leads that later buy.",
    },
    {
        "key": "prospect",
        "name": "Prospect",
        "buying_process": "Has a concrete need: asks a technical question, wants an NDA, requests a price or a "
        "demo, compares offers.",
        "task": "Answer fast, qualify the project, write a convincing offer (≈ 1,000 a year).",
        "expected_response": "Shares requirements and documents, signs the NDA, receives and discusses an offer.",
        "metric": "Offers sent, offer value, win rate (≈ 50 %), days from request to offer.",
        "discovery": "Why we win and lose offers; which needs and project sizes fit us.",
    },
    {
        "key": "customer",
        "name": "Customer",
        "buying_process": "Has ordered: a design, a prototype run or a monthly service package.",
        "task": "Deliver as promised, keep the customer informed, make the start with us easy.",
        "expected_response": "Accepts the delivery, pays, gives feedback on the project.",
        "metric": "New customer firms (≈ 200 in the base), revenue, average order value.",
        "discovery": "What customers value in the delivery; where the hand-over from sales hurts.",
    },
    {
        "key": "consumption",
        "name": "Consumption",
        "buying_process": "Actually uses what was bought: books hours of the monthly package, builds on the "
        "design, orders the next batch.",
        "task": "Encourage use: onboarding, regular check-ins, reminders when a package goes unused, small "
        "surprises that delight.",
        "expected_response": "Uses the service regularly, orders again, asks about more.",
        "metric": "Share of customers with usage in the last 90 days; repeat orders; unused packages.",
        "discovery": "Who buys but does not use (and will not buy again); what blocks use.",
    },
    {
        "key": "reference",
        "name": "Reference",
        "buying_process": "Is convinced and says so: recommends us, gives a testimonial, agrees to a case study.",
        "task": "Ask for references at the right moment, make giving one easy, thank for every referral.",
        "expected_response": "Testimonial, case study, review or direct recommendation.",
        "metric": "Published references per year (≈ 10) and direct referrals.",
        "discovery": "What makes customers fans; which stories convince new prospects.",
    },
]


def create_stages(apps, schema_editor):
    Stage = apps.get_model("funnel", "Stage")
    for position, data in enumerate(STAGES):
        Stage.objects.update_or_create(key=data["key"], defaults={**data, "position": position})


class Migration(migrations.Migration):
    dependencies = [("funnel", "0001_initial")]
    operations = [migrations.RunPython(create_stages, migrations.RunPython.noop)]
