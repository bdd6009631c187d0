"""Set-based writes that Django's ORM has no single statement for (used by scoring and nurturing)."""

from __future__ import annotations

from datetime import datetime

from django.db import connection


def upsert_add(
    model, key_columns: tuple[str, ...], add_columns: tuple[str, ...], rows: list[tuple], insert_only=None
) -> None:
    """INSERT rows; where the key exists, ADD the values to the stored ones (one statement per chunk).
    ``insert_only`` gives constant values for the other NOT NULL columns of a new row.

    Rows are sorted by key so that concurrent workers lock rows in the same order (no deadlocks).
    The same SQL runs on PostgreSQL and SQLite (≥ 3.24).
    """
    if not rows:
        return
    table = model._meta.db_table
    insert_only = insert_only or {}
    columns = (*key_columns, *add_columns, *insert_only)
    rows = [(*row, *insert_only.values()) for row in rows]
    updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in add_columns)
    row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
    rows = sorted(rows, key=lambda r: tuple(str(v) for v in r[: len(key_columns)]))
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([row_sql] * len(chunk))} "
                f"ON CONFLICT ({', '.join(key_columns)}) DO UPDATE SET {updates}",
                [adapt(v) for row in chunk for v in row],
            )


def update_rows(model, key: str, columns: dict[str, str], rows: list[tuple]) -> None:
    """``UPDATE table SET col = v.col … FROM (VALUES …) v WHERE table.key = v.key`` in chunks.

    Django's ``bulk_update`` builds a CASE expression per row and column, which cost ~2 s of Python
    per 2,000 contacts; this is one plain statement per chunk. ``columns`` maps each column to its
    PostgreSQL type (VALUES rows are untyped there); SQLite (≥ 3.33) needs no casts.
    """
    if not rows:
        return
    table = model._meta.db_table
    pg = connection.vendor == "postgresql"
    names = [key, *columns]
    sets = ", ".join(f"{c} = v.{c}" + (f"::{t}" if pg else "") for c, t in columns.items())
    rows = sorted(rows, key=lambda r: r[0])  # lock rows in key order in every worker
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 1000):
            chunk = rows[start : start + 1000]
            values = ", ".join(["(" + ", ".join(["%s"] * len(names)) + ")"] * len(chunk))
            if pg:
                sql = f"UPDATE {table} SET {sets} FROM (VALUES {values}) AS v({', '.join(names)}) "
                sql += f"WHERE {table}.{key} = v.{key}"
            else:
                sql = f"WITH v({', '.join(names)}) AS (VALUES {values}) UPDATE {table} SET {sets} FROM v "
                sql += f"WHERE {table}.{key} = v.{key}"
            cursor.execute(sql, [adapt(v) for row in chunk for v in row])


def adapt(value):
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if hasattr(value, "isoformat"):
        return connection.ops.adapt_datefield_value(value)
    return value
