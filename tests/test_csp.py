"""The Content-Security-Policy: sent on every page, and no page of ours breaks it in a real browser
(no inline script, no <style> element, nothing from elsewhere)."""

import pytest
from django.test import Client

from tests.factories import ContactFactory, UserFactory, stage
from tests.test_browser import log_in, strict_browser_page  # noqa: F401  (fixture)


@pytest.mark.django_db
def test_every_page_sends_the_policy(client_for, sales_user):
    for response in (Client().get("/login/"), client_for(sales_user).get("/")):
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy


PAGES = [
    "/",
    "/contacts/",
    "/contacts/{contact}/",
    "/analytics/",
    "/plan/?revenue_goal=100000&average_order_value=5000&months=12&rate_suspect=0.5&rate_lead=0.5"
    "&rate_prospect=0.5&rate_customer=0.5&rate_consumption=0.5",
    "/plans/",
    "/my-day/",
    "/tasks/",
    "/scoring/",
    "/api/docs/",
    "/admin/",
]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_no_page_breaks_the_policy(live_server, strict_browser_page):  # noqa: F811
    browser_page = strict_browser_page
    UserFactory(username="csp-admin", roles=["admin"], is_staff=True, is_superuser=True)
    contact = ContactFactory(stage=stage("lead"), first_name="<script>alert(1)</script>")
    violations = []
    browser_page.on(
        "console",
        lambda message: (
            violations.append((browser_page.url, message.text))
            if "Content Security Policy" in message.text
            else None
        ),
    )
    log_in(browser_page, live_server.url, "csp-admin")
    for path in PAGES:
        response = browser_page.goto(live_server.url + path.format(contact=contact.pk))
        assert response.status == 200, path
        browser_page.wait_for_load_state("networkidle")
    # The language switch works without its old inline handler.
    browser_page.goto(live_server.url + "/")
    browser_page.select_option("select[name=language]", "de")
    browser_page.wait_for_load_state("networkidle")
    assert browser_page.locator("html").get_attribute("lang") == "de"
    assert violations == []
