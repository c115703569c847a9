"""`python -m db upgrade|check|current`: migrate or inspect the database in DATABASE_URL."""

from __future__ import annotations

import argparse
import sys

from db.migrate import SchemaMismatch, check_schema, current_heads, expected_heads, upgrade
from db.session import Database, DatabaseUnavailable, DatabaseUrlError
from settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m db", description=__doc__)
    parser.add_argument("command", choices=["upgrade", "check", "current"])
    parser.add_argument("--url", help="database URL (default: DATABASE_URL or var/lab.db)")
    args = parser.parse_args(argv)
    url = args.url or Settings.from_env().database_url
    try:
        database = Database(url)
        database.check_connection()
        if args.command == "upgrade":
            before, after = upgrade(database.engine)
            state = "already at" if before == after else "upgraded to"
            print(f"database {state} schema {', '.join(sorted(after))}")
        elif args.command == "check":
            check_schema(database.engine)
            print("schema is up to date")
        else:
            print(f"current: {', '.join(sorted(current_heads(database.engine))) or '(empty)'}")
            print(f"expected: {', '.join(sorted(expected_heads()))}")
    except (DatabaseUrlError, DatabaseUnavailable, SchemaMismatch) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
