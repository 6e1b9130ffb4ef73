"""Deterministic demo data: 20 products in 3 warehouses, 30 orders in every state, their shipments.

Dates are days before the seed day (the day the store file was created), so the stories hold on any
day: ORD-1001 was delivered 5 days ago and is returnable, ORD-1003 is past its return window. The
rows are the same for a given seed day; tests read that day back from the store.
"""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta

from agents.shop import queries
from agents.shop.domain import add_business_days, nothing_left

CURRENCY = "EUR"

WAREHOUSES: tuple[tuple[str, str, str], ...] = (
    ("BER", "Berlin", "DE"),
    ("RTM", "Rotterdam", "NL"),
    ("WAW", "Warsaw", "PL"),
)

# One row per line reads as a table; the formatter would spread each over many lines.
# fmt: off
# sku, name, price in cents, returnable, stock in BER, RTM, WAW, description
PRODUCTS: tuple[tuple[str, str, int, bool, int, int, int, str], ...] = (
    ("KET-200", "Electric kettle 1.7 l, blue", 4990, True, 0, 12, 5, "Steel, 2200 W, auto shut-off."),
    ("KET-201", "Electric kettle 1.7 l, white", 4990, True, 0, 0, 0, "Steel, 2200 W, auto shut-off."),
    ("TOS-110", "Toaster, 2 slots", 3990, True, 8, 4, 0, "Seven browning levels, crumb tray."),
    ("MUG-330", "Ceramic mug 330 ml, set of 4", 2400, True, 30, 18, 11, "Dishwasher safe stoneware."),
    ("PAN-280", "Frying pan 28 cm", 3495, True, 6, 0, 9, "Non-stick, suitable for induction."),
    ("KNF-150", "Chef's knife 15 cm", 5900, True, 4, 2, 0, "Forged steel blade, beech handle."),
    ("GRD-100", "Coffee grinder", 7900, True, 3, 7, 2, "Conical burrs, 18 grind settings."),
    ("FRP-350", "French press 350 ml", 2750, True, 15, 0, 6, "Borosilicate glass, steel filter."),
    ("BLN-600", "Blender 600 W", 8999, True, 0, 5, 3, "1.5 l glass jar, pulse mode."),
    ("SCL-500", "Kitchen scale", 1999, True, 22, 9, 14, "Up to 5 kg in 1 g steps, tare button."),
    ("TWL-070", "Bath towel 70x140, grey", 1790, True, 40, 25, 0, "Cotton terry, 500 g/m2."),
    ("BED-200", "Duvet cover 200x200", 6400, True, 7, 3, 2, "Cotton satin, button closure."),
    ("LMP-040", "Desk lamp LED", 4490, True, 10, 0, 4, "Dimmable, warm to cool white."),
    ("BTL-750", "Water bottle 750 ml", 2200, True, 35, 20, 15, "Insulated steel, keeps cold 24 h."),
    ("BAG-020", "Backpack 20 l", 6900, True, 5, 8, 0, "Water-repellent, laptop sleeve 15 inch."),
    ("UMB-100", "Umbrella, compact", 1550, True, 18, 12, 9, "Automatic open and close, 97 cm."),
    ("HDP-300", "Headphones, wireless", 12900, True, 2, 6, 1, "Noise cancelling, 30 h battery."),
    ("CHG-065", "USB-C charger 65 W", 3500, True, 12, 10, 8, "Two USB-C ports, foldable plug."),
    ("CBL-200", "USB-C cable 2 m", 999, True, 50, 40, 30, "Braided, 100 W charging."),
    ("GFT-050", "Gift card 50 EUR", 5000, False, 999, 0, 0, "Sent by email; final sale."),
)

# warehouse, country, carrier, service, min and max business days, price in cents
RATES: tuple[tuple[str, str, str, str, int, int, int], ...] = (
    ("BER", "DE", "DHL", "standard", 1, 2, 490), ("BER", "DE", "DHL", "express", 1, 1, 990),
    ("BER", "AT", "DHL", "standard", 2, 3, 690), ("BER", "PL", "DPD", "standard", 2, 4, 690),
    ("RTM", "NL", "PostNL", "standard", 1, 2, 490), ("RTM", "BE", "PostNL", "standard", 1, 2, 490),
    ("RTM", "DE", "DHL", "standard", 2, 3, 590), ("RTM", "FR", "Colissimo", "standard", 2, 4, 790),
    ("WAW", "PL", "InPost", "standard", 1, 2, 390), ("WAW", "DE", "DPD", "standard", 3, 5, 690),
    ("WAW", "AT", "DPD", "standard", 3, 5, 790),
)

# order number; days before the seed day it was placed, shipped, delivered (None: not yet);
# warehouse; destination country and postcode; lines (sku, quantity)
ORDERS: tuple[tuple[int, int, int | None, int | None, str, str, str, tuple[tuple[str, int], ...]], ...] = (
    (1001, 9, 7, 5, "RTM", "DE", "10115", (("KET-200", 1),)),
    (1002, 15, 14, 12, "BER", "DE", "80331", (("MUG-330", 2), ("FRP-350", 1))),
    (1003, 50, 48, 45, "BER", "DE", "50667", (("TOS-110", 1),)),
    (1004, 2, 1, None, "RTM", "DE", "20095", (("HDP-300", 1),)),
    (1005, 0, None, None, "WAW", "PL", "00-001", (("BLN-600", 1),)),
    (1006, 24, 22, 20, "WAW", "PL", "30-001", (("PAN-280", 1),)),
    (1007, 4, 4, 3, "BER", "DE", "10117", (("GFT-050", 1), ("BTL-750", 1))),
    (1008, 28, 27, 25, "BER", "AT", "1010", (("TWL-070", 4),)),
    (1009, 32, 31, 29, "BER", "DE", "01067", (("KNF-150", 1),)),
    (1010, 34, 33, 31, "RTM", "NL", "1012 AB", (("GRD-100", 1),)),
    (1011, 6, 5, 3, "RTM", "BE", "1000", (("CHG-065", 1), ("CBL-200", 2))),
    (1012, 3, 1, None, "BER", "DE", "04109", (("LMP-040", 1), ("SCL-500", 1))),
    (1013, 1, None, None, "BER", "DE", "60311", (("BED-200", 1),)),
    (1014, 60, 59, 57, "RTM", "FR", "75001", (("BAG-020", 1),)),
    (1015, 10, 9, 8, "BER", "DE", "70173", (("UMB-100", 2),)),
    (1016, 18, 17, 15, "WAW", "DE", "10243", (("BTL-750", 3), ("MUG-330", 1))),
    (1017, 1, 0, None, "RTM", "NL", "3011 AA", (("BLN-600", 1),)),
    (1018, 40, 39, 37, "BER", "DE", "28195", (("HDP-300", 1),)),
    (1019, 7, 6, 4, "BER", "AT", "8010", (("KNF-150", 1), ("PAN-280", 1))),
    (1020, 0, None, None, "RTM", "BE", "2000", (("TOS-110", 1),)),
    (1021, 13, 12, 10, "BER", "DE", "10115", (("SCL-500", 1), ("CBL-200", 1))),
    (1022, 21, 20, 18, "RTM", "DE", "40213", (("GRD-100", 1), ("MUG-330", 1))),
    (1023, 2, 1, None, "WAW", "PL", "50-001", (("TWL-070", 2),)),
    (1024, 26, 25, 23, "BER", "DE", "90402", (("BED-200", 1),)),
    (1025, 8, 7, 6, "RTM", "FR", "69001", (("LMP-040", 1),)),
    (1026, 11, 10, 9, "BER", "DE", "10115", (("CHG-065", 2),)),
    (1027, 3, None, None, "BER", "DE", "80333", (("KET-200", 2),)),
    (1028, 16, 15, 13, "WAW", "AT", "1020", (("BTL-750", 1),)),
    (1029, 30, 29, 27, "RTM", "NL", "1017 CE", (("FRP-350", 2),)),
    (1030, 4, 3, 1, "BER", "DE", "10178", (("BAG-020", 1), ("UMB-100", 1))),
)

# Returns already made: order, days ago, (line number, quantity), reason.
RETURNS: tuple[tuple[int, int, tuple[tuple[int, int], ...], str], ...] = (
    (1006, 10, ((1, 1),), "Coating scratched on arrival"),
    (1008, 5, ((1, 2),), "Two towels were enough"),
    (1029, 20, ((1, 2),), "Ordered the wrong size"),
)
# fmt: on

_TRACKING_PREFIX = {"DHL": "JJD", "DPD": "DPD", "PostNL": "3SPN", "InPost": "INP", "Colissimo": "COL"}


def product_id(index: int) -> str:
    return f"PRD-{1001 + index}"


def insert_seed(conn: sqlite3.Connection, today: date) -> None:
    """Insert every demo row; `today` is the seed day the relative dates count back from."""
    conn.executemany("INSERT INTO warehouses (code, city, country) VALUES (?, ?, ?)", WAREHOUSES)
    for i, (sku, name, price, returnable, *levels, description) in enumerate(PRODUCTS):
        conn.execute(
            "INSERT INTO products (id, sku, name, description, price_cents, currency, returnable)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (product_id(i), sku, name, description, price, CURRENCY, int(returnable)),
        )
        for (code, _, _), quantity in zip(WAREHOUSES, levels, strict=True):
            conn.execute(
                "INSERT INTO stock (product_id, warehouse, quantity) VALUES (?, ?, ?)",
                (product_id(i), code, quantity),
            )
    conn.executemany(
        "INSERT INTO shipping_rates (warehouse, country, carrier, service, min_days, max_days, price_cents)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        RATES,
    )
    for order in ORDERS:
        _insert_order(conn, order, today)
    for number, ago, lines, reason in RETURNS:
        _insert_return(conn, number, today - timedelta(days=ago), lines, reason)


def _day(today: date, ago: int | None) -> str | None:
    return None if ago is None else (today - timedelta(days=ago)).isoformat()


def _insert_order(
    conn: sqlite3.Connection,
    order: tuple[int, int, int | None, int | None, str, str, str, tuple[tuple[str, int], ...]],
    today: date,
) -> None:
    number, placed, shipped, delivered, warehouse, country, postcode, lines = order
    carrier, service, max_days, rate = conn.execute(
        "SELECT carrier, service, max_days, price_cents FROM shipping_rates"
        " WHERE warehouse = ? AND country = ? AND service = 'standard'",
        (warehouse, country),
    ).fetchone()
    status = "delivered" if delivered is not None else "shipped" if shipped is not None else "placed"
    order_id = f"ORD-{number}"
    conn.execute(
        "INSERT INTO orders (id, status, placed_on, shipped_on, delivered_on, ship_country, ship_postcode,"
        " shipping_cents, currency) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (order_id, status, _day(today, placed), _day(today, shipped), _day(today, delivered), country,
         postcode, rate, CURRENCY),
    )  # fmt: skip
    for line_no, (sku, quantity) in enumerate(lines, start=1):
        conn.execute(
            "INSERT INTO order_lines (order_id, line_no, product_id, quantity, unit_price_cents)"
            " SELECT ?, ?, id, ?, price_cents FROM products WHERE sku = ?",
            (order_id, line_no, quantity, sku),
        )
    if shipped is not None:
        # A delivered parcel's ETA was its delivery day; one in transit is due after the slowest case.
        shipped_on = today - timedelta(days=shipped)
        eta = _day(today, delivered) if delivered is not None else add_business_days(shipped_on, max_days)
        conn.execute(
            "INSERT INTO shipments (order_id, warehouse, carrier, service, tracking_number, status,"
            " shipped_on, eta, delivered_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (order_id, warehouse, carrier, service, f"{_TRACKING_PREFIX[carrier]}{number * 7919:010d}",
             "delivered" if delivered is not None else "in_transit", shipped_on.isoformat(), str(eta),
             _day(today, delivered)),
        )  # fmt: skip


def _insert_return(
    conn: sqlite3.Connection, number: int, when: date, lines: tuple[tuple[int, int], ...], reason: str
) -> None:
    order_id, return_id = f"ORD-{number}", f"RET-SEED{number}"
    refund = 0
    for line_no, quantity in lines:
        (price,) = conn.execute(
            "SELECT unit_price_cents FROM order_lines WHERE order_id = ? AND line_no = ?", (order_id, line_no)
        ).fetchone()
        refund += price * quantity
    conn.execute(
        "INSERT INTO returns"
        " (id, order_id, reason, refund_cents, currency, status, idempotency_key, created_at)"
        " VALUES (?, ?, ?, ?, ?, 'authorised', ?, ?)",
        (return_id, order_id, reason, refund, CURRENCY, f"seed:{return_id}", f"{when.isoformat()}T12:00:00Z"),
    )
    for line_no, quantity in lines:
        conn.execute(
            "INSERT INTO return_lines (return_id, order_id, line_no, quantity, refund_cents)"
            " SELECT ?, order_id, line_no, ?, unit_price_cents * ? FROM order_lines"
            " WHERE order_id = ? AND line_no = ?",
            (return_id, quantity, quantity, order_id, line_no),
        )
    if nothing_left(queries.order_lines(conn, order_id)):
        conn.execute("UPDATE orders SET status = 'returned' WHERE id = ?", (order_id,))
