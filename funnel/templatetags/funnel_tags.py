"""Template helpers of the funnel table: cell values, shares as percentages, the SVG funnel drawing."""

from __future__ import annotations

from django import template
from django.utils.formats import number_format

from funnel.models import STAGE_TEXT_COLUMNS

register = template.Library()

_EDITABLE = frozenset(("name", *STAGE_TEXT_COLUMNS))

# Drawing geometry in SVG user units; the SVG scales to its container through its viewBox.
SVG_WIDTH = 420
SVG_ROW_HEIGHT = 58
SVG_GAP = 4
SVG_NARROWEST = 0.3  # bottom edge of the last stage, as a share of the top edge of the first
# Blue (cold, unknown) to green (buying, recommending); app.css repeats them as --stage-0 … --stage-5.
STAGE_COLOURS = ("#1d4ed8", "#2563eb", "#0284c7", "#0d9488", "#047857", "#4d7c0f")


@register.filter
def stage_text(stage, column: str) -> str:
    """``{{ stage|stage_text:"task" }}``: one editable column of a stage (unknown names give "")."""
    return getattr(stage, column, "") if column in _EDITABLE else ""


@register.filter
def percent(share) -> str:
    """0.183 → "18 %"; a share that rounds to 0 but is not 0 shows as "<1 %"."""
    try:
        value = float(share) * 100
    except (TypeError, ValueError):
        return ""
    if 0 < value < 0.5:
        return "<1 %"
    return f"{number_format(round(value))} %"


@register.inclusion_tag("funnel/_funnel_svg.html")
def funnel_drawing(stages):
    """Inline SVG: one trapezoid per stage, each narrower than the one above, with name and count."""
    stages = list(stages)
    count = len(stages)
    top, bottom = SVG_WIDTH, SVG_WIDTH * SVG_NARROWEST
    centre = SVG_WIDTH / 2

    def width_at(i: int) -> float:
        return top - (top - bottom) * i / count if count else top

    shapes = []
    for i, stage in enumerate(stages):
        y0 = i * (SVG_ROW_HEIGHT + SVG_GAP)
        y1 = y0 + SVG_ROW_HEIGHT
        upper, lower = width_at(i) / 2, width_at(i + 1) / 2
        points = [
            (centre - upper, y0),
            (centre + upper, y0),
            (centre + lower, y1),
            (centre - lower, y1),
        ]
        shapes.append(
            {
                "stage": stage,
                "points": " ".join(f"{x:.1f},{y:.1f}" for x, y in points),
                "fill": STAGE_COLOURS[i % len(STAGE_COLOURS)],
                "name_y": y0 + SVG_ROW_HEIGHT / 2 - 4,
                "count_y": y0 + SVG_ROW_HEIGHT / 2 + 14,
            }
        )
    height = count * SVG_ROW_HEIGHT + max(count - 1, 0) * SVG_GAP
    return {
        "shapes": shapes,
        "width": SVG_WIDTH,
        "height": height,
        "centre": centre,
        "total": sum(getattr(s, "contact_count", 0) for s in stages),
    }


@register.simple_tag
def stage_colour(index: int) -> str:
    """The drawing's colour of the stage at 0-based ``index`` (for dots beside stage names)."""
    return STAGE_COLOURS[int(index) % len(STAGE_COLOURS)]
