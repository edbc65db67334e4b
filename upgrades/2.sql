-- From schema version 1 to 2: orders and their lines are stored keyed by
-- buyer, so that one buyer's history is read from neighbouring pages.
--
-- The tables are rebuilt and renamed in the way SQLite documents for
-- changing a table's structure; the ledgers keep referring to `orders` by
-- name and to each order by its unchanged `order_rowid`. The indexes of the
-- new tables are created by the schema script that runs afterwards.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE orders_v2 (
    buyer_id      TEXT NOT NULL REFERENCES users(user_id),
    order_rowid   INTEGER NOT NULL UNIQUE,
    order_id      TEXT NOT NULL UNIQUE,
    store_id      TEXT NOT NULL REFERENCES stores(store_id),
    total_price   INTEGER NOT NULL CHECK (total_price >= 0),
    held          INTEGER NOT NULL DEFAULT 0 CHECK (held >= 0),
    status        TEXT NOT NULL DEFAULT 'unpaid'
                  CHECK (status IN ('unpaid', 'paid', 'shipped', 'received', 'cancelled')),
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    paid_at       INTEGER,
    shipped_at    INTEGER,
    received_at   INTEGER,
    cancelled_at  INTEGER,
    cancel_reason TEXT CHECK (cancel_reason IN ('buyer', 'timeout', 'closed')),
    PRIMARY KEY (buyer_id, order_rowid)
) WITHOUT ROWID;
INSERT INTO orders_v2 (buyer_id, order_rowid, order_id, store_id, total_price, held,
                       status, created_at, expires_at, paid_at, shipped_at,
                       received_at, cancelled_at, cancel_reason)
SELECT buyer_id, order_rowid, order_id, store_id, total_price, held,
       status, created_at, expires_at, paid_at, shipped_at,
       received_at, cancelled_at, cancel_reason
FROM orders;

CREATE TABLE order_lines_v2 (
    buyer_id    TEXT NOT NULL,
    order_rowid INTEGER NOT NULL,
    book_rowid  INTEGER NOT NULL REFERENCES books(book_rowid),
    book_id     TEXT NOT NULL,
    count       INTEGER NOT NULL CHECK (count >= 1),
    price       INTEGER NOT NULL CHECK (price >= 0),
    PRIMARY KEY (buyer_id, order_rowid, book_rowid),
    FOREIGN KEY (buyer_id, order_rowid) REFERENCES orders(buyer_id, order_rowid)
) WITHOUT ROWID;
INSERT INTO order_lines_v2 (buyer_id, order_rowid, book_rowid, book_id, count, price)
SELECT o.buyer_id, l.order_rowid, l.book_rowid, l.book_id, l.count, l.price
FROM order_lines l JOIN orders o ON o.order_rowid = l.order_rowid;

DROP TABLE order_lines;
DROP TABLE orders;
ALTER TABLE orders_v2 RENAME TO orders;
ALTER TABLE order_lines_v2 RENAME TO order_lines;

COMMIT;
PRAGMA foreign_keys = ON;
