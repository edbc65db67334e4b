-- From schema version 2 to 3: the checks on order states and ledger kinds
-- are chains of `=` and `OR` instead of `IN (...)` lists, which SQLite
-- evaluated by building a temporary table for every row written. The rows
-- are the same; only the tables' definitions change.
--
-- The three tables are rebuilt and renamed in the way SQLite documents for
-- changing a table's definition. Other tables keep referring to `orders` by
-- name and to each order by its unchanged `order_rowid`; the indexes of the
-- new `orders` are created by the schema script that runs afterwards.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE orders_v3 (
    buyer_id      TEXT NOT NULL REFERENCES users(user_id),
    order_rowid   INTEGER NOT NULL UNIQUE,
    order_id      TEXT NOT NULL UNIQUE,
    store_id      TEXT NOT NULL REFERENCES stores(store_id),
    total_price   INTEGER NOT NULL CHECK (total_price >= 0),
    held          INTEGER NOT NULL DEFAULT 0 CHECK (held >= 0),
    status        TEXT NOT NULL DEFAULT 'unpaid'
                  CHECK (status = 'unpaid' OR status = 'paid' OR status = 'shipped'
                         OR status = 'received' OR status = 'cancelled'),
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    paid_at       INTEGER,
    shipped_at    INTEGER,
    received_at   INTEGER,
    cancelled_at  INTEGER,
    cancel_reason TEXT CHECK (cancel_reason = 'buyer' OR cancel_reason = 'timeout'
                              OR cancel_reason = 'closed'),
    PRIMARY KEY (buyer_id, order_rowid)
) WITHOUT ROWID;

INSERT INTO orders_v3 SELECT buyer_id, order_rowid, order_id, store_id, total_price, held,
                             status, created_at, expires_at, paid_at, shipped_at,
                             received_at, cancelled_at, cancel_reason
                      FROM orders;

CREATE TABLE money_ledger_v3 (
    entry_id    INTEGER PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(user_id),
    kind        TEXT NOT NULL
                CHECK (kind = 'deposit' OR kind = 'withdrawal' OR kind = 'payment'
                       OR kind = 'release' OR kind = 'refund'),
    amount      INTEGER NOT NULL,
    order_rowid INTEGER REFERENCES orders(order_rowid),
    at          INTEGER NOT NULL
);

INSERT INTO money_ledger_v3 SELECT entry_id, user_id, kind, amount, order_rowid, at
                            FROM money_ledger;

CREATE TABLE stock_ledger_v3 (
    entry_id    INTEGER PRIMARY KEY,
    store_id    TEXT NOT NULL,
    book_rowid  INTEGER NOT NULL,
    kind        TEXT NOT NULL
                CHECK (kind = 'initial' OR kind = 'added' OR kind = 'ordered'
                       OR kind = 'returned'),
    delta       INTEGER NOT NULL,
    order_rowid INTEGER REFERENCES orders(order_rowid),
    at          INTEGER NOT NULL,
    FOREIGN KEY (store_id, book_rowid) REFERENCES listings(store_id, book_rowid)
);

INSERT INTO stock_ledger_v3 SELECT entry_id, store_id, book_rowid, kind, delta,
                                   order_rowid, at
                            FROM stock_ledger;

DROP TABLE money_ledger;
DROP TABLE stock_ledger;
DROP TABLE orders;
ALTER TABLE orders_v3 RENAME TO orders;
ALTER TABLE money_ledger_v3 RENAME TO money_ledger;
ALTER TABLE stock_ledger_v3 RENAME TO stock_ledger;

COMMIT;
PRAGMA foreign_keys = ON;
