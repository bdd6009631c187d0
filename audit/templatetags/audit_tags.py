from django import template

register = template.Library()


@register.filter
def audit_value(value) -> str:
    """A detail of an audit entry as text: lists joined with commas (the template escapes it)."""
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return "" if value is None else str(value)
