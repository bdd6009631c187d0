"""SQLite's stage count triggers (migration 0004), in one place: SQLite drops a table's triggers
whenever a migration rebuilds the table, so later migrations create them again with this."""

SQLITE_CREATE = [
    """CREATE TRIGGER IF NOT EXISTS funnel_stage_count_insert AFTER INSERT ON funnel_contact BEGIN
        INSERT INTO funnel_stagecountdelta (stage_id, delta) VALUES (NEW.stage_id, 1); END""",
    """CREATE TRIGGER IF NOT EXISTS funnel_stage_count_delete AFTER DELETE ON funnel_contact BEGIN
        INSERT INTO funnel_stagecountdelta (stage_id, delta) VALUES (OLD.stage_id, -1); END""",
    """CREATE TRIGGER IF NOT EXISTS funnel_stage_count_move AFTER UPDATE OF stage_id ON funnel_contact
        WHEN OLD.stage_id IS NOT NEW.stage_id BEGIN
        INSERT INTO funnel_stagecountdelta (stage_id, delta)
        VALUES (OLD.stage_id, -1), (NEW.stage_id, 1); END""",
]


def create_sqlite_stage_count_triggers(schema_editor) -> None:
    for statement in SQLITE_CREATE:
        schema_editor.execute(statement)
