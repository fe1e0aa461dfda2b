CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, total NUMERIC(10, 2) NOT NULL);
CREATE VIEW customer_totals AS SELECT customer, sum(total) AS total FROM orders GROUP BY customer;
