from django.core.management.base import BaseCommand

from funnel.selectors import stage_contact_counts
from funnel.services import stage_counts_rebuild


class Command(BaseCommand):
    help = "Rebuild the live per-stage contact counts from the contacts table."

    def handle(self, *args, **options):
        stage_counts_rebuild()
        counts = stage_contact_counts()
        self.stdout.write(f"Recounted {sum(counts.values())} contacts in {len(counts)} stages.")
