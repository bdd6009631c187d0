"""Website tracking: the public collect endpoint, the site pages, and the snippet in a real browser."""

import json
import uuid

import pytest
from django.core.cache import cache
from django.urls import reverse

from funnel.models import Contact
from scoring.models import Event
from tests.factories import ContactFactory
from tests.test_browser import browser_page  # noqa: F401 (a fixture, shared with the other browser tests)
from tracking.models import TrackedSite, TrackedVisitor
from tracking.services import site_save

pytestmark = pytest.mark.django_db

ORIGIN = "https://www.example.com"
URL = "/t/collect/"


@pytest.fixture(autouse=True)
def _fresh_rate_counts():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def site(db):
    return site_save(name="Website", allowed_origins=[ORIGIN, "http://localhost:8080"])


def event(kind="page_view", **fields):
    body = {
        "event": kind,
        "event_id": str(uuid.uuid4()),
        "anonymous_id": fields.pop("anonymous_id", AID),
        "url": "https://www.example.com/products/",
    }
    if kind == "page_view":
        body.update(title="Products", referrer="https://search.example.org/")
    body.update(fields)
    return body


AID = "6f1c0c8e-1d2b-4c3a-9e8f-0a1b2c3d4e5f"


def collect(client, site, body, *, origin=ORIGIN, content_type="text/plain;charset=UTF-8", key=None):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    query = f"?site={site.public_key if key is None else key}"
    return client.post(URL + query, data, content_type=content_type, **headers)


# Collecting ---------------------------------------------------------------------------------------


def test_page_view_is_stored_for_the_anonymous_visitor(client, site):
    body = event(topic="pcb-design")
    response = collect(client, site, body)
    assert response.status_code == 204
    assert response.content == b""
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in response["Vary"]
    assert not response.cookies
    stored = Event.objects.select_related("type").get()
    assert stored.type.key == "page_view"
    assert stored.anonymous_id == AID and stored.contact is None
    assert stored.external_id == f"web:{site.pk}:{body['event_id']}"
    assert stored.topic == "pcb-design"
    assert stored.properties == {
        "source": "website",
        "site": site.pk,
        "url": "https://www.example.com/products/",
        "title": "Products",
        "referrer": "https://search.example.org/",
    }


def test_json_content_type_is_accepted_too(client, site):
    response = collect(client, site, event("download"), content_type="application/json")
    assert response.status_code == 204
    assert Event.objects.get().type.key == "download"


def test_same_event_id_is_stored_once(client, site):
    body = event()
    assert collect(client, site, body).status_code == 204
    assert collect(client, site, body).status_code == 204
    assert Event.objects.count() == 1


def test_wrong_or_missing_origin_is_refused_without_cors(client, site):
    for origin in ("https://evil.example.net", "https://www.example.com.evil.net", "null", ""):
        response = collect(client, site, event(), origin=origin)
        assert response.status_code == 403, origin
        assert "Access-Control-Allow-Origin" not in response
    assert not Event.objects.exists()


@pytest.mark.parametrize("key", ["", "ts_unknown", "x" * 500])
def test_unknown_key_is_refused_like_a_wrong_origin(client, site, key):
    response = collect(client, site, event(), key=key)
    assert response.status_code == 403
    assert response.json() == {"error": "forbidden"}
    assert "Access-Control-Allow-Origin" not in response


def test_inactive_site_is_refused(client, site):
    site.is_active = False
    site.save()
    response = collect(client, site, event())
    assert response.status_code == 403
    assert response.json() == {"error": "forbidden"}
    assert not Event.objects.exists()


def test_preflight_answers_allowed_origins_only(client, site):
    url = f"{URL}?site={site.public_key}"
    headers = {"HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST"}
    response = client.options(url, HTTP_ORIGIN="http://localhost:8080", **headers)
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "http://localhost:8080"
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert response["Access-Control-Allow-Headers"] == "Content-Type"
    assert "Access-Control-Allow-Credentials" not in response
    refused = client.options(url, HTTP_ORIGIN="https://evil.example.net", **headers)
    assert refused.status_code == 403
    assert "Access-Control-Allow-Origin" not in refused


def test_other_methods_are_not_allowed(client, site):
    response = client.get(f"{URL}?site={site.public_key}", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 405


def test_oversize_body_is_413(client, site):
    response = collect(client, site, event(title="x" * 9000))
    assert response.status_code == 413
    assert response.json() == {"error": "payload too large"}
    assert not Event.objects.exists()


PAYLOAD = "<script>alert(1)</script>"


@pytest.mark.parametrize(
    "body",
    [
        "{not json " + PAYLOAD,
        json.dumps([event()]),
        json.dumps(event(kind=PAYLOAD)),
        json.dumps(event(url="javascript:" + PAYLOAD)),
        json.dumps(event(referrer=PAYLOAD)),
        json.dumps(event(title="x" * 301 + PAYLOAD)),
        json.dumps(event(topic=PAYLOAD)),
        json.dumps(event(event_id=PAYLOAD)),
        json.dumps(event(anonymous_id=PAYLOAD)),
        json.dumps(event(**{PAYLOAD: "x"})),
        json.dumps(event(title=["list"])),
        json.dumps(event("identify", email=PAYLOAD + "@example.com")),
        json.dumps(event("identify")),
        json.dumps(event(url="https://www.example.com/\x00")),
        b"\xff\xfe" + PAYLOAD.encode(),
    ],
)
def test_invalid_payload_is_400_with_a_fixed_message(client, site, body):
    response = collect(client, site, body)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid event"}
    assert b"script" not in response.content and b"alert" not in response.content
    assert response["Content-Type"] == "application/json"
    assert not Event.objects.exists() and not Contact.objects.exists()


def test_other_content_types_are_400(client, site):
    response = collect(client, site, event(), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400


def test_rate_limit_per_site_and_client(client, site, settings):
    settings.TRACKING_RATE_LIMIT = "3/min"
    for _ in range(3):
        assert collect(client, site, event()).status_code == 204
    response = collect(client, site, event())
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 61
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert Event.objects.count() == 3
    # Another client address has its own count; so has another site.
    assert (
        client.post(
            f"{URL}?site={site.public_key}",
            json.dumps(event()),
            content_type="text/plain",
            HTTP_ORIGIN=ORIGIN,
            REMOTE_ADDR="198.51.100.7",
        ).status_code
        == 204
    )
    other = site_save(name="Shop", allowed_origins=[ORIGIN])
    assert collect(client, other, event()).status_code == 204


# Identification -----------------------------------------------------------------------------------


def test_identify_attaches_earlier_events_to_a_new_suspect(client, site):
    collect(client, site, event())
    collect(client, site, event("download", url="https://www.example.com/guide.pdf", topic="emv"))
    other_visitor = event(anonymous_id=str(uuid.uuid4()))
    collect(client, site, other_visitor)
    response = collect(
        client, site, event("identify", email="Eva@Example.com", first_name="Eva", last_name="Muster")
    )
    assert response.status_code == 204
    contact = Contact.objects.get()
    assert contact.email == "Eva@Example.com"
    assert (contact.first_name, contact.last_name) == ("Eva", "Muster")
    assert contact.stage.key == "suspect"
    keys = sorted(Event.objects.filter(contact=contact).values_list("type__key", flat=True))
    assert keys == ["download", "form_submit", "page_view"]
    assert Event.objects.get(external_id__endswith=other_visitor["event_id"]).contact is None

    # Later events of the identified visitor go to the contact directly.
    collect(client, site, event(url="https://www.example.com/pricing/"))
    assert Event.objects.filter(contact=contact).count() == 4
    assert TrackedVisitor.objects.get().contact == contact


def test_identify_uses_an_existing_contact_and_keeps_its_names(client, site):
    known = ContactFactory(email="eva@example.com", first_name="Eva", last_name="Kunde")
    collect(client, site, event())
    collect(client, site, event("identify", email="EVA@example.com", first_name="X", last_name="Y"))
    known.refresh_from_db()
    assert (known.first_name, known.last_name) == ("Eva", "Kunde")
    assert Contact.objects.count() == 1
    assert Event.objects.filter(contact=known).count() == 2


def test_names_are_only_accepted_with_an_identification(client, site):
    collect(client, site, event(email="eva@example.com"))
    assert not Contact.objects.exists()
    assert "email" not in Event.objects.get().properties


# Site management ----------------------------------------------------------------------------------


def test_origins_are_validated_and_normalised():
    from django.core.exceptions import ValidationError

    from tracking.services import parse_origins

    assert parse_origins("https://WWW.Example.com:443/\nhttp://localhost:8080, https://www.example.com") == [
        "https://www.example.com",
        "http://localhost:8080",
    ]
    for bad in [
        "www.example.com",
        "ftp://example.com",
        "https://example.com/path",
        "https://*.example.com",
        "https://user@example.com",
        "https://example.com:99999",
    ]:
        with pytest.raises(ValidationError):
            parse_origins(bad)
    with pytest.raises(ValidationError):
        TrackedSite(name="x", allowed_origins=["https://example.com/"]).full_clean()


def test_keys_are_random_and_public_looking(site):
    other = site_save(name="Shop", allowed_origins=[])
    assert site.public_key.startswith("ts_") and len(site.public_key) == 27
    assert site.public_key != other.public_key


@pytest.mark.parametrize("role", ["marketing", "admin"])
def test_marketing_and_admin_manage_sites(request, client_for, role, site):
    client = client_for(request.getfixturevalue(f"{role}_user"))
    page = client.get(reverse("tracking:site-list"))
    assert page.status_code == 200
    html = page.content.decode()
    assert (
        f"&lt;script src=&quot;http://127.0.0.1:8000/static/tracking/trichter.js&quot; "
        f"data-site=&quot;{site.public_key}&quot; async&gt;&lt;/script&gt;"
    ) in html

    response = client.post(
        reverse("tracking:site-create"),
        {
            "name": "Shop",
            "allowed_origins": "https://shop.example.com\nhttps://shop.example.com:8443/",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    shop = TrackedSite.objects.get(name="Shop")
    assert shop.allowed_origins == ["https://shop.example.com", "https://shop.example.com:8443"]

    bad = client.post(
        reverse("tracking:site-edit", args=[shop.pk]), {"name": "Shop", "allowed_origins": "shop"}
    )
    assert bad.status_code == 400
    assert "is not an origin" in bad.content.decode()

    old_key = shop.public_key
    swapped = client.post(reverse("tracking:site-regenerate-key", args=[shop.pk]), HTTP_HX_REQUEST="true")
    assert swapped.status_code == 200
    shop.refresh_from_db()
    assert shop.public_key != old_key
    assert f'id="site-{shop.pk}"' in swapped.content.decode() and shop.public_key in swapped.content.decode()
    assert "<html" not in swapped.content.decode()

    assert client.post(reverse("tracking:site-delete", args=[shop.pk])).status_code == 302
    assert not TrackedSite.objects.filter(pk=shop.pk).exists()


def test_sales_and_outsiders_may_not_manage_sites(client, client_for, sales_user, outsider, site):
    urls = [
        ("get", reverse("tracking:site-list")),
        ("get", reverse("tracking:site-create")),
        ("post", reverse("tracking:site-edit", args=[site.pk])),
        ("post", reverse("tracking:site-regenerate-key", args=[site.pk])),
        ("post", reverse("tracking:site-delete", args=[site.pk])),
    ]
    for user in (sales_user, outsider):
        logged_in = client_for(user)
        for method, url in urls:
            assert getattr(logged_in, method)(url).status_code == 403, (user, url)
        logged_in.logout()
    for method, url in urls:
        assert getattr(client, method)(url).status_code == 302  # to the login page
    site.refresh_from_db()
    assert TrackedSite.objects.count() == 1


# In a real browser --------------------------------------------------------------------------------


def _serve_website():
    """A second origin: the customer's website, a thread with http.server on a free port. Its home
    page is ``server.html``, set once the port (part of the origin) is known."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Website(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            path = self.path.split("?")[0]
            if path == "/":
                body = self.server.html.encode()
            elif path == "/thanks.html":
                body = b"<!doctype html><title>Danke</title><p>Danke!</p>"
            else:  # the PDF: "no content" keeps the browser on the page
                self.send_response(204)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Website)
    server.html = ""
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _wait_for(check, timeout=10.0):
    import time

    from django.db import OperationalError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OperationalError:
            # SQLite's shared in-memory test database locks a table while the server writes to it.
            pass
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_snippet_identifies_a_visitor_end_to_end(live_server, browser_page):  # noqa: F811 (the fixture)
    page = browser_page
    server = _serve_website()
    website = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        site = site_save(name="Website", allowed_origins=[website])
        server.html = (
            "<!doctype html><html lang='de'><head><meta charset='utf-8'><title>Leiterplatten</title>"
            "</head><body><a id='brochure' href='/files/brochure.pdf' data-topic='pcb-design'>Broschüre</a>"
            "<form data-trichter-identify action='/thanks.html' method='get'>"
            "<input type='email' name='email'><input name='first_name'>"
            "<button type='submit'>Senden</button></form>"
            f"<script src='{live_server.url}/static/tracking/trichter.js' "
            f"data-site='{site.public_key}' async>"
            "</script></body></html>"
        )

        page.goto(f"{website}/")
        _wait_for(lambda: Event.objects.filter(type__key="page_view").exists())
        page.click("#brochure")
        _wait_for(lambda: Event.objects.filter(type__key="download").exists())
        aid = next(c["value"] for c in page.context.cookies(website) if c["name"] == "trichter_aid")
        assert Event.objects.filter(anonymous_id=aid, contact__isnull=True).count() == 2

        page.fill("input[name=email]", "eva.browser@example.com")
        page.fill("input[name=first_name]", "Eva")
        page.click("button[type=submit]")
        page.wait_for_url(f"{website}/thanks.html?**")
        _wait_for(lambda: Contact.objects.filter(email="eva.browser@example.com").exists())

        contact = Contact.objects.get(email="eva.browser@example.com")
        assert contact.first_name == "Eva"
        events = Event.objects.filter(contact=contact).select_related("type")
        assert sorted(e.type.key for e in events) == ["download", "form_submit", "page_view"]
        assert {e.anonymous_id for e in events} == {aid}
        download = next(e for e in events if e.type.key == "download")
        assert download.topic == "pcb-design"
        assert download.properties["url"] == f"{website}/files/brochure.pdf"
    finally:
        server.shutdown()
        server.server_close()
