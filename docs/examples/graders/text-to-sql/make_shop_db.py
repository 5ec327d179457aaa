#!/usr/bin/env python3
"""Builds shop.sqlite, the small SQLite database the text-to-SQL example's grader queries.

Run it from this folder to rebuild the file (the committed shop.sqlite is its output). The grader
hashes shop.sqlite (it is listed under `answer.inputs`), so a rebuilt database regrades.
"""
import os
import sqlite3

CUSTOMERS = [
    (1, "Ada Park", "Lyon"), (2, "Bruno Silva", "Porto"), (3, "Chen Wei", "Lyon"),
    (4, "Dana Cohen", "Berlin"), (5, "Emil Novak", "Prague"), (6, "Fatima Zahra", "Porto"),
    (7, "Goran Ilic", "Berlin"), (8, "Hana Sato", "Lyon"), (9, "Ines Moreau", "Paris"),
]
PRODUCTS = [
    (1, "kettle", "kitchen", 35.0), (2, "toaster", "kitchen", 42.5), (3, "desk lamp", "office", 19.9),
    (4, "notebook", "office", 3.5), (5, "office chair", "office", 149.0), (6, "blender", "kitchen", 64.0),
    (7, "backpack", "travel", 55.0), (8, "umbrella", "travel", 12.0),
]
ORDERS = [
    (1, 1, 1, 1, "2024-01-05"), (2, 1, 4, 10, "2024-01-05"), (3, 2, 5, 1, "2024-01-17"),
    (4, 3, 2, 1, "2024-02-02"), (5, 3, 8, 2, "2024-02-11"), (6, 4, 7, 1, "2024-02-20"),
    (7, 4, 3, 2, "2024-03-01"), (8, 5, 6, 1, "2024-03-03"), (9, 6, 4, 25, "2024-03-15"),
    (10, 6, 1, 1, "2024-03-18"), (11, 7, 5, 2, "2024-04-02"), (12, 8, 8, 1, "2024-04-09"),
    (13, 1, 7, 1, "2024-04-21"), (14, 2, 3, 3, "2024-05-06"), (15, 3, 6, 1, "2024-05-12"),
    (16, 5, 2, 2, "2024-05-30"),
]

def main():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shop.sqlite")
    if os.path.exists(path):
        os.remove(path)
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL);
        CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT NOT NULL,
                               price REAL NOT NULL);
        CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),
                             product_id INTEGER NOT NULL REFERENCES products(id),
                             quantity INTEGER NOT NULL, ordered_on TEXT NOT NULL);
        """
    )
    db.executemany("INSERT INTO customers VALUES (?, ?, ?)", CUSTOMERS)
    db.executemany("INSERT INTO products VALUES (?, ?, ?, ?)", PRODUCTS)
    db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?)", ORDERS)
    db.commit()
    db.execute("VACUUM")
    db.close()

if __name__ == "__main__":
    main()
