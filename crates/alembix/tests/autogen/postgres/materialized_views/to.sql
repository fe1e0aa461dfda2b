-- Materialized views are views of their own kind (they were not read at all): created, dropped, and a
-- view that becomes materialized is dropped and created again.
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, total NUMERIC(10, 2) NOT NULL);
CREATE MATERIALIZED VIEW customer_totals AS SELECT customer, sum(total) AS total FROM orders GROUP BY customer;
CREATE MATERIALIZED VIEW big_orders AS SELECT id, total FROM orders WHERE total > 100;
