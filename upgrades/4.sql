-- From schema version 3 to 4: each order carries its lines as the JSON array
-- the order lists show (see `books` in schema.sql), filled in here from
-- `order_lines` for the orders already placed.
BEGIN IMMEDIATE;

ALTER TABLE orders ADD COLUMN books TEXT NOT NULL DEFAULT '[]';

UPDATE orders
SET books = (SELECT json_group_array(json_object('book_id', l.book_id, 'count', l.count,
                                                 'price', l.price)
                                     ORDER BY l.book_rowid)
             FROM order_lines l
             WHERE l.buyer_id = orders.buyer_id AND l.order_rowid = orders.order_rowid);

COMMIT;
