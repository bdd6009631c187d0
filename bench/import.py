"""Benchmark: a CSV import of 100,000 contacts, in-process, on PostgreSQL (target ≤ 60 s).

Generates a contacts CSV (semicolon-separated, cp1252, like German Excel) with about 1 % invalid rows
(bad email, unknown stage) and about 2 % emails that repeat an earlier row, uploads it as an import
job, and runs the job's batches in this process exactly as the Celery task does
(``imports.services.import_run``). Prints rows/s, the total and the job's counts.

Usage:
    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/trichter_h8 \\
        .venv/bin/python bench/import.py [--rows 100000] [--dedup skip|update]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

STAGES = ["suspect"] * 6 + ["lead", "lead", "prospect", "customer"]
TITLES = ["Einkauf", "Entwicklungsleiter", "Geschäftsführer", "Hardware-Entwickler", "Produktmanagerin", ""]
FIRST = ["Anna", "Jörg", "Müge", "Lukas", "Sören", "Marie", "Ömer", "Jürgen", "Lena", "Paul"]
LAST = ["Müller", "Schäfer", "Weiß", "Groß", "Becker", "Öztürk", "Krüger", "Hoffmann", "Zimmermann"]


def generate(rows: int, seed: int = 7) -> tuple[bytes, int, int]:
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["E-Mail", "Vorname", "Nachname", "Firma", "Telefon", "Position", "Phase", "Tags"])
    bad = duplicates = 0
    run_id = int(time.time())
    for i in range(rows):
        roll = rng.random()
        email = f"kontakt.{run_id}.{i}@beispiel-{i % 97}.de"
        stage = rng.choice(STAGES)
        if roll < 0.005:
            email, bad = f"kaputt.{i}@", bad + 1
        elif roll < 0.01:
            stage, bad = "irgendwo", bad + 1
        elif roll < 0.03 and i > 10:
            # An earlier row's address, in other letter case: a duplicate within the file.
            j = rng.randrange(i)
            email, duplicates = f"KONTAKT.{run_id}.{j}@beispiel-{j % 97}.de", duplicates + 1
        writer.writerow(
            [
                email,
                rng.choice(FIRST),
                rng.choice(LAST),
                f"Firma {rng.randrange(5000)} GmbH",
                f"+49 {rng.randrange(30, 999)} {rng.randrange(100000, 9999999)}",
                rng.choice(TITLES),
                stage,
                rng.choice(["", "", "messe-2026", "newsletter;pcb"]),
            ]
        )
    return out.getvalue().encode("cp1252"), bad, duplicates


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dedup", choices=["skip", "update"], default="skip")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection

    from imports import services
    from imports.models import ImportJob

    if connection.vendor != "postgresql":
        print("note: not PostgreSQL; the target is for PostgreSQL", file=sys.stderr)
    started = time.monotonic()
    data, bad, duplicates = generate(args.rows)
    print(
        f"generated {args.rows:,} rows ({len(data) / 2**20:.1f} MB; {bad} invalid, {duplicates} duplicate "
        f"emails) in {time.monotonic() - started:.1f} s"
    )

    started = time.monotonic()
    job = services.import_upload(kind="contacts", filename="bench.csv", data=data)
    services.import_configure(job=job, mapping=job.mapping, dedup=args.dedup)
    # Queued without sending a task: this process does the work the worker would.
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.QUEUED)
    upload_seconds = time.monotonic() - started
    started = time.monotonic()
    services.import_run(job_id=job.pk)
    seconds = time.monotonic() - started
    job.refresh_from_db()
    print(f"upload + inspection: {upload_seconds:.2f} s ({job.encoding}, {job.delimiter!r})")
    print(
        f"import: {job.total_rows:,} rows in {seconds:.1f} s = {job.total_rows / seconds:,.0f} rows/s "
        f"(target ≤ 60 s) — state {job.state}, created {job.created:,}, updated {job.updated:,}, "
        f"skipped {job.skipped:,}, rejected {job.rejected:,}"
    )
    if job.state != ImportJob.State.DONE:
        print(f"error: {job.error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
