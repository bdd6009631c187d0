from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from funnel import datagen


class Command(BaseCommand):
    help = (
        "Append synthetic companies and contacts (with tags, scores, owners and stage histories) for "
        "scale and benchmark work. PostgreSQL: COPY, about a minute per million contacts. Other "
        "databases: bulk_create, fine for small numbers. Running it again appends more."
    )

    def add_arguments(self, parser):
        parser.add_argument("--contacts", type=int, required=True, metavar="N", help="Contacts to add.")
        parser.add_argument("--companies", type=int, required=True, metavar="M", help="Companies to add.")
        parser.add_argument("--seed", type=int, default=1, help="Random seed (default: %(default)s).")
        parser.add_argument(
            "--batch",
            type=int,
            default=datagen.DEFAULT_BATCH,
            metavar="B",
            help="Contacts per COPY / bulk_create chunk (default: %(default)s).",
        )

    def handle(self, *args, contacts, companies, seed, batch, verbosity, **options):
        if contacts < 0:
            raise CommandError(f"--contacts must be 0 or more, not {contacts}.")
        if companies < 0:
            raise CommandError(f"--companies must be 0 or more, not {companies}.")
        if contacts > 0 and companies < 1:
            raise CommandError("--companies must be at least 1 when --contacts is greater than 0.")
        if batch < 1:
            raise CommandError(f"--batch must be at least 1, not {batch}.")
        if contacts == 0 and companies == 0:
            raise CommandError("Nothing to do: give --contacts and/or --companies greater than 0.")

        method = "COPY" if connection.vendor == "postgresql" else "bulk_create"
        if verbosity:
            self.stdout.write(
                f"Generating {contacts:,} contacts at {companies:,} companies on {connection.vendor} "
                f"({method}, seed {seed}, batch {batch:,}) …"
            )
        result = datagen.generate(
            contacts=contacts,
            companies=companies,
            seed=seed,
            batch=batch,
            progress=self.stdout.write if verbosity > 1 or (verbosity and contacts >= 10 * batch) else _quiet,
        )
        if verbosity:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Done in {result.seconds:.1f} s: {result.companies:,} companies, "
                    f"{result.contacts:,} contacts, {result.transitions:,} stage transitions, "
                    f"{result.tag_links:,} tag links."
                )
            )


def _quiet(message: str) -> None:
    pass
