-- A materialized view's indexes are part of it (a unique one lets REFRESH ... CONCURRENTLY run): created
-- with a new view, and compared on a kept one.
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, total NUMERIC(10, 2) NOT NULL);
CREATE MATERIALIZED VIEW customer_totals AS SELECT customer, sum(total) AS total FROM orders GROUP BY customer;
CREATE UNIQUE INDEX ux_customer_totals_customer ON customer_totals (customer);
CREATE MATERIALIZED VIEW big_orders AS SELECT id, total FROM orders WHERE total > 100;
CREATE UNIQUE INDEX ux_big_orders_id ON big_orders (id);
