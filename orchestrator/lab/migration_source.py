"""The lab's migration source: a lab host standing in for a customer's old hosting (phase 6).

It runs nginx, PostgreSQL and MariaDB from the lab's package mirror, each database server with a
seeded database ``shop`` (tables with primary keys, one of them composite, and a few rows; in
MariaDB also a table without a key, NULLs, a routine and a trigger) and a files tree
``/srv/shop`` (nested folders). The lab's SSH key is authorised for root, as on every lab host,
so the lab site's SSH settings reach it; deliveries pin its host key on first contact like any
other host's.

    ensure_migration_source   make or repair the host and its seed (idempotent: what exists is
                              kept, what is missing is put back; nginx is started again)
"""

from __future__ import annotations

import structlog

from orchestrator.lab.addressing import MIGRATION_SOURCE
from orchestrator.lab.backup import root_shell
from orchestrator.lab.hosts import LabHost, create_host
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.progress import Progress, quiet

log = structlog.get_logger(__name__)

NAME = "lab-migration-source"
DATABASE = "shop"
FILES = "/srv/shop"
#: The seeded tables, by ``schema.table``.
TABLES = ("public.customers", "public.order_lines", "public.orders", "public.products")

SEED_SQL = """\
CREATE TABLE IF NOT EXISTS products (
    id integer PRIMARY KEY, name text NOT NULL, price numeric(10, 2) NOT NULL);
CREATE TABLE IF NOT EXISTS customers (id integer PRIMARY KEY, name text NOT NULL, email text);
CREATE TABLE IF NOT EXISTS orders (
    id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers,
    placed_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS order_lines (
    order_id integer NOT NULL REFERENCES orders, line_no integer NOT NULL,
    product_id integer NOT NULL REFERENCES products, quantity integer NOT NULL,
    PRIMARY KEY (order_id, line_no));
INSERT INTO products VALUES (1, 'Anvil', 49.95), (2, 'Rocket skates', 129.00),
    (3, 'Giant magnet', 15.50), (4, 'Bird seed', 2.25) ON CONFLICT DO NOTHING;
INSERT INTO customers VALUES (1, 'W. E. Coyote', 'wile@acme.example.nl'),
    (2, 'R. Runner', NULL) ON CONFLICT DO NOTHING;
INSERT INTO orders VALUES (1, 1, '2025-01-02 10:00:00+00'), (2, 1, '2025-01-09 16:30:00+00'),
    (3, 2, '2025-02-01 08:15:00+00') ON CONFLICT DO NOTHING;
INSERT INTO order_lines VALUES (1, 1, 1, 1), (1, 2, 2, 2), (2, 1, 3, 10), (3, 1, 4, 50)
    ON CONFLICT DO NOTHING;
"""

EXISTS_SQL = "SELECT 1 FROM pg_database WHERE datname = 'shop'"

MYSQL_DATABASE = "shop"
#: The tables seeded in MariaDB (the database is the schema: no ``schema.`` prefix).
MYSQL_TABLES = ("audit_log", "products", "stock")
MYSQL_SEED_SQL = """\
CREATE DATABASE IF NOT EXISTS shop CHARACTER SET utf8mb4;
USE shop;
CREATE TABLE IF NOT EXISTS products (
    id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, price DECIMAL(10, 2) NOT NULL,
    note VARCHAR(100) NULL) ENGINE=InnoDB;
CREATE TABLE IF NOT EXISTS stock (
    warehouse VARCHAR(20) NOT NULL, product_id INT NOT NULL, quantity INT NOT NULL,
    PRIMARY KEY (warehouse, product_id)) ENGINE=InnoDB;
CREATE TABLE IF NOT EXISTS audit_log (at DATETIME NOT NULL, message TEXT NULL) ENGINE=InnoDB;
INSERT IGNORE INTO products VALUES (1, 'Anvil', 49.95, NULL), (2, 'Rocket skates', 129.00, 'NULL'),
    (3, 'Giant magnet', 15.50, 'fragile, heavy'), (4, 'Bird seed', 2.25, '');
INSERT IGNORE INTO stock VALUES ('delft', 1, 12), ('delft', 2, 3), ('tilburg', 1, 0),
    ('tilburg', 4, 250);
INSERT INTO audit_log SELECT * FROM (SELECT TIMESTAMP '2025-01-02 10:00:00' AS at,
    'stock counted' AS message UNION ALL SELECT TIMESTAMP '2025-01-02 10:00:00', NULL) AS seed
    WHERE NOT EXISTS (SELECT 1 FROM audit_log);
CREATE OR REPLACE PROCEDURE restock(IN product INT, IN amount INT)
    UPDATE stock SET quantity = quantity + amount WHERE product_id = product;
CREATE OR REPLACE TRIGGER stock_changed AFTER UPDATE ON stock FOR EACH ROW
    INSERT INTO audit_log VALUES (NOW(), CONCAT('stock of ', NEW.product_id, ' changed'));
"""

#: The files tree: path under ``FILES`` -> content; a file that exists is left as it is.
SEED_FILES = {
    "index.html": "<h1>Acme shop</h1>\n",
    "config/settings.ini": "[shop]\ncurrency = EUR\n",
    "images/logo.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>\n',
    "images/products/1.txt": "an anvil\n",
    "images/products/2.txt": "rocket skates\n",
    "checkout/health": "ok\n",
}


def setup_script() -> str:
    """What runs as root on the source host; changes nothing the second time (but starts nginx,
    PostgreSQL and MariaDB again, which a migration's write freeze may have stopped)."""
    files = "".join(
        f"[ -e {FILES}/{path} ] || {{ install -D -m 0644 /dev/null {FILES}/{path}; "
        f"printf '%s' '{content}' > {FILES}/{path}; }}\n"
        for path, content in SEED_FILES.items()
    )
    return f"""\\
set -eu
export DEBIAN_FRONTEND=noninteractive
missing=no
for tool in pg_dump rsync nginx mysqldump; do command -v $tool >/dev/null || missing=yes; done
if [ $missing = yes ]
then
    apt-get update -qq
    apt-get install -y -qq postgresql rsync nginx mariadb-server mariadb-client >/dev/null
fi
systemctl start postgresql@15-main nginx mariadb
until runuser -u postgres -- pg_isready -q; do sleep 0.2; done
runuser -u postgres -- psql -Xtqc "{EXISTS_SQL}" |
    grep -q 1 || runuser -u postgres -- createdb {DATABASE}
runuser -u postgres -- psql -Xq -v ON_ERROR_STOP=1 -d {DATABASE} <<'EOF'
{SEED_SQL}EOF
until mysqladmin ping --silent; do sleep 0.2; done
mysql --batch <<'EOF'
{MYSQL_SEED_SQL}EOF
{files}"""


def ensure_migration_source(
    paths: LabPaths, progress: Progress = quiet, name: str = NAME,
    address: str = str(MIGRATION_SOURCE),
) -> LabHost:  # fmt: skip
    """The migration source host, made (or repaired) with its seeded database and files."""
    host = create_host(name, address, paths=paths, progress=progress)
    root_shell(paths, host.address, setup_script())
    log.info("migration_source_ready", host=host.name, address=host.address)
    return host
