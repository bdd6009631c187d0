"""Server-time benchmark of the contact pages and API at scale (see bench/README.md).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/trichter_bench .venv/bin/python bench/run.py

Requests go through Django's test ``Client`` in-process: the full request/response cycle (middleware,
view, queries, template or serializer) without network or a WSGI server, with DEBUG off as in
production. Each endpoint gets a few warm-up requests, then ``--requests`` timed ones; the median
and p95 are printed and written to bench/results/<timestamp>.json. EXPLAIN ANALYZE of the contact
list queries (through ``funnel.selectors.contact_list``) follows, so that a slow plan is visible.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
TARGET_P95_MS = 100.0
BENCH_USERNAME = "bench"
BENCH_TOKEN_NAME = "bench/run.py"
SEARCH_TERM = "mueller"


@dataclass
class Endpoint:
    label: str
    url_names: tuple[str, ...]  # tried in order; the path is the fall-back
    path: str
    params: dict
    auth: str  # "session" or "token"


ENDPOINTS = (
    Endpoint("funnel table  GET /", ("funnel:table",), "/", {}, "session"),
    Endpoint(
        "contact list  stage=lead, -score",
        ("funnel:contact-list",),
        "/contacts/",
        {"stage": "lead", "ordering": "-score"},
        "session",
    ),
    Endpoint(
        f"contact list  search={SEARCH_TERM}",
        ("funnel:contact-list",),
        "/contacts/",
        {"search": SEARCH_TERM},
        "session",
    ),
    Endpoint(
        f"contact list  stage=lead, -score, search={SEARCH_TERM}",
        ("funnel:contact-list",),
        "/contacts/",
        {"stage": "lead", "ordering": "-score", "search": SEARCH_TERM},
        "session",
    ),
    Endpoint(
        "API contacts  stage=lead, -score",
        ("api:contact-list", "contact-list", "api-v1:contact-list"),
        "/api/v1/contacts/",
        {"stage": "lead", "ordering": "-score"},
        "token",
    ),
    Endpoint(
        f"API contacts  search={SEARCH_TERM}",
        ("api:contact-list", "contact-list", "api-v1:contact-list"),
        "/api/v1/contacts/",
        {"search": SEARCH_TERM},
        "token",
    ),
)


@dataclass
class Result:
    label: str
    url: str = ""
    status: str = "ok"  # ok | not available | HTTP <code> | error: …
    requests: int = 0
    queries: int | None = None
    bytes: int | None = None
    median_ms: float | None = None
    p95_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    slowest_queries: list[dict] = field(default_factory=list)
    timings_ms: list[float] = field(default_factory=list)

    @property
    def meets_target(self) -> bool | None:
        return None if self.p95_ms is None else self.p95_ms <= TARGET_P95_MS


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_django()

    from django.db import connection

    if connection.vendor != "postgresql":
        print(
            "bench/run.py measures PostgreSQL at scale; DATABASE_URL points at "
            f"{connection.vendor}. Example:\n"
            "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/trichter_bench .venv/bin/python bench/run.py",
            file=sys.stderr,
        )
        return 2
    if not ensure_contacts(args):
        return 2
    ensure_static_manifest()

    user, token = bench_user()
    results = [measure(endpoint, user=user, token=token, args=args) for endpoint in ENDPOINTS]
    print_table(results)
    print_slowest_queries(results)
    explains = explain_contact_list()
    explains.update(explain_slowest_queries(results))
    for title, plan in explains.items():
        print(f"\n=== EXPLAIN ANALYZE: {title}\n{plan}")
    path = write_results(results, explains, args)
    print(f"\nResults written to {path.relative_to(ROOT)}")
    return 0


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=50, help="Timed requests per endpoint (default 50).")
    parser.add_argument("--warmup", type=int, default=5, help="Untimed requests first (default 5).")
    parser.add_argument(
        "--contacts", type=int, default=1_000_000, help="Contacts the database must hold (default 1,000,000)."
    )
    parser.add_argument(
        "--generate",
        action="store_true",
        help="If there are fewer contacts, run generate_data to add the missing ones (1 company per 20).",
    )
    args = parser.parse_args(argv)
    if args.requests < 1 or args.warmup < 0 or args.contacts < 0:
        parser.error("--requests must be ≥ 1, --warmup and --contacts ≥ 0")
    return args


def setup_django() -> None:
    """Production-like settings: DEBUG off (no query log, manifest static files, HTTPS redirect)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-only-" + secrets.token_urlsafe(40))
    hosts = [h for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
    if "testserver" not in hosts:
        os.environ["ALLOWED_HOSTS"] = ",".join([*hosts, "testserver"])
    import django

    django.setup()


def ensure_static_manifest() -> None:
    """With DEBUG off, {% static %} needs the manifest that collectstatic writes (into var/, gitignored)."""
    from django.conf import settings
    from django.core.management import call_command

    if not (Path(settings.STATIC_ROOT) / "staticfiles.json").exists():
        print("Collecting static files (needed with DEBUG off) …")
        call_command("collectstatic", interactive=False, verbosity=0)


def ensure_contacts(args) -> bool:
    from django.core.management import call_command

    from funnel.models import Contact

    have = Contact.objects.count()
    if have >= args.contacts:
        print(f"Database: {have:,} contacts (need {args.contacts:,}).")
        return True
    missing = args.contacts - have
    if not args.generate:
        print(
            f"The database has {have:,} contacts; the benchmark needs {args.contacts:,}. Load them first:\n"
            f"  DATABASE_URL=… .venv/bin/python manage.py generate_data --contacts {missing} "
            f"--companies {max(1, missing // 20)}\n"
            "or run bench/run.py with --generate.",
            file=sys.stderr,
        )
        return False
    print(f"Generating {missing:,} contacts …")
    call_command("generate_data", contacts=missing, companies=max(1, missing // 20), verbosity=1)
    return True


def bench_user():
    """A sales user and a fresh API token for it (old bench tokens are removed)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from accounts.models import ApiToken
    from accounts.roles import SALES

    user, created = get_user_model().objects.get_or_create(username=BENCH_USERNAME)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    user.groups.add(Group.objects.get(name=SALES))
    ApiToken.objects.filter(user=user, name=BENCH_TOKEN_NAME).delete()
    _, key = ApiToken.objects.issue(user=user, name=BENCH_TOKEN_NAME)
    return user, key


def resolve_url(endpoint: Endpoint) -> str | None:
    from django.urls import NoReverseMatch, Resolver404, resolve, reverse

    for name in endpoint.url_names:
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    try:
        resolve(endpoint.path)
    except Resolver404:
        return None
    return endpoint.path


def measure(endpoint: Endpoint, *, user, token: str, args) -> Result:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    result = Result(label=endpoint.label)
    path = resolve_url(endpoint)
    if path is None:
        result.status = "not available"
        return result
    url = f"{path}?{urlencode(endpoint.params)}" if endpoint.params else path
    result.url = url
    client = Client()
    headers = {}
    if endpoint.auth == "session":
        client.force_login(user)
    else:
        headers["Authorization"] = f"Token {token}"

    def get():
        # secure=True: production settings redirect plain HTTP to HTTPS.
        return client.get(url, secure=True, headers=headers)

    try:
        response = get()
        if response.status_code != 200:
            result.status = f"HTTP {response.status_code}"
            return result
        result.bytes = len(response.content)
        for _ in range(args.warmup):
            get()
        with CaptureQueriesContext(connection) as queries:
            get()
        result.queries = len(queries)
        # Where one request spends its database time: the usual first suspect of a slow page.
        ranked = sorted(queries.captured_queries, key=lambda q: float(q["time"]), reverse=True)
        result.slowest_queries = [
            {"ms": round(float(q["time"]) * 1000, 1), "sql": q["sql"]} for q in ranked[:3]
        ]
        for _ in range(args.requests):
            started = time.perf_counter()
            response = get()
            _ = response.content
            result.timings_ms.append((time.perf_counter() - started) * 1000)
    except Exception as exc:  # a page under construction must not stop the other measurements
        result.status = f"error: {type(exc).__name__}: {exc}"[:200]
        return result
    timings = sorted(result.timings_ms)
    result.requests = len(timings)
    result.median_ms = round(statistics.median(timings), 1)
    result.p95_ms = round(percentile(timings, 95), 1)
    result.min_ms = round(timings[0], 1)
    result.max_ms = round(timings[-1], 1)
    return result


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile: the smallest value that at least pct % of the values do not exceed."""
    rank = max(1, -(-len(sorted_values) * pct // 100))
    return sorted_values[int(rank) - 1]


def print_table(results: list[Result]) -> None:
    header = ("endpoint", "median ms", "p95 ms", "queries", "KiB", f"p95 ≤ {TARGET_P95_MS:.0f} ms")
    rows = [header]
    for r in results:
        if r.status != "ok":
            rows.append((r.label, "–", "–", "–", "–", r.status))
            continue
        rows.append(
            (
                r.label,
                f"{r.median_ms:.1f}",
                f"{r.p95_ms:.1f}",
                str(r.queries),
                f"{r.bytes / 1024:.0f}",
                "yes" if r.meets_target else "NO",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    print()
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:-1], widths[1:-1], strict=True)]
        print("  ".join([*cells, row[-1]]))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def print_slowest_queries(results: list[Result], width: int = 240) -> None:
    print("\nSlowest queries of one request per endpoint:")
    for r in results:
        if r.status != "ok":
            continue
        print(f"  {r.label}")
        for q in r.slowest_queries:
            sql = q["sql"] if len(q["sql"]) <= width else q["sql"][: width - 1] + "…"
            print(f"    {q['ms']:7.1f} ms  {sql}")


def explain_contact_list() -> dict[str, str]:
    """EXPLAIN ANALYZE of the first page of the lists measured above, and of its COUNT."""
    from django.conf import settings
    from django.db import connection

    from funnel.models import Stage
    from funnel.selectors import contact_list

    page = settings.REST_FRAMEWORK.get("PAGE_SIZE", 50)
    lead = Stage.objects.get(key="lead")
    cases = {
        "stage=lead, ordering=-score": {"stage": lead, "ordering": "-score"},
        f"search={SEARCH_TERM} (default ordering)": {"search": SEARCH_TERM},
        f"stage=lead, ordering=-score, search={SEARCH_TERM}": {
            "stage": lead,
            "ordering": "-score",
            "search": SEARCH_TERM,
        },
    }
    plans = {}
    for title, kwargs in cases.items():
        qs = contact_list(**kwargs)
        plans[f"{title}, first page (LIMIT {page})"] = qs[:page].explain(analyze=True, buffers=True)
        sql, params = qs.order_by().values("pk").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) SELECT COUNT(*) FROM ({sql}) AS page_count", params)
            plans[f"{title}, COUNT for the paginator"] = "\n".join(row[0] for row in cursor.fetchall())
    return plans


def explain_slowest_queries(results: list[Result], threshold_ms: float = 10.0) -> dict[str, str]:
    """EXPLAIN ANALYZE of each endpoint's slowest query when it took more than ``threshold_ms``.

    The captured SQL is what psycopg2 sent, parameters included, so it can be explained as it is.
    """
    from django.db import connection

    plans = {}
    for r in results:
        if r.status != "ok" or not r.slowest_queries:
            continue
        slowest = r.slowest_queries[0]
        if slowest["ms"] < threshold_ms or not slowest["sql"].lstrip().upper().startswith("SELECT"):
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest["sql"])  # no params: no %-escaping
            plans[f"slowest query of {r.label} ({slowest['ms']} ms in the request)"] = "\n".join(
                row[0] for row in cursor.fetchall()
            )
    return plans


def write_results(results: list[Result], explains: dict[str, str], args) -> Path:
    from django.db import connection

    from funnel.models import Contact, StageTransition

    RESULTS_DIR.mkdir(exist_ok=True)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    now = datetime.now(UTC)
    data = {
        "at": now.isoformat(timespec="seconds"),
        "commit": commit,
        "target_p95_ms": TARGET_P95_MS,
        "requests": args.requests,
        "warmup": args.warmup,
        "contacts": Contact.objects.count(),
        "transitions": StageTransition.objects.count(),
        "postgresql": pg_version,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "results": [{**asdict(r), "meets_target": r.meets_target} for r in results],
        "explain": explains,
    }
    path = RESULTS_DIR / f"{now:%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    return path


if __name__ == "__main__":
    sys.exit(main())
