-- The custody timeline's time column is occurred_at: the readers hand back as timestamps the
-- columns whose names end in _at (SQLite keeps them as ISO 8601 text), so a view rebuilt or
-- replayed into SQLite from PostgreSQL reads the same values as the live one.
ALTER TABLE custody_timeline RENAME COLUMN at TO occurred_at;
