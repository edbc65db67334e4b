-- From schema version 4 to 5: an order's lines live only in `orders.books`,
-- which version 4 filled in and kept equal to `order_lines`; the table of
-- lines goes.
BEGIN IMMEDIATE;

DROP TABLE order_lines;

COMMIT;
