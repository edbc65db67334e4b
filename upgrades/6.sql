-- From schema version 5 to 6: pictures are kept in a table with row ids, so
-- their key (book_rowid, position) is an index of its own and looking a key
-- up never reads a picture's bytes (see `pictures` in schema.sql).
--
-- The table is rebuilt and renamed in the way SQLite documents for changing
-- a table's structure; every picture keeps its book, position, type and
-- bytes. No other table refers to `pictures`. Foreign keys are off while
-- the rows are copied so that the upgrade keeps every row it finds, as the
-- other steps do; `bookstore check` reports a picture of a missing book.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE pictures_v6 (
    book_rowid INTEGER NOT NULL REFERENCES books(book_rowid),
    position   INTEGER NOT NULL CHECK (position >= 0),
    mime       TEXT NOT NULL,
    bytes      BLOB NOT NULL,
    PRIMARY KEY (book_rowid, position)
);

INSERT INTO pictures_v6 (book_rowid, position, mime, bytes)
SELECT book_rowid, position, mime, bytes FROM pictures ORDER BY book_rowid, position;

DROP TABLE pictures;
ALTER TABLE pictures_v6 RENAME TO pictures;

COMMIT;
PRAGMA foreign_keys = ON;
