"""View helpers every app's browser pages share: HTMX fragments, pagination, service errors on forms."""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

PAGE_SIZE = 50
# Counting a filtered list stops here: "more than 10,000" is as useful as the exact figure and keeps a
# broad filter over a million rows from scanning them all just to print a number.
COUNT_CAP = 10_000
MAX_PAGE = 1_000_000


def wants_fragment(request) -> bool:
    """True for HTMX requests that swap part of a page. A history restore (HTMX's cache missed after
    "back") and a boosted link need the full page."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def vary_on_htmx(response):
    """The full page and its fragment share a URL, so caches must keep the two apart."""
    patch_vary_headers(response, ("HX-Request",))
    return response


def render_page(request, template: str, fragment: str, context: dict, status: int = 200):
    """The full page, or for HTMX only the fragment it includes."""
    return vary_on_htmx(
        render(request, fragment if wants_fragment(request) else template, context, status=status)
    )


def add_service_errors(form, exc: ValidationError) -> None:
    """Put a service's validation errors on the form: on the field of that name, else on the form."""
    errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
    for name, texts in errors.items():
        form.add_error(name if name in form.fields else None, texts)


@dataclass
class Page:
    items: list
    number: int
    page_size: int
    has_next: bool
    total: int | None  # None: more than COUNT_CAP

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def previous_number(self) -> int:
        return self.number - 1

    @property
    def next_number(self) -> int:
        return self.number + 1

    @property
    def num_pages(self) -> int | None:
        if self.total is None:
            return None
        return max(1, math.ceil(self.total / self.page_size))

    @property
    def start_index(self) -> int:
        return (self.number - 1) * self.page_size + 1 if self.items else 0

    @property
    def end_index(self) -> int:
        return (self.number - 1) * self.page_size + len(self.items)

    @property
    def count_cap(self) -> int:
        return COUNT_CAP


def paginate(queryset, page_param, *, page_size: int | None = None) -> Page:
    """One page of ``queryset`` by OFFSET, fetching one row more to know whether a next page exists.

    The total is counted only when it is not evident from the rows fetched, and then only up to
    COUNT_CAP, so that the page costs at most one bounded COUNT besides the rows themselves.
    """
    page_size = page_size or PAGE_SIZE
    number = page_number(page_param)
    offset = (number - 1) * page_size
    rows = list(queryset[offset : offset + page_size + 1])
    has_next = len(rows) > page_size
    items = rows[:page_size]
    if not has_next and (items or number == 1):
        total = offset + len(items)
    else:
        counted = queryset.order_by().values("pk")[: COUNT_CAP + 1].count()
        total = counted if counted <= COUNT_CAP else None
    return Page(items=items, number=number, page_size=page_size, has_next=has_next, total=total)


def page_number(value) -> int:
    """A page number from a query parameter: anything not a whole number is page 1."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return 1
    return min(max(number, 1), MAX_PAGE)
