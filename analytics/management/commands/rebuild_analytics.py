"""Recount the funnel analytics from the stage history (after a bulk load without the trigger, or a
change to how figures are counted)."""

import time

from django.core.management.base import BaseCommand

from analytics.fold import rebuild


class Command(BaseCommand):
    help = "Recount passages, daily figures, dwell times and cohorts from the stage history."

    def handle(self, *args, **options):
        started = time.monotonic()
        count = rebuild()
        self.stdout.write(f"Folded {count:,} stage transitions in {time.monotonic() - started:.1f} s.")
