"""The data commands: load_demo (idempotent demo data) and generate_data (synthetic data at scale).

generate_data runs on whichever database the suite runs on, so on PostgreSQL these tests exercise
the COPY path and on SQLite the bulk_create path.
"""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from accounts.roles import ADMIN, MARKETING, SALES, roles_of
from funnel import datagen, demo
from funnel.models import Company, Contact, Stage, StageTransition, Tag

pytestmark = pytest.mark.django_db


def run(*args, **options) -> str:
    out = StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


@pytest.fixture
def demo_loaded(debug):
    return run("load_demo")


def snapshot() -> dict:
    """Row counts and the latest change of everything load_demo writes."""
    return {
        "users": list(get_user_model().objects.order_by("id").values_list("id", "username", "password")),
        "companies": Company.objects.count(),
        "contacts": Contact.objects.count(),
        "transitions": StageTransition.objects.count(),
        "tags": Tag.objects.count(),
        "tag_links": Contact.tags.through.objects.count(),
        "last_contact_change": Contact.objects.order_by("-updated_at").values_list("updated_at").first(),
    }


def assert_histories_consistent(contacts) -> list[list[tuple]]:
    """Every contact: first transition from nowhere at its creation, an unbroken chain, ending in its stage.

    Returns the histories as lists of (from_position, to_position) for further checks.
    """
    positions = dict(Stage.objects.values_list("id", "position"))
    rows = StageTransition.objects.filter(contact__in=contacts).order_by("contact_id", "at", "id")
    histories: dict[int, list] = {}
    for row in rows.values("contact_id", "from_stage_id", "to_stage_id", "at", "by_id", "rule"):
        histories.setdefault(row["contact_id"], []).append(row)
    contacts = list(contacts.values("id", "stage_id", "created_at"))
    assert contacts
    moves = []
    for contact in contacts:
        history = histories.get(contact["id"])
        assert history, f"contact {contact['id']} has no transitions"
        assert history[0]["from_stage_id"] is None
        assert history[0]["at"] == contact["created_at"]
        for before, after in zip(history, history[1:], strict=False):
            assert after["from_stage_id"] == before["to_stage_id"]
            assert after["from_stage_id"] != after["to_stage_id"]
        assert history[-1]["to_stage_id"] == contact["stage_id"]
        assert all(t["by_id"] or t["rule"] for t in history), "every move names a user or a rule"
        moves.append([(positions.get(t["from_stage_id"]), positions[t["to_stage_id"]]) for t in history])
    return moves


# --- load_demo ------------------------------------------------------------------------------------


def test_load_demo_creates_a_user_of_each_role_and_prints_the_logins(demo_loaded):
    users = {u.username: u for u in get_user_model().objects.all()}
    assert roles_of(users["admin"]) >= {ADMIN}
    assert users["admin"].is_superuser and users["admin"].is_staff
    assert SALES in roles_of(users["sales"]) and SALES in roles_of(users["sales2"])
    assert roles_of(users["marketing"]) == {MARKETING}
    for login in demo.DEMO_USERS:
        assert users[login.username].check_password(login.password)
        assert login.password.startswith("demo-")
        assert f"{login.username}" in demo_loaded and login.password in demo_loaded


def test_load_demo_fills_all_six_stages_in_the_shape_of_a_funnel(demo_loaded):
    counts = [Contact.objects.filter(stage__key=key).count() for key in demo.STAGE_KEYS]
    assert all(counts), counts
    assert counts[0] > counts[1] > counts[2] > counts[5], counts  # many suspects, few references
    assert 300 <= sum(counts) <= 600
    assert 60 <= Company.objects.count() <= 120
    sales_ids = set(get_user_model().objects.filter(groups__name=SALES).values_list("id", flat=True))
    assert not Contact.objects.filter(stage__key="suspect", owner__isnull=False).exists()
    owners = set(Contact.objects.exclude(stage__key="suspect").values_list("owner_id", flat=True))
    assert owners and owners <= sales_ids
    assert Contact.objects.filter(consent_email=True).exists()
    assert Contact.objects.filter(consent_email=False).exists()
    tags = set(Tag.objects.values_list("name", flat=True))
    assert {"messe-2026", "newsletter", "pcb-design", "ems", "nda"} <= tags
    assert Contact.tags.through.objects.exists()


def test_load_demo_histories_are_consistent_and_span_eighteen_months(demo_loaded):
    histories = assert_histories_consistent(Contact.objects.all())
    steps = [step for history in histories for step in history[1:]]
    assert any(to - frm > 1 for frm, to in steps), "a few contacts skip a stage"
    assert any(to < frm for frm, to in steps), "a few contacts move backwards"
    now = timezone.now()
    first = StageTransition.objects.order_by("at").first().at
    last = StageTransition.objects.order_by("at").last().at
    assert now - timedelta(days=demo.HISTORY_DAYS + 1) <= first < now - timedelta(days=300)
    assert last <= now
    assert StageTransition.objects.filter(rule=demo.DEMO_RULE, by__isnull=True).exists()
    assert StageTransition.objects.filter(by__username__in=["sales", "sales2"]).exclude(reason="").exists()


def test_load_demo_twice_changes_nothing(demo_loaded):
    before = snapshot()
    out = run("load_demo")
    assert snapshot() == before
    assert "0 contacts" in out


def test_load_demo_is_deterministic():
    now = timezone.now()
    first, second = demo.build_plan(seed=7, now=now), demo.build_plan(seed=7, now=now)
    assert first == second
    assert demo.build_plan(seed=8, now=now) != first


def test_load_demo_refuses_without_debug_unless_forced(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        run("load_demo")
    assert not get_user_model().objects.exists()
    assert not Contact.objects.exists()
    run("load_demo", force=True)
    assert Contact.objects.exists()


# --- generate_data --------------------------------------------------------------------------------


def test_generate_data_creates_exactly_n_contacts_with_consistent_histories():
    out = run("generate_data", contacts=200, companies=20, seed=3)
    assert Contact.objects.count() == 200
    assert Company.objects.count() == 20
    assert "200 contacts" in out
    histories = assert_histories_consistent(Contact.objects.all())
    assert StageTransition.objects.count() == sum(len(h) for h in histories)
    # The funnel shape: suspects are the majority, and scores rise with the stage.
    suspects = Contact.objects.filter(stage__key="suspect").count()
    assert 80 <= suspects <= 160
    later = Contact.objects.exclude(stage__key="suspect")
    assert later.exists()
    assert not later.filter(owner__isnull=True).exists()
    assert set(later.values_list("owner__groups__name", flat=True)) == {SALES}
    assert max(Contact.objects.filter(stage__key="suspect").values_list("score", flat=True)) < min(
        Contact.objects.filter(stage__key="reference").values_list("score", flat=True), default=101
    )
    assert Contact.objects.filter(company__isnull=False).count() > 150
    assert 0 < Contact.objects.filter(tags__isnull=False).distinct().count() < 120


def test_generate_data_twice_appends_instead_of_colliding():
    run("generate_data", contacts=200, companies=20, seed=3, verbosity=0)
    run("generate_data", contacts=200, companies=20, seed=3, verbosity=0)
    assert Contact.objects.count() == 400
    assert Company.objects.count() == 40
    assert Contact.objects.values("email").distinct().count() == 400
    assert_histories_consistent(Contact.objects.all())
    # The sequences moved past the explicit ids: the ORM can still insert.
    Contact.objects.create(email="after@example.com", stage=Stage.objects.get(key="lead"))
    Company.objects.create(name="After GmbH")


def test_generate_data_after_load_demo_keeps_both(demo_loaded):
    demo_contacts = Contact.objects.count()
    run("generate_data", contacts=50, companies=5, verbosity=0)
    assert Contact.objects.count() == demo_contacts + 50
    # The demo has sales users, so no extra owners are invented.
    assert not get_user_model().objects.filter(username__startswith="gen-sales").exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="index rebuild is the PostgreSQL bulk path")
def test_generate_data_rebuilding_indexes_restores_them_all():
    def schema():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename LIKE 'funnel_%%' ORDER BY indexname"
            )
            indexes = [row[0] for row in cursor.fetchall()]
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid::regclass::text LIKE 'funnel_%%' ORDER BY conname"
            )
            return indexes, cursor.fetchall()

    before = schema()
    result = datagen.generate(contacts=120, companies=10, seed=5, batch=50, rebuild_indexes=True)
    assert result.contacts == 120
    assert schema() == before
    assert Contact.objects.count() == 120
    assert_histories_consistent(Contact.objects.all())


@pytest.mark.parametrize(
    "options, message",
    [
        ({"contacts": -1, "companies": 5}, "--contacts must be 0 or more"),
        ({"contacts": 10, "companies": -1}, "--companies must be 0 or more"),
        ({"contacts": 10, "companies": 0}, "--companies must be at least 1"),
        ({"contacts": 0, "companies": 0}, "Nothing to do"),
        ({"contacts": 10, "companies": 1, "batch": 0}, "--batch must be at least 1"),
    ],
)
def test_generate_data_rejects_bad_arguments(options, message):
    with pytest.raises(CommandError, match=message):
        run("generate_data", **options)
    assert not Contact.objects.exists()


def test_generate_data_requires_both_counts():
    with pytest.raises(CommandError, match="required"):
        call_command("generate_data", "--contacts", "10", stdout=StringIO())


def test_generate_data_only_companies():
    run("generate_data", contacts=0, companies=3, verbosity=0)
    assert Company.objects.count() == 3
    assert not Contact.objects.exists()
