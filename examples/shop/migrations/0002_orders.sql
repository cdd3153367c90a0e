CREATE TABLE orders (
    id         INTEGER PRIMARY KEY,
    product_id INTEGER NOT NULL REFERENCES products (id),
    quantity   INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);
