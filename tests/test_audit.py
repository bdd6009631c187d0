"""The audit log: append-only entries written by the services, and the admins' page."""

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.utils import timezone

from audit.models import Action, AuditEntry
from audit.services import audit_record
from tests.factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/audit/"


def test_entries_are_append_only(admin_user):
    entry = audit_record(actor=admin_user, action=Action.EXPORT, target_type="funnel.contact", rows=3)
    with pytest.raises(ValueError):
        entry.save()
    if connection.vendor == "postgresql":  # the triggers stop any code, not only the model
        for statement in ("UPDATE audit_auditentry SET action = 'x'", "DELETE FROM audit_auditentry"):
            with pytest.raises(DatabaseError), transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(statement)
    assert AuditEntry.objects.get().action == Action.EXPORT


def test_a_deleted_user_keeps_their_entries(admin_user):
    someone = UserFactory(username="temp")
    audit_record(actor=someone, action=Action.TOKEN_CREATED, target_type="accounts.apitoken", target_id=1)
    someone.delete()
    entry = AuditEntry.objects.select_related("actor").get()
    assert entry.actor is None and entry.actor_name == "temp"


def test_the_page_is_for_admins(client_for, sales_user, marketing_user, outsider, admin_user):
    assert Client().get(URL).status_code == 302  # to the login page
    for user in (sales_user, marketing_user, outsider):
        assert client_for(user).get(URL).status_code == 403
    assert client_for(admin_user).get(URL).status_code == 200


def test_filters_and_escaping(client_for, admin_user):
    contact = ContactFactory()
    other = UserFactory(username="<b>evil</b>")
    audit_record(actor=admin_user, action=Action.CONTACT_DELETED, target=contact, fields="<script>")
    audit_record(actor=other, action=Action.EXPORT, target_type="funnel.contact", rows=10)
    audit_record(actor=admin_user, action=Action.EXPORT, target_type="funnel.contact", rows=1)
    client = client_for(admin_user)
    html = client.get(URL).content.decode()
    assert "&lt;script&gt;" in html and "<script>" not in html.split("<body")[1].replace("<script src", "")
    assert "&lt;b&gt;evil&lt;/b&gt;" in html
    assert "fields:</span> &lt;script&gt;" in html
    only_exports = client.get(URL, {"action": Action.EXPORT}).context["page"].items
    assert {e.action for e in only_exports} == {Action.EXPORT} and len(only_exports) == 2
    by_other = client.get(URL, {"actor": other.pk}).context["page"].items
    assert [e.actor_name for e in by_other] == ["<b>evil</b>"]
    target = client.get(URL, {"target_type": "funnel.contact", "target_id": contact.pk}).context["page"].items
    assert [e.action for e in target] == [Action.CONTACT_DELETED]
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert client.get(URL, {"since": tomorrow}).context["page"].items == []


@pytest.mark.parametrize(
    "params", [{"action": "nonsense"}, {"since": "yesterday"}, {"since": "2026-05-02", "until": "2026-05-01"}]
)
def test_bad_filters_are_400(client_for, admin_user, params):
    assert client_for(admin_user).get(URL, params).status_code == 400


def test_the_page_costs_the_same_queries_for_few_or_many_entries(
    client_for, admin_user, django_assert_num_queries
):
    client = client_for(admin_user)
    for _ in range(2):
        audit_record(actor=admin_user, action=Action.EXPORT, target_type="funnel.contact")
    # session, user, roles, the users of the "by" filter, the entries (their actors joined)
    with django_assert_num_queries(5) as few:
        client.get(URL)
    for _ in range(20):
        audit_record(actor=UserFactory(), action=Action.EXPORT, target_type="funnel.contact")
    with django_assert_num_queries(len(few.captured_queries)):
        client.get(URL)


def test_tokens_exports_erasures_and_imports_are_recorded(client_for, admin_user, api_client_for):
    from accounts.models import ApiToken
    from privacy.services import contact_erase

    client = client_for(admin_user)
    client.post("/account/tokens/", {"name": "CI"})
    token = ApiToken.objects.get(name="CI")
    client.post(f"/account/tokens/{token.pk}/revoke/")
    contact = ContactFactory()
    client.get(f"/privacy/contacts/{contact.pk}/personal-data.json")
    contact_erase(contact=contact, by=admin_user, reason="Art. 17")
    client.get("/analytics/csv/summary/")
    got = [(e.action, e.target_type, e.actor_id) for e in AuditEntry.objects.order_by("id")]
    assert got == [
        (Action.TOKEN_CREATED, "accounts.apitoken", admin_user.pk),
        (Action.TOKEN_REVOKED, "accounts.apitoken", admin_user.pk),
        (Action.EXPORT, "personal_data.json", admin_user.pk),
        (Action.CONTACT_ERASED, "funnel.contact", admin_user.pk),
        (Action.EXPORT, "analytics:summary.csv", admin_user.pk),
    ]
    assert str(contact.email) not in str(list(AuditEntry.objects.values_list("details", flat=True)))


def test_changes_by_people_are_recorded_and_rules_moves_are_not(admin_user, marketing_user):
    from funnel.services import company_delete, contact_delete, contact_move_stage
    from nurturing.services import sequence_delete, sequence_save
    from tests.factories import CompanyFactory, stage
    from webhooks.services import subscription_create, subscription_delete

    contact = ContactFactory(stage=stage("lead"))
    contact_move_stage(contact=contact, stage=stage("prospect"), by=admin_user)
    contact_move_stage(contact=contact, stage=stage("customer"), rule="score ≥ 80")  # a rule: not here
    sequence = sequence_save(name="Willkommen", by=marketing_user)
    sequence_delete(sequence=sequence, by=marketing_user)
    subscription = subscription_create(
        owner=admin_user, name="ERP", url="https://erp.example.com/hook", kinds=["task.created"]
    )
    subscription_delete(subscription=subscription, by=admin_user)
    company = CompanyFactory()
    company_delete(company=company, by=admin_user)
    contact_delete(contact=contact, by=admin_user)
    got = [(e.action, e.details.get("change"), e.actor_id) for e in AuditEntry.objects.order_by("id")]
    assert got == [
        (Action.CONTACT_STAGE_MOVED, None, admin_user.pk),
        (Action.SEQUENCE_CHANGED, "created", marketing_user.pk),
        (Action.SEQUENCE_CHANGED, "deleted", marketing_user.pk),
        (Action.WEBHOOK_CHANGED, "created", admin_user.pk),
        (Action.WEBHOOK_CHANGED, "deleted", admin_user.pk),
        (Action.COMPANY_DELETED, None, admin_user.pk),
        (Action.CONTACT_DELETED, None, admin_user.pk),
    ]
    assert AuditEntry.objects.order_by("id").first().details == {"from": "lead", "to": "prospect"}


def test_a_rolled_back_change_leaves_no_entry(admin_user):
    from funnel.services import contact_move_stage
    from tests.factories import stage

    contact = ContactFactory(stage=stage("lead"))
    with pytest.raises(RuntimeError), transaction.atomic():
        contact_move_stage(contact=contact, stage=stage("prospect"), by=admin_user)
        raise RuntimeError("the request failed later")
    assert not AuditEntry.objects.exists()


def test_details_are_shown_as_text():
    from audit.templatetags.audit_tags import audit_value

    assert audit_value(["goal", "name"]) == "goal, name"
    assert audit_value(None) == "" and audit_value(3) == "3"
