CREATE TABLE settings (
    key VARCHAR(50) PRIMARY KEY,
    value TEXT
);
CREATE TABLE departments (
    id INTEGER PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    manager_id INTEGER REFERENCES employees (id) ON DELETE SET NULL
);
CREATE TABLE employees (
    id INTEGER PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    department_id INTEGER NOT NULL REFERENCES departments (id)
);
