-- The whole schema of a bookstore database, applied at every start-up.
--
-- Every statement is idempotent (`IF NOT EXISTS`), so applying it to a file
-- that already has the schema changes nothing. `PRAGMA user_version` records
-- the schema version; src/db.rs upgrades older files step by step before this
-- script runs, and refuses files written by a newer release.
--
-- Money is integer cents, stock an integer count, times are Unix seconds (UTC).
--
-- The checks on kinds and states are written as chains of `=` and `OR`, not
-- as `IN (...)`: SQLite evaluates a constant IN list in a CHECK by building a
-- temporary table of its values for every row written, which made each
-- ledger row cost several times what the insert itself does.

-- Accounts. An unregistered account is closed, not erased: orders, stores and
-- ledger entries keep referring to it, so its id stays taken.
CREATE TABLE IF NOT EXISTS users (
    user_id       TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    balance       INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0),
    created_at    INTEGER NOT NULL,
    closed_at     INTEGER
) WITHOUT ROWID;
-- Closed accounts alone: search and book pages leave out the offers of
-- their stores, and find them here without reading any open account.
CREATE INDEX IF NOT EXISTS users_closed ON users(closed_at) WHERE closed_at IS NOT NULL;

-- Login sessions. Only the SHA-256 of a token is kept: a copy of the file
-- does not let anyone act as a user.
CREATE TABLE IF NOT EXISTS sessions (
    token_hash BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(user_id),
    terminal   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions(user_id);
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions(expires_at);

CREATE TABLE IF NOT EXISTS stores (
    store_id   TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL REFERENCES users(user_id),
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS stores_by_owner ON stores(owner_id);

-- The catalog identity of a book: one row per book id, whichever store listed
-- it first. `tags` is the list joined by newlines.
CREATE TABLE IF NOT EXISTS books (
    book_rowid     INTEGER PRIMARY KEY,
    book_id        TEXT NOT NULL UNIQUE,
    title          TEXT NOT NULL,
    author         TEXT,
    publisher      TEXT,
    original_title TEXT,
    translator     TEXT,
    pub_year       TEXT,
    pages          INTEGER,
    binding        TEXT,
    isbn           TEXT,
    currency_unit  TEXT,
    author_intro   TEXT,
    book_intro     TEXT,
    content        TEXT,
    tags           TEXT NOT NULL DEFAULT ''
);

-- Pictures live apart from the descriptions, as raw bytes, numbered from 0 in
-- the order the book's first listing gave them.
--
-- The table has row ids on purpose: its key (book_rowid, position) is then
-- a separate index whose entries hold only the key, and the bytes are read
-- only when a picture is fetched. Keyed without row ids (schema version 5),
-- the bytes sat in the key's own b-tree, and every lookup that compared its
-- key with a large picture's entry read that whole picture: after one 5 MB
-- picture was added, another book's page took 5 to 19 ms instead of 0.2.
CREATE TABLE IF NOT EXISTS pictures (
    book_rowid INTEGER NOT NULL REFERENCES books(book_rowid),
    position   INTEGER NOT NULL CHECK (position >= 0),
    mime       TEXT NOT NULL,
    bytes      BLOB NOT NULL,
    PRIMARY KEY (book_rowid, position)
);

-- A store's offer of a book: its own price and stock.
CREATE TABLE IF NOT EXISTS listings (
    store_id   TEXT NOT NULL REFERENCES stores(store_id),
    book_rowid INTEGER NOT NULL REFERENCES books(book_rowid),
    price      INTEGER NOT NULL CHECK (price >= 0),
    stock      INTEGER NOT NULL CHECK (stock >= 0),
    PRIMARY KEY (store_id, book_rowid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS listings_by_book ON listings(book_rowid);

-- Orders. `held` is the money the order holds between payment and receipt
-- (or refund). `expires_at` is the deadline for paying; the sweep that cancels
-- overdue orders reads it, so the deadline survives restarts.
-- `cancel_reason` is 'buyer', 'timeout' or 'closed' (the buyer's or the store
-- owner's account was closed) once cancelled; a timeout is dated at the deadline.
--
-- `order_rowid` numbers orders in the order they were placed; the ledgers
-- refer to it. The table is keyed by buyer first, so that one buyer's orders
-- sit together on a few neighbouring pages: a history of a thousand orders
-- is read in one short scan instead of one page per order, as it was when
-- orders were stored in the order they were placed.
--
-- `books` is the order's lines, as the JSON array both order lists show, in
-- the order of the books' catalog numbers:
-- [{"book_id":"...","count":2,"price":3879}]. Lines never change once the
-- order is placed. Kept as the lists show them, a list of a thousand orders
-- reads no line apart, where stepping through their 5,500 rows in a table
-- of lines was 40 % of the time; and placing an order writes no row per
-- line beside the stock ledger's. `bookstore check` validates every list
-- against the catalog, the order's total and the stock ledger.
CREATE TABLE IF NOT EXISTS orders (
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
    books         TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (buyer_id, order_rowid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS orders_by_store ON orders(store_id, order_rowid);
CREATE INDEX IF NOT EXISTS orders_unpaid_by_deadline ON orders(expires_at)
    WHERE status = 'unpaid';

-- Append-only record of every movement of money. `amount` is signed from the
-- user's side: deposits, releases to the seller and refunds are positive,
-- withdrawals and payments negative. A user's balance is the sum of its rows.
--
-- Neither ledger has an index beyond its row id, on purpose: every payment
-- appends a row, and an index by user or by listing would put each row on a
-- page of its own at a random place, which more than doubled the pages a
-- write changes. The ledgers are read whole, by `bookstore check`.
CREATE TABLE IF NOT EXISTS money_ledger (
    entry_id    INTEGER PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(user_id),
    kind        TEXT NOT NULL
                CHECK (kind = 'deposit' OR kind = 'withdrawal' OR kind = 'payment'
                       OR kind = 'release' OR kind = 'refund'),
    amount      INTEGER NOT NULL,
    order_rowid INTEGER REFERENCES orders(order_rowid),
    at          INTEGER NOT NULL
);

-- Append-only record of the stock sellers put in or take out ('initial',
-- 'added'). A listing's stock is the sum of its rows less the copies held by
-- the orders of its store that are not cancelled: an order's lines, which
-- never change, are the record of the stock it took, and its status of
-- whether it gave them back. Files of schema version 6 and before also have
-- a row per order line ('ordered', and 'returned' if cancelled, naming the
-- order); those are kept and checked against their orders. Writing them took
-- a fifth of the work of placing an order and a quarter of a large file.
CREATE TABLE IF NOT EXISTS stock_ledger (
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

-- Full-text index of the catalog. Its rowid is the book's `book_rowid`. The
-- text is segmented by the server before it is stored (CJK bigrams and
-- single characters, lowercased words: see src/search/segment.rs), so the
-- table is contentless and the built-in tokenizer only splits on spaces.
-- `isbn` is searched too, so a book can be found by its ISBN.
CREATE VIRTUAL TABLE IF NOT EXISTS book_text USING fts5(
    title, author, tags, book_intro, content, isbn,
    content = '',
    tokenize = 'unicode61 remove_diacritics 0'
);

-- Raised by one whenever a store lists a book. Searches keep the ranking of
-- recent keywords under this number (src/search/cache.rs): while it stays
-- the same, the set of listed books has not changed.
CREATE TABLE IF NOT EXISTS catalog_version (
    id      INTEGER PRIMARY KEY CHECK (id = 0),
    version INTEGER NOT NULL
);
INSERT OR IGNORE INTO catalog_version (id, version) VALUES (0, 0);
