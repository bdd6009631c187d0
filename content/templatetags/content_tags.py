from django import template

from content.hourglass import phases_by_stage

register = template.Library()


@register.simple_tag
def hourglass_phases():
    """Stage key → the hourglass phases that refine it (for the funnel page)."""
    return phases_by_stage()


@register.filter
def get_item(mapping, key):
    return mapping.get(key, [])
