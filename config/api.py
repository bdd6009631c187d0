"""Conventions shared by every REST endpoint (../shared/API.md, "Conventions")."""

from contextlib import contextmanager

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class Pagination(PageNumberPagination):
    """``{"count", "next", "previous", "results"}``; ``?page_size=`` up to the configured maximum.

    A ``page_size`` that is not a whole number between 1 and the maximum is a 400, not a silent
    clamp: an integration asking for 5,000 rows should learn that it gets 500.
    """

    page_size_query_param = "page_size"

    @property
    def max_page_size(self):
        return settings.API_MAX_PAGE_SIZE

    def paginate_queryset(self, queryset, request, view=None):
        # A page that is not a number is bad input (400); a page past the end stays DRF's 404.
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and raw not in self.last_page_strings:
            if not raw.isdigit() or int(raw) < 1:
                raise exceptions.ValidationError({"page": ["A whole number from 1 up is required."]})
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            raise exceptions.ValidationError({"page_size": ["A whole number is required."]}) from None
        if not 1 <= size <= self.max_page_size:
            raise exceptions.ValidationError({"page_size": [f"Must be between 1 and {self.max_page_size}."]})
        return size


def exception_handler(exc, context):
    """DRF's handler, plus Django model validation errors turned into 400s with field names."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)


@contextmanager
def service_errors_as_400(rename: dict[str, str] | None = None):
    """A service's ``ValidationError`` as a 400: ``{"field": [...]}`` (with the API's name of the field
    where it differs from the model's, ``rename``), ``non_field_errors`` for the rest."""
    try:
        yield
    except DjangoValidationError as exc:
        if hasattr(exc, "error_dict"):
            detail: dict[str, list[str]] = {}
            for name, messages in exc.message_dict.items():
                key = "non_field_errors" if name == NON_FIELD_ERRORS else (rename or {}).get(name, name)
                detail.setdefault(key, []).extend(messages)
        else:
            detail = {"non_field_errors": exc.messages}
        raise serializers.ValidationError(detail) from None


@extend_schema_field(
    {"type": "string", "anyOf": [{"format": "uri"}, {"maxLength": 0}], "description": "A URL, or empty."}
)
class OptionalURLField(serializers.CharField):
    """A URL that may be empty (a model URLField with blank=True). A serializers.URLField would be
    documented as ``format: uri``, which "" breaks; this is validated as a URL when not empty and
    documented as both."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.validators.append(_url_or_empty)


def _url_or_empty(value: str) -> None:
    if value:
        URLValidator(schemes=["http", "https"])(value)
