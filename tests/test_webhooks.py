"""Outbound webhooks: the outbox is written with the change, delivered by the task, signed, retried
with backoff, disabled after a day of failures; the API is for admins only."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from funnel.services import contact_create, contact_move_stage, contact_move_stage_many, contact_update
from notifications.models import Notification
from sales.models import Task
from sales.services import task_create, tasks_from_crossings
from scoring.models import ThresholdCrossing
from tests.factories import ContactFactory, stage
from webhooks import delivery, services, tasks
from webhooks.models import Delivery, Subscription

ALL_KINDS = [
    "contact.created",
    "contact.updated",
    "contact.stage_changed",
    "contact.threshold_crossed",
    "fastlane.requested",
    "signal.created",
    "enrollment.exited",
    "task.created",
]


# --- a local receiver ------------------------------------------------------------------------------


class Receiver:
    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []  # answers in order; 200 when used up

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver():
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 — http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"receiver broke")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def verify(secret: str, headers: dict, body: bytes) -> bool:
    """The receiver's check, as the README shows it."""
    timestamp = headers["Trichter-Timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("v1=" + expected, headers["Trichter-Signature"])


@pytest.fixture
def subscribe(admin_user):
    def make(url="https://hooks.example.com/in", kinds=None, **fields):
        return services.subscription_create(
            owner=admin_user, name=fields.pop("name", "CRM sync"), url=url, kinds=kinds or ALL_KINDS, **fields
        )

    return make


# --- the outbox ------------------------------------------------------------------------------------


def test_rollback_leaves_no_delivery(subscribe):
    subscribe()
    with pytest.raises(RuntimeError), transaction.atomic():
        contact_create(email="gone@example.com")
        assert Delivery.objects.count() == 1
        raise RuntimeError("the change fails")
    assert Delivery.objects.count() == 0


def test_commit_writes_the_event_as_it_happened(subscribe, sales_user):
    subscription = subscribe(kinds=["contact.created"])
    contact = contact_create(email="new@example.com", first_name="Nina", owner=sales_user)
    row = Delivery.objects.get()
    assert row.subscription == subscription
    assert row.kind == "contact.created"
    assert row.state == Delivery.State.PENDING
    assert row.payload["id"] == str(row.delivery_id)
    assert row.payload["type"] == "contact.created"
    assert row.payload["created_at"].endswith("Z")
    assert row.payload["data"]["contact"] == {
        "id": contact.pk,
        "email": "new@example.com",
        "first_name": "Nina",
        "last_name": "",
        "stage": "suspect",
        "score": 0,
        "owner": sales_user.pk,
        "company": None,
    }


def test_one_row_per_wanting_subscription(subscribe):
    subscribe(name="a", kinds=["contact.created"])
    subscribe(name="b", kinds=["task.created"])
    subscribe(name="c", kinds=["contact.created"], is_active=False)
    contact_create(email="x@example.com")
    assert list(Delivery.objects.values_list("subscription__name", flat=True)) == ["a"]


def test_emit_without_subscriptions_costs_one_query(db, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert services.webhook_emit("contact.created", {"x": 1}) == 0
    with django_assert_num_queries(1):
        assert services.webhook_emit_many("task.created", lambda: pytest.fail("built for nobody")) == 0


def test_emit_with_subscribers_is_one_select_and_one_insert(subscribe, django_assert_num_queries):
    subscribe(name="a")
    subscribe(name="b")
    with django_assert_num_queries(2):
        assert services.webhook_emit_many("task.created", [{"n": 1}, {"n": 2}]) == 4
    assert len(set(Delivery.objects.values_list("delivery_id", flat=True))) == 4


def test_unknown_kind_is_a_programming_error(db):
    with pytest.raises(ValueError):
        services.webhook_emit("contact.exploded", {})


# --- delivery --------------------------------------------------------------------------------------


def test_delivery_posts_signed_json(subscribe, receiver):
    subscription = subscribe(url=receiver.url, kinds=["contact.created"])
    contact_create(email="signed@example.com")
    row = Delivery.objects.get()
    assert delivery.deliver() == 1
    (request,) = receiver.requests
    headers = request["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "Trichter-Webhooks/1"
    assert headers["Trichter-Delivery"] == str(row.delivery_id)
    assert headers["Trichter-Event"] == "contact.created"
    assert abs(int(headers["Trichter-Timestamp"]) - timezone.now().timestamp()) < 60
    assert verify(subscription.secret, headers, request["body"])
    assert not verify("another secret", headers, request["body"])
    assert json.loads(request["body"]) == row.payload
    row.refresh_from_db()
    assert row.state == Delivery.State.DELIVERED
    assert row.last_status_code == 200
    assert row.last_response == "ok"
    assert row.attempts == 1
    assert delivery.deliver() == 0  # nothing twice


def test_rows_survive_a_broker_that_is_down(subscribe, receiver, django_capture_on_commit_callbacks):
    subscribe(url=receiver.url)
    with mock.patch.object(
        tasks.deliver_webhooks, "delay", side_effect=ConnectionError("redis down")
    ) as kick:
        with django_capture_on_commit_callbacks(execute=True):
            contact_create(email="queued@example.com")
    assert kick.called
    assert Delivery.objects.filter(state=Delivery.State.PENDING).count() == 1
    assert tasks.deliver_webhooks() == 1  # the beat task later
    assert Delivery.objects.get().state == Delivery.State.DELIVERED
    assert len(receiver.requests) == 1


def test_kick_is_queued_once_per_transaction(subscribe, django_capture_on_commit_callbacks):
    subscribe()
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        contact_create(email="a@example.com")
        contact_create(email="b@example.com")
    assert [c for c in callbacks if c is tasks.queue_delivery] == [tasks.queue_delivery]


def test_failures_back_off_then_fail_disable_and_notify_once(subscribe, receiver, admin_user):
    subscription = subscribe(url=receiver.url, kinds=["contact.created"])
    receiver.statuses = [500] * 20
    contact_create(email="a@example.com")
    contact_create(email="b@example.com")
    first, second = Delivery.objects.order_by("id")
    Delivery.objects.filter(pk=second.pk).update(next_attempt_at=timezone.now() + timedelta(days=3))
    now = timezone.now()
    waits = []
    for _ in range(delivery.MAX_ATTEMPTS - 1):
        assert delivery.deliver(now=now) == 1
        first.refresh_from_db()
        assert first.state == Delivery.State.PENDING
        assert first.last_status_code == 500
        assert first.last_response == "receiver broke"
        waits.append(first.next_attempt_at - now)
        assert delivery.deliver(now=first.next_attempt_at - timedelta(seconds=1)) == 0  # not due yet
        now = first.next_attempt_at
    assert waits == [
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=6),
        timedelta(hours=12),
    ]
    assert sum(waits, timedelta()) <= timedelta(hours=24)
    assert delivery.deliver(now=now) == 1
    first.refresh_from_db()
    assert first.state == Delivery.State.FAILED
    assert first.attempts == delivery.MAX_ATTEMPTS
    subscription.refresh_from_db()
    assert not subscription.is_active
    assert "HTTP status 500" in subscription.disabled_reason
    assert subscription.consecutive_failures == delivery.MAX_ATTEMPTS
    notes = Notification.objects.filter(user=admin_user, kind="webhook_disabled")
    assert notes.count() == 1
    # A disabled subscription sends nothing more and notifies nobody again.
    assert delivery.deliver(now=now + timedelta(days=5)) == 0
    assert notes.count() == 1
    assert len(receiver.requests) == delivery.MAX_ATTEMPTS


def test_a_working_receiver_is_not_disabled_for_one_refused_event(subscribe, receiver):
    subscription = subscribe(url=receiver.url, kinds=["contact.created"])
    contact_create(email="a@example.com")
    row = Delivery.objects.get()
    Delivery.objects.filter(pk=row.pk).update(attempts=delivery.MAX_ATTEMPTS - 1)
    Subscription.objects.filter(pk=subscription.pk).update(last_success_at=timezone.now())
    receiver.statuses = [400]
    delivery.deliver()
    row.refresh_from_db()
    subscription.refresh_from_db()
    assert row.state == Delivery.State.FAILED
    assert subscription.is_active


def test_network_error_is_retried(subscribe):
    subscribe(url="http://127.0.0.1:9/nothing-listens", kinds=["contact.created"])
    contact_create(email="a@example.com")
    now = timezone.now()
    delivery.deliver(now=now)
    row = Delivery.objects.get()
    assert row.state == Delivery.State.PENDING
    assert row.last_status_code is None
    assert row.last_error
    assert row.next_attempt_at == now + timedelta(minutes=1)


def test_redirects_are_not_followed(subscribe, receiver):
    subscribe(url=receiver.url, kinds=["contact.created"])
    receiver.statuses = [302]
    contact_create(email="a@example.com")
    delivery.deliver()
    row = Delivery.objects.get()
    assert row.state == Delivery.State.PENDING
    assert row.last_status_code == 302
    assert len(receiver.requests) == 1


def test_redelivery_sends_the_same_delivery_again(subscribe, receiver):
    subscribe(url=receiver.url, kinds=["contact.created"])
    contact_create(email="a@example.com")
    delivery.deliver()
    row = Delivery.objects.get()
    services.delivery_redeliver(delivery=row)
    row.refresh_from_db()
    assert row.state == Delivery.State.PENDING
    assert row.attempts == 0
    delivery.deliver()
    first, second = receiver.requests
    assert (
        first["headers"]["Trichter-Delivery"]
        == second["headers"]["Trichter-Delivery"]
        == str(row.delivery_id)
    )
    assert Delivery.objects.get().state == Delivery.State.DELIVERED


def test_send_test_event(subscribe, receiver, admin_user):
    subscription = subscribe(url=receiver.url, kinds=["task.created"])
    services.webhook_send_test(subscription=subscription, by=admin_user)
    delivery.deliver()
    assert receiver.requests[0]["headers"]["Trichter-Event"] == "webhook.test"


# --- target addresses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.0.0.1/hook",
        "http://[::1]/hook",
        "http://localhost:8000/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://192.168.1.10/hook",
        "http://0.0.0.0/hook",
        "http://[::ffff:127.0.0.1]/hook",
    ],
)
@override_settings(WEBHOOKS_ALLOW_PRIVATE_TARGETS=False)
def test_private_targets_are_refused(subscribe, url):
    with pytest.raises(ValidationError) as refused:
        subscribe(url=url)
    assert "url" in refused.value.message_dict
    assert not Subscription.objects.exists()


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/x", "file:///etc/passwd", "javascript:alert(1)", "https://", "http://u:p@x.com/"],
)
def test_only_http_urls_with_a_host(subscribe, url):
    with pytest.raises(ValidationError):
        subscribe(url=url)


@override_settings(WEBHOOKS_ALLOW_PRIVATE_TARGETS=False)
def test_public_address_is_accepted(subscribe):
    assert subscribe(url="https://93.184.215.14/hook").pk


def test_target_is_checked_again_at_delivery(subscribe, receiver):
    subscribe(url=receiver.url, kinds=["contact.created"])  # allowed while the setting is on
    contact_create(email="a@example.com")
    with override_settings(WEBHOOKS_ALLOW_PRIVATE_TARGETS=False):
        delivery.deliver()
    row = Delivery.objects.get()
    assert row.state == Delivery.State.PENDING
    assert "non-public" in row.last_error
    assert receiver.requests == []


# --- the hooks -------------------------------------------------------------------------------------


def kinds_emitted():
    return list(Delivery.objects.order_by("id").values_list("kind", flat=True))


def test_stage_change_through_the_service(subscribe, admin_user):
    subscribe(kinds=["contact.stage_changed"])
    contact = ContactFactory()
    contact_move_stage(contact=contact, stage=stage("lead"), by=admin_user, reason="called")
    row = Delivery.objects.get()
    data = row.payload["data"]
    assert data["contact"]["id"] == contact.pk
    assert data["contact"]["stage"] == "lead"
    assert (data["from_stage"], data["to_stage"], data["by"], data["reason"]) == (
        "suspect",
        "lead",
        admin_user.pk,
        "called",
    )
    contact_move_stage(contact=contact, stage=stage("lead"))  # no move, no event
    assert Delivery.objects.count() == 1


def test_stage_changes_in_bulk(subscribe):
    subscribe(kinds=["contact.stage_changed"])
    a, b = ContactFactory(), ContactFactory()
    contact_move_stage_many(
        moves={a.pk: [(stage("lead"), "rule 1"), (stage("prospect"), "rule 2")], b.pk: [(stage("lead"), "r")]}
    )
    rows = [r.payload["data"] for r in Delivery.objects.order_by("id")]
    assert [(d["contact"]["id"], d["from_stage"], d["to_stage"]) for d in rows] == [
        (a.pk, "suspect", "lead"),
        (a.pk, "lead", "prospect"),
        (b.pk, "suspect", "lead"),
    ]


def test_contact_created_and_updated(subscribe):
    subscribe(kinds=["contact.created", "contact.updated", "contact.stage_changed"])
    contact = contact_create(email="c@example.com")
    contact_update(contact=contact, first_name="Clara", tags=["vip"])
    assert kinds_emitted() == ["contact.created", "contact.updated"]  # the entry is no stage change
    updated = Delivery.objects.get(kind="contact.updated").payload["data"]
    assert updated["changed"] == ["first_name", "tags"]
    assert updated["contact"]["first_name"] == "Clara"


def test_task_created_by_the_service(subscribe, sales_user):
    subscribe(kinds=["task.created"])
    contact = ContactFactory()
    task = task_create(
        contact=contact, title="Call", due_at=timezone.now() + timedelta(days=1), by=sales_user
    )
    data = Delivery.objects.get().payload["data"]
    assert (data["id"], data["title"], data["owner"], data["contact"]["id"]) == (
        task.pk,
        "Call",
        sales_user.pk,
        contact.pk,
    )


def test_tasks_created_in_bulk_only_the_new_ones(subscribe, sales_user):
    subscribe(kinds=["task.created"])
    one, two = ContactFactory(owner=sales_user), ContactFactory(owner=sales_user)
    c1 = ThresholdCrossing.objects.create(contact=one, engagement=50, threshold=40, owner=sales_user)
    c2 = ThresholdCrossing.objects.create(contact=two, engagement=50, threshold=40, owner=sales_user)
    assert tasks_from_crossings(crossings=[(c1.pk, one.pk, sales_user.pk)]) == 1
    assert (
        tasks_from_crossings(crossings=[(c1.pk, one.pk, sales_user.pk), (c2.pk, two.pk, sales_user.pk)]) == 1
    )
    rows = [r.payload["data"] for r in Delivery.objects.order_by("id")]
    assert [d["contact"]["id"] for d in rows] == [one.pk, two.pk]
    assert {d["id"] for d in rows} == set(Task.objects.values_list("pk", flat=True))


# --- API -------------------------------------------------------------------------------------------

URL = "/api/v1/webhooks/"


def test_api_roles(api_client_for, sales_user, marketing_user, outsider):
    assert api_client_for(None).get(URL).status_code == 401
    for user in (sales_user, marketing_user, outsider):
        client = api_client_for(user)
        assert client.get(URL).status_code == 403
        assert (
            client.post(
                URL, {"name": "x", "url": "https://a.example/", "kinds": ["task.created"]}
            ).status_code
            == 403
        )


def test_api_crud(api_client_for, admin_user):
    client = api_client_for(admin_user)
    created = client.post(
        URL, {"name": "ERP", "url": "https://erp.example.com/in", "kinds": ["task.created"]}, format="json"
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert len(body["secret"]) >= 40
    assert body["owner"] == admin_user.pk
    assert body["is_active"] is True
    detail = f"{URL}{body['id']}/"
    assert client.get(URL).json()["count"] == 1
    patched = client.patch(
        detail, {"kinds": ["contact.created", "task.created"], "is_active": False}, format="json"
    )
    assert patched.status_code == 200
    assert patched.json()["kinds"] == ["contact.created", "task.created"]
    assert patched.json()["is_active"] is False
    assert client.patch(detail, {"is_active": True}, format="json").json()["disabled_reason"] == ""
    assert client.delete(detail).status_code == 204
    assert client.get(detail).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "url": "https://a.example/", "kinds": ["contact.exploded"]},
        {"name": "x", "url": "https://a.example/", "kinds": []},
        {"name": "x", "url": "https://a.example/", "kinds": "task.created"},
        {"name": "x", "url": "ftp://a.example/", "kinds": ["task.created"]},
        {"name": "x", "url": "not a url", "kinds": ["task.created"]},
        {"name": "", "url": "https://a.example/", "kinds": ["task.created"]},
        {"url": "https://a.example/", "kinds": ["task.created"]},
        {"name": "x" * 101, "url": "https://a.example/", "kinds": ["task.created"]},
    ],
)
def test_api_bad_input_is_400(api_client_for, admin_user, body):
    response = api_client_for(admin_user).post(URL, body, format="json")
    assert response.status_code == 400, response.content
    assert not Subscription.objects.exists()


@override_settings(WEBHOOKS_ALLOW_PRIVATE_TARGETS=False)
def test_api_refuses_private_target(api_client_for, admin_user):
    response = api_client_for(admin_user).post(
        URL, {"name": "x", "url": "http://127.0.0.1:8000/", "kinds": ["task.created"]}, format="json"
    )
    assert response.status_code == 400
    assert "url" in response.json()


def test_api_deliveries_and_redelivery(api_client_for, admin_user, sales_user, subscribe, receiver):
    subscription = subscribe(url=receiver.url, kinds=["contact.created"])
    contact_create(email="a@example.com")
    contact_create(email="b@example.com")
    delivery.deliver()
    contact_create(email="c@example.com")
    client = api_client_for(admin_user)
    base = f"{URL}{subscription.pk}/deliveries/"
    listed = client.get(base).json()
    assert listed["count"] == 3
    assert [r["payload"]["data"]["contact"]["email"] for r in listed["results"]] == [
        "c@example.com",
        "b@example.com",
        "a@example.com",
    ]
    assert listed["results"][1]["last_status_code"] == 200
    assert client.get(base, {"state": "pending"}).json()["count"] == 1
    assert client.get(base, {"state": "bogus"}).status_code == 400
    delivered = listed["results"][1]["delivery_id"]
    response = client.post(f"{base}{delivered}/redeliver/")
    assert response.status_code == 202
    assert response.json()["state"] == "pending"
    assert client.post(f"{base}00000000-0000-0000-0000-000000000000/redeliver/").status_code == 404
    assert client.post(f"{base}not-a-uuid/redeliver/").status_code == 404
    assert client.get(f"{URL}999999/deliveries/").status_code == 404
    assert api_client_for(sales_user).get(base).status_code == 403
    assert client.post(f"{URL}{subscription.pk}/test/").status_code == 202


def test_api_redeliver_to_a_disabled_webhook_is_400(api_client_for, admin_user, subscribe):
    subscription = subscribe(kinds=["contact.created"])
    contact_create(email="a@example.com")
    services.subscription_update(subscription=subscription, is_active=False)
    row = Delivery.objects.get()
    response = api_client_for(admin_user).post(
        f"{URL}{subscription.pk}/deliveries/{row.delivery_id}/redeliver/"
    )
    assert response.status_code == 400


# --- pages -----------------------------------------------------------------------------------------


def test_pages_are_for_admins(client_for, sales_user):
    assert client_for(sales_user).get("/webhooks/").status_code == 403


def test_pages_create_show_and_redeliver(client_for, admin_user, subscribe):
    client = client_for(admin_user)
    assert client.get("/webhooks/").status_code == 200
    assert client.get("/webhooks/new/").status_code == 200
    response = client.post(
        "/webhooks/new/",
        {"name": "ERP", "url": "https://erp.example.com/in", "kinds": ["task.created"], "is_active": "on"},
    )
    subscription = Subscription.objects.get(name="ERP")
    assert response.status_code == 302
    assert response["Location"] == f"/webhooks/{subscription.pk}/"
    bad = client.post("/webhooks/new/", {"name": "x", "url": "ftp://x", "kinds": ["task.created"]})
    assert bad.status_code == 400
    services.webhook_send_test(subscription=subscription)
    page = client.get(f"/webhooks/{subscription.pk}/")
    assert page.status_code == 200
    assert subscription.secret in page.content.decode()
    assert "hmac.compare_digest" in page.content.decode()
    assert "webhook.test" in page.content.decode()
    fragment = client.get(f"/webhooks/{subscription.pk}/?state=failed", headers={"HX-Request": "true"})
    assert "No deliveries yet" in fragment.content.decode()
    row = Delivery.objects.get()
    Delivery.objects.filter(pk=row.pk).update(state=Delivery.State.FAILED, attempts=7)
    redeliver = client.post(
        f"/webhooks/{subscription.pk}/deliveries/{row.pk}/redeliver/", headers={"HX-Request": "true"}
    )
    assert redeliver.status_code == 200
    row.refresh_from_db()
    assert (row.state, row.attempts) == (Delivery.State.PENDING, 0)
    edit = client.post(
        f"/webhooks/{subscription.pk}/edit/",
        {"name": "ERP 2", "url": "https://erp.example.com/in", "kinds": ["task.created", "contact.created"]},
    )
    assert edit.status_code == 302
    subscription.refresh_from_db()
    assert (subscription.name, subscription.is_active) == ("ERP 2", False)
    assert client.post(f"/webhooks/{subscription.pk}/delete/").status_code == 302
    assert not Subscription.objects.exists()


def test_enrollment_exited_and_fast_lane(subscribe, sales_user):
    from nurturing.services import (
        enroll,
        enrollment_exit,
        fast_lane,
        sequence_activate,
        sequence_save,
        step_save,
        template_save,
    )

    subscribe(kinds=["enrollment.exited", "fastlane.requested", "task.created"])
    template = template_save(name="T", subject="Hi", body_text="Text {{ unsubscribe_url }}")
    sequence = sequence_save(name="Welcome")
    step_save(sequence=sequence, kind="email", template=template)
    sequence = sequence_activate(sequence=sequence)
    first, second = ContactFactory(owner=sales_user), ContactFactory(owner=sales_user)
    enroll(sequence=sequence, contact_ids=[first.pk, second.pk])
    enrollment_exit(enrollment=first.enrollments.get())
    exited = Delivery.objects.get(kind="enrollment.exited").payload["data"]
    assert (exited["contact"]["id"], exited["sequence"]["name"], exited["reason"]) == (
        first.pk,
        "Welcome",
        "manual",
    )
    task = fast_lane(contact_id=second.pk, event_id=42, type_name="Demo request")
    assert kinds_emitted() == ["enrollment.exited", "enrollment.exited", "task.created", "fastlane.requested"]
    lane = Delivery.objects.get(kind="fastlane.requested").payload["data"]
    assert (lane["contact"]["id"], lane["task"], lane["event"]) == (second.pk, task.pk, 42)
    assert fast_lane(contact_id=second.pk, event_id=42, type_name="Demo request") is None
    assert Delivery.objects.count() == 4  # a repeat emits nothing


def test_threshold_crossed(subscribe, sales_user):
    from scoring.services import _record_crossings

    subscribe(kinds=["contact.threshold_crossed"])
    contact = ContactFactory(owner=sales_user)
    _record_crossings([ThresholdCrossing(contact=contact, engagement=55, threshold=50, owner=sales_user)])
    data = Delivery.objects.get().payload["data"]
    assert (data["contact"]["id"], data["engagement"], data["threshold"]) == (contact.pk, 55, 50)
    assert data["crossing"] == ThresholdCrossing.objects.get().pk
