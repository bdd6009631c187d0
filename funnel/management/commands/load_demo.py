from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count

from analytics.fold import fold_pending
from content import demo as content_demo
from customers import demo as customers_demo
from customers.consumption import consumption_check
from funnel import demo
from funnel.models import Stage
from nurturing import demo as nurturing_demo
from offers import demo as offers_demo
from sales import demo as sales_demo
from scoring import demo as scoring_demo


class Command(BaseCommand):
    help = (
        "Load the demo data (an electronics design service: ~90 firms, ~450 persons with 18 months of "
        "stage history) and demo users of each role. Idempotent: a second run creates nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--seed", type=int, default=demo.DEFAULT_SEED, help="Random seed (default: %(default)s)."
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with DEBUG off. The demo users have publicly known passwords: not in production.",
        )

    def handle(self, *args, seed, force, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "DEBUG is off, so this looks like production: load_demo creates users with publicly known "
                "passwords. Set DEBUG=1, or pass --force if this really is a throwaway database."
            )
        result = demo.load_demo(seed=seed)
        self.stdout.write(
            f"Demo data: {result.companies_created} companies, {result.contacts_created} contacts and "
            f"{result.transitions_created} stage transitions created"
            + (" (everything was there already)." if not result.contacts_created else ".")
        )
        # Eighteen months of activity for the demo contacts, and their scores (see scoring.demo).
        events = scoring_demo.load_demo_events(seed=seed)
        self.stdout.write(
            f"Demo activity: {events.events_created} events and {events.crossings_created} threshold "
            "crossings created" + (", scores rebuilt." if events.rebuilt else ".")
        )
        nurture = nurturing_demo.load_demo_nurturing()
        self.stdout.write(
            f"Demo nurturing: {nurture.sequences_created} sequences, {nurture.enrolled} contacts enrolled, "
            f"{nurture.tasks_created} fast-lane tasks created."
        )
        offers = offers_demo.load_demo_offers(seed=seed)
        self.stdout.write(f"Demo offers: {offers.products_created} products, {offers.offers_created} offers.")
        signals = customers_demo.load_demo_signals()
        self.stdout.write(
            f"Demo signals: {signals.events_created} recent downloads by customers, {signals.raised} signals "
            f"raised, {signals.accepted} accepted, {signals.dismissed} dismissed."
        )
        consumption = consumption_check()
        self.stdout.write(
            f"Demo consumption: {consumption['tasks']} tasks for customers who do not use what they bought."
        )
        references, delight = customers_demo.load_demo_references()
        self.stdout.write(
            f"Demo references: {references} created; {delight} delight tasks for coming occasions."
        )
        tasks = sales_demo.load_demo_tasks()
        self.stdout.write(
            f"Demo tasks: {tasks.threshold_tasks} from threshold crossings, {tasks.manual_tasks} manual."
        )
        self.stdout.write(f"Demo content: {content_demo.load_demo_content()} content blocks created.")
        # Last, so the analytics see the personas and owners the steps above gave the contacts.
        self.stdout.write(f"Analytics: {fold_pending():,} stage transitions folded into the figures.")
        stages = Stage.objects.order_by("position").annotate(n=Count("contacts"))
        self.stdout.write("Contacts by stage: " + ", ".join(f"{s.key} {s.n}" for s in stages))
        self._print_logins()

    def _print_logins(self) -> None:
        """The login table. A password someone has changed since is not printed: it is not ours any more."""
        names = [d.username for d in demo.DEMO_USERS]
        users = {u.username: u for u in get_user_model().objects.filter(username__in=names)}
        rows = [("username", "password", "role")]
        for d in demo.DEMO_USERS:
            user = users.get(d.username)
            password = d.password if user and user.check_password(d.password) else "(changed, not shown)"
            rows.append((d.username, password, d.role + (" + superuser" if d.superuser else "")))
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        self.stdout.write("\nDemo logins (DEBUG/throwaway databases only):")
        for n, row in enumerate(rows):
            self.stdout.write("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
            if n == 0:
                self.stdout.write("  " + "  ".join("-" * w for w in widths))
