import time

from django.core.management.base import BaseCommand, CommandError

from scoring import rebuild
from scoring.models import RebuildJob


class Command(BaseCommand):
    help = (
        "Rebuild every contact's scores from its stored events now, in this process, with progress "
        "(the same work the rebuild_scores task does). Joins a pending job; --job continues a given "
        "one (e.g. after a crash: it resumes after the last committed batch)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--job", type=int, metavar="ID", help="Continue this job instead.")
        parser.add_argument(
            "--batch-size",
            type=int,
            metavar="N",
            help=f"Contacts per batch (default: {rebuild.BATCH_CONTACTS} on PostgreSQL, "
            f"{rebuild.BATCH_CONTACTS_PYTHON} elsewhere).",
        )
        parser.add_argument("--reason", default="manage.py rebuild_scores", help="Recorded on the job.")

    def handle(self, *args, job, batch_size, reason, verbosity, **options):
        if batch_size is not None and batch_size < 1:
            raise CommandError(f"--batch-size must be at least 1, not {batch_size}.")
        if job is None:
            job_id = rebuild._request(by=None, reason=reason, queue=False).pk
        elif not RebuildJob.objects.filter(pk=job).exists():
            raise CommandError(f"There is no rebuild job #{job}.")
        else:
            job_id = job
        started = time.monotonic()

        def progress(j: RebuildJob) -> None:
            if verbosity:
                elapsed = time.monotonic() - started
                self.stdout.write(
                    f"#{j.pk} {j.status}: {j.done_contacts:,} of {j.total_contacts:,} contacts "
                    f"({j.percent} %), {j.batches} batches, {elapsed:.1f} s"
                )

        waiting = False
        while True:
            try:
                rebuild.rebuild_run(job_id=job_id, batch_size=batch_size, progress=progress)
            except Exception as exc:
                raise CommandError(
                    f"Rebuild #{job_id} failed in a batch ({exc}); run the command with --job {job_id} "
                    "to continue after the last committed batch."
                ) from exc
            current = RebuildJob.objects.get(pk=job_id)
            if current.status == RebuildJob.Status.RUNNING:  # another worker holds it: watch it
                if not waiting and verbosity:
                    self.stdout.write(f"#{job_id} is being worked on by another worker; waiting.")
                waiting = True
                time.sleep(2)
                continue
            break
        if current.status == RebuildJob.Status.DONE:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Rebuild #{job_id} done: {current.done_contacts:,} contacts in {current.batches} "
                    f"batches, {time.monotonic() - started:.1f} s."
                )
            )
            return
        if current.status == RebuildJob.Status.SUPERSEDED:
            newer = RebuildJob.objects.filter(pk__gt=job_id).order_by("pk").first()
            raise CommandError(
                f"Rebuild #{job_id} was superseded by #{newer.pk if newer else '?'}; run it again."
            )
        raise CommandError(f"Rebuild #{job_id} is {current.status}: {current.error or 'see the log'}")
