"""Decaying engagement points without rewriting scores as time passes.

An event worth ``p`` points at time ``t`` is stored as ``p · 2^((t − EPOCH) / h)`` in an accumulator
``A`` (``h`` = half-life). The engagement at any moment ``now`` is ``A · 2^(−(now − EPOCH) / h)``: one
multiplication, the same factor for every contact, no nightly rewrite. Adding an event is O(1).

Because the value only falls between events, the moment it drops below any level ``L`` is known in
advance: ``EPOCH + h · log2(A / L)``. The scoring app stores the next such moment (when the rounded
score changes) in an indexed column, and a periodic task updates exactly the contacts that are due.

The accumulator grows by a factor of 2 per half-life since EPOCH; a double holds 2^1023, so with the
shortest allowed half-life (7 days) it lasts until about 2044 — a rebuild re-bases it if ever needed.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
MIN_HALF_LIFE_DAYS = 7
MAX_HALF_LIFE_DAYS = 3650


def growth(at: datetime, half_life_days: float) -> float:
    """The factor an event at ``at`` is multiplied by before it goes into the accumulator."""
    return 2.0 ** ((at - EPOCH).total_seconds() / (half_life_days * 86400.0))


def value(acc: float, now: datetime, half_life_days: float) -> float:
    """The decayed value of an accumulator at ``now``."""
    if not acc:
        return 0.0
    return acc / growth(now, half_life_days)


def next_change_at(acc: float, shown: int, half_life_days: float) -> datetime | None:
    """When the rounded value ``shown`` (= round(value)) will next change by decay alone.

    The value moves towards 0, so the shown integer changes when |value| falls below |shown| − 0.5.
    A shown 0 never changes by decay.
    """
    if shown == 0 or not acc:
        return None
    level = abs(shown) - 0.5
    seconds = half_life_days * 86400.0 * math.log2(abs(acc) / level)
    return EPOCH + timedelta(seconds=seconds)


def crossing_at(acc: float, level: float, half_life_days: float) -> datetime | None:
    """When a positive value falls below ``level`` (None if it never was above it)."""
    if acc <= 0 or level <= 0:
        return None
    return EPOCH + timedelta(seconds=half_life_days * 86400.0 * math.log2(acc / level))
