"""CSV import: detection, mapping, validation, dedup, crash safety, progress, roles, API."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from funnel.models import Company, Contact, StageTransition
from imports import parsing, processors, services
from imports.models import ImportJob, ImportRejection
from imports.tasks import resume_stalled_imports, run_import
from scoring.models import Event
from tests.factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db

CONTACT_HEADER = "E-Mail;Vorname;Nachname;Firma;Telefon;Position;Phase;Quelle;Tags\n"


def make_job(data: bytes, *, kind="contacts", dedup="skip", mapping=None, by=None, name="liste.csv"):
    job = services.import_upload(kind=kind, filename=name, data=data, by=by)
    services.import_configure(job=job, mapping=mapping or job.mapping, dedup=dedup)
    services.import_start(job=job)
    return job


def run(job, **kwargs):
    services.import_run(job_id=job.pk, **kwargs)
    job.refresh_from_db()
    return job


def contacts_csv(n, start=0, sep=","):
    out = io.StringIO()
    writer = csv.writer(out, delimiter=sep)
    writer.writerow(["email", "first name", "last name", "company"])
    for i in range(start, start + n):
        writer.writerow([f"p{i}@example.com", f"Vor{i}", f"Nach{i}", f"Firma {i % 7}"])
    return out.getvalue().encode()


# --- detection and suggestions --------------------------------------------------------------------


def test_semicolon_cp1252_with_umlauts():
    data = (CONTACT_HEADER + "joerg@example.com;Jörg;Müller;Süd GmbH;;;;;\n").encode("cp1252")
    info = parsing.inspect(data)
    assert (info.encoding, info.delimiter, info.total_rows) == ("cp1252", ";", 1)
    job = run(make_job(data))
    contact = Contact.objects.get()
    assert (contact.first_name, contact.last_name, contact.company.name) == ("Jörg", "Müller", "Süd GmbH")
    assert job.state == "done" and job.created == 1


def test_utf8_bom_and_tab():
    data = "\ufeffE-Mail\tVorname\nanna@example.com\tÄnne\n".encode()
    info = parsing.inspect(data)
    assert (info.encoding, info.delimiter, info.header) == ("utf-8-sig", "\t", ["E-Mail", "Vorname"])
    run(make_job(data))
    assert Contact.objects.get().first_name == "Änne"


def test_mapping_suggestions_english_and_german():
    header = [
        "E-Mail",
        "Vorname",
        "Last Name",
        "Firma",
        "Telefon",
        "Job title",
        "Phase",
        "Quelle",
        "Tags",
        "Notiz",
    ]
    mapping = parsing.suggest_mapping("contacts", header)
    assert mapping == {
        "E-Mail": "email",
        "Vorname": "first_name",
        "Last Name": "last_name",
        "Firma": "company",
        "Telefon": "phone",
        "Job title": "job_title",
        "Phase": "stage",
        "Quelle": "source",
        "Tags": "tags",
        "Notiz": "",
    }


# --- validation and the rejected rows ---------------------------------------------------------------


def test_per_row_validation_and_rejected_csv(client_for, marketing_user):
    UserFactory(username="vera")
    rows = [
        "email,first_name,stage,owner,source,consent",
        "ok@example.com,Ok,lead,vera,Messe oder Veranstaltung,ja",  # the German label
        "not-an-email,Bad,,,,",
        "x@example.com,,nirvana,,,",
        "y@example.com,,,nobody,,",
        "z@example.com,,,,tv,",
        "w@example.com,,,,,vielleicht",
        "=HYPERLINK(1),,,,,",
        ",,,,,",  # blank line: ignored
        "long@example.com," + "a" * 101 + ",,,,",
    ]
    data = "\n".join(rows).encode()
    mapping = {
        "email": "email",
        "first_name": "first_name",
        "stage": "stage",
        "owner": "owner",
        "source": "source",
        "consent": "consent_email",
    }
    job = run(make_job(data, mapping=mapping, by=marketing_user))
    assert (job.created, job.rejected, job.processed_rows, job.state) == (1, 7, 9, "done")
    ok = Contact.objects.get(email="ok@example.com")
    assert (ok.stage.key, ok.owner.username, ok.source, ok.consent_email) == ("lead", "vera", "event", True)
    reasons = list(ImportRejection.objects.filter(job=job).values_list("row_number", "reason"))
    assert [r[0] for r in reasons] == [3, 4, 5, 6, 7, 8, 10]
    assert "nirvana" in reasons[1][1] and "nobody" in reasons[2][1]

    client = client_for(marketing_user)
    response = client.get(reverse("imports:rejections-csv", args=[job.pk]))
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == ["email", "first_name", "stage", "owner", "source", "consent", "reason", "row"]
    assert lines[6][0] == "'=HYPERLINK(1)"  # formula-safe
    assert lines[1][-1] == "3" and lines[1][-2]


# --- dedup ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("dedup", ["skip", "update"])
def test_dedup_against_db_and_within_file(dedup):
    ContactFactory(email="Known@Example.com", first_name="Alt", last_name="Bleibt", phone="1")
    data = (
        b"email,first_name,last_name,phone,tags\n"
        b"known@example.com,Neu,,,vip\n"
        b"new@example.com,Erst,,,a\n"
        b"NEW@example.com,Zweit,Nachname,,b\n"
    )
    job = run(make_job(data, dedup=dedup))
    known = Contact.objects.get(email="Known@Example.com")
    new = Contact.objects.get(email__iexact="new@example.com")
    assert Contact.objects.count() == 2
    assert StageTransition.objects.filter(contact=new).count() == 1
    if dedup == "skip":
        assert (job.created, job.updated, job.skipped) == (1, 0, 2)
        assert (known.first_name, new.first_name, new.last_name) == ("Alt", "Erst", "")
        assert sorted(new.tags.values_list("name", flat=True)) == ["a"]
    else:
        assert (job.created, job.updated, job.skipped) == (1, 2, 0)
        # Only the mapped, non-empty fields change.
        assert (known.first_name, known.last_name, known.phone) == ("Neu", "Bleibt", "1")
        assert list(known.tags.values_list("name", flat=True)) == ["vip"]
        assert (new.first_name, new.last_name) == ("Zweit", "Nachname")
        assert sorted(new.tags.values_list("name", flat=True)) == ["a", "b"]


def test_update_moves_stage_with_a_transition():
    contact = ContactFactory(email="mover@example.com")
    run(make_job(b"email,stage\nmover@example.com,prospect\n", dedup="update"))
    contact.refresh_from_db()
    assert contact.stage.key == "prospect"
    assert list(contact.transitions.values_list("to_stage__key", flat=True)) == ["suspect", "prospect"]


def test_companies_import_dedup_by_name():
    Company.objects.create(name="Alpha GmbH", industry="alt")
    data = (
        "Firma;Branche;Mitarbeiter;Website\n"
        "ALPHA GMBH;Elektronik;1.200;https://alpha.de/\n"
        "Beta AG;;x;\n"
        "Beta AG;Optik;5;\n"
    )
    job = run(make_job(data.encode(), kind="companies", dedup="update"))
    # Row 3 is rejected (employees "x"); row 4 creates Beta AG.
    assert (job.created, job.updated, job.rejected) == (1, 1, 1)
    alpha = Company.objects.get(name="Alpha GmbH")
    assert (alpha.industry, alpha.employees, alpha.domain) == ("Elektronik", 1200, "alpha.de")
    assert Company.objects.get(name="Beta AG").industry == "Optik"
    assert ImportRejection.objects.get(job=job).row_number == 3


# --- crash safety ---------------------------------------------------------------------------------


def test_crash_in_second_batch_then_resume_loses_and_duplicates_nothing(monkeypatch):
    job = make_job(contacts_csv(5000))
    original = processors.ContactProcessor.process
    calls = {"n": 0}

    def flaky(self, rows):
        calls["n"] += 1
        if calls["n"] == 2:
            original(self, rows)  # wrote its rows, then dies before the commit
            raise RuntimeError("worker lost")
        return original(self, rows)

    monkeypatch.setattr(processors.ContactProcessor, "process", flaky)
    job = run(job)
    assert (job.state, job.processed_rows, job.created) == ("failed", 2000, 2000)
    assert Contact.objects.count() == 2000
    assert "worker lost" in job.error

    services.import_retry(job=job)
    job = run(job)
    assert (job.state, job.processed_rows, job.created) == ("done", 5000, 5000)
    assert Contact.objects.count() == 5000
    assert StageTransition.objects.count() == 5000
    assert Company.objects.count() == 7
    # Done: running it again does nothing.
    run_import(job.pk)
    assert Contact.objects.count() == 5000


def test_dead_worker_is_resumed_by_the_periodic_check(monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    job = make_job(contacts_csv(2500))
    # A worker that died after its first batch: state running, an old heartbeat.
    run(job, budget_seconds=0)
    job.refresh_from_db()
    assert (job.state, job.processed_rows) == ("running", 2000)
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=11))
    queued = []
    monkeypatch.setattr(services, "enqueue", lambda job_id: queued.append(job_id))
    assert resume_stalled_imports() == 1 and queued == [job.pk]
    job = run(job)
    assert (job.state, job.created) == ("done", 2500) and Contact.objects.count() == 2500


# --- progress, pages, roles -------------------------------------------------------------------------


def test_upload_mapping_and_progress_pages(client_for, marketing_user, django_capture_on_commit_callbacks):
    client = client_for(marketing_user)
    assert client.get(reverse("imports:upload")).status_code == 200
    upload = SimpleUploadedFile("kontakte.csv", (CONTACT_HEADER + "a@example.com;Anna;A;;;;;;\n").encode())
    response = client.post(reverse("imports:upload"), {"kind": "contacts", "file": upload})
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("imports:mapping", args=[job.pk])
    page = client.get(reverse("imports:mapping", args=[job.pk]))
    assert page.status_code == 200 and b"a@example.com" in page.content
    assert b'<option value="email" selected>' in page.content
    form = {f"col_{i}": job.mapping[c] for i, c in enumerate(job.header)} | {"dedup": "update"}
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("imports:mapping", args=[job.pk]), form)
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.state == "queued"
    fragment = client.get(reverse("imports:detail", args=[job.pk]), headers={"HX-Request": "true"})
    assert b'hx-trigger="every 1s"' in fragment.content and b"<html" not in fragment.content
    run(job)
    fragment = client.get(reverse("imports:detail", args=[job.pk]), headers={"HX-Request": "true"})
    assert b"every 1s" not in fragment.content and b'data-count="created">1<' in fragment.content


@pytest.mark.parametrize("role", ["sales", "outsider"])
def test_roles_forbidden(client_for, role):
    user = UserFactory(username=role, roles=[role] if role != "outsider" else [])
    job = services.import_upload(kind="contacts", filename="a.csv", data=b"email\na@example.com\n")
    client = client_for(user)
    for url in (reverse("imports:upload"), reverse("imports:detail", args=[job.pk])):
        assert client.get(url).status_code == 403


def test_admin_may_import(client_for, admin_user):
    assert client_for(admin_user).get(reverse("imports:upload")).status_code == 200


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("leer.csv", b"", "empty"),
        ("junk.csv", bytes(range(256)) * 4, "not a text file"),
        ("nul.csv", b"email\x00,name\na,b\n", "not a text file"),
        ("kein-kopf.csv", b"a@example.com,Anna\nb@example.com,Ben\n", "first row"),
        ("bild.png", b"email\na@example.com\n", ".csv"),
        ("nur-kopf.csv", b"email,name\n", "no data rows"),
    ],
)
def test_bad_uploads_get_a_clear_error(client_for, marketing_user, name, data, message):
    client = client_for(marketing_user)
    response = client.post(
        reverse("imports:upload"), {"kind": "contacts", "file": SimpleUploadedFile(name, data)}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ImportJob.objects.exists()


def test_oversize_upload(client_for, marketing_user, monkeypatch):
    monkeypatch.setattr("imports.views.MAX_UPLOAD_BYTES", 10)
    monkeypatch.setattr(services, "MAX_UPLOAD_BYTES", 10)
    client = client_for(marketing_user)
    upload = SimpleUploadedFile("gross.csv", b"email\na@example.com\n")
    response = client.post(reverse("imports:upload"), {"kind": "contacts", "file": upload})
    assert response.status_code == 400 and "larger than" in response.content.decode()


# --- events ---------------------------------------------------------------------------------------


def test_events_import_is_idempotent():
    data = (
        b"id;typ;email;datum;thema\n"
        b"ev-1;page_view;e@example.com;05.01.2026 10:00;pcb\n"
        b"ev-2;download;e@example.com;2026-01-06T10:00:00Z;\n"
        b"ev-3;no_such_type;e@example.com;;\n"
        b"ev-4;page_view;;;\n"
    )
    job = run(make_job(data, kind="events"))
    assert (job.created, job.rejected, job.skipped) == (2, 2, 0)
    assert Event.objects.count() == 2 and Contact.objects.filter(email="e@example.com").exists()
    again = run(make_job(data, kind="events"))
    assert (again.created, again.skipped, again.rejected) == (0, 2, 2)
    assert Event.objects.count() == 2


# --- API ------------------------------------------------------------------------------------------


def test_api_create_progress_and_rejections(
    api_client_for, marketing_user, django_capture_on_commit_callbacks
):
    client = api_client_for(marketing_user)
    upload = SimpleUploadedFile("k.csv", b"mail,vorname\na@example.com,Anna\nkaputt,Ben\n")
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(
            "/api/v1/imports/",
            {
                "file": upload,
                "kind": "contacts",
                "mapping": '{"mail": "email", "vorname": "first_name"}',
                "dedup": "skip",
            },
            format="multipart",
        )
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["state"], body["total_rows"], body["mapping"]) == (
        "queued",
        2,
        {"mail": "email", "vorname": "first_name"},
    )
    services.import_run(job_id=body["id"])
    body = client.get(f"/api/v1/imports/{body['id']}/").json()
    assert (body["state"], body["percent"], body["created"], body["rejected"]) == ("done", 100, 1, 1)
    page = client.get(f"/api/v1/imports/{body['id']}/rejections/").json()
    assert (
        page["count"] == 1
        and page["results"][0]["row"] == 3
        and page["results"][0]["raw"] == ["kaputt", "Ben"]
    )


def test_api_bad_input_and_roles(api_client_for, marketing_user, sales_user):
    client = api_client_for(marketing_user)
    response = client.post(
        "/api/v1/imports/", {"file": SimpleUploadedFile("k.csv", b""), "kind": "contacts"}, format="multipart"
    )
    assert response.status_code == 400 and "file" in response.json()
    response = client.post(
        "/api/v1/imports/",
        {"file": SimpleUploadedFile("k.csv", b"a,b\n1,2\n"), "kind": "contacts", "mapping": '{"a": "nope"}'},
        format="multipart",
    )
    assert response.status_code == 400 and "mapping" in response.json()
    assert not ImportJob.objects.exists()
    assert api_client_for(sales_user).post("/api/v1/imports/", {}, format="multipart").status_code == 403
    assert api_client_for(sales_user).get("/api/v1/imports/1/").status_code == 403
    assert api_client_for(None).get("/api/v1/imports/1/").status_code == 401


def test_imported_contacts_reach_webhook_subscribers(admin_user, marketing_user):
    """contact.created / contact.updated for the rows of a batch, written in the batch's transaction."""
    from webhooks.models import Delivery
    from webhooks.services import subscription_create

    subscription_create(
        owner=admin_user,
        name="ERP",
        url="https://erp.example.com/hook",
        kinds=["contact.created", "contact.updated"],
    )
    ContactFactory(email="known@example.com", first_name="Alt")
    data = b"E-Mail;Vorname\nknown@example.com;Neu\nnew@example.com;Nina\n"
    job = run(make_job(data, dedup="update", by=marketing_user))
    assert job.state == ImportJob.State.DONE
    payloads = {d.kind: d.payload["data"] for d in Delivery.objects.all()}
    new = Contact.objects.get(email="new@example.com")
    assert payloads["contact.created"]["contact"]["id"] == new.pk
    assert payloads["contact.updated"]["contact"]["first_name"] == "Neu"
    assert payloads["contact.updated"]["changed"] == ["first_name"]
