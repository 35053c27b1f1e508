"""``berth scanner [serve] | import-osv PATH``."""

from __future__ import annotations

import argparse
import json
import os
import secrets
from pathlib import Path

import uvicorn

from registry.scanners.adapter.app import create_scanner_app
from registry.scanners.adapter.scans import BUILTIN, ENGINES
from registry.scanners.engine import ScannerInfo
from registry.scanners.osv import Database

SCANNER_NAME = "Berth"
SCANNER_VENDOR = "Berth"
SCANNER_VERSION = "1.0"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    scanner = commands.add_parser(
        "scanner", help="the scanner adapter (Harbor's Pluggable Scanner API) and its database"
    )
    scanner.add_argument(
        "--db", type=Path, help="OSV database file (default <data-dir>/scanner/osv.sqlite)"
    )
    scanner.add_argument("--data-dir", type=Path)
    actions = scanner.add_subparsers(dest="scanner_command")
    serve = actions.add_parser("serve", help="serve the scanner API (the default)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument(
        "--engine",
        choices=ENGINES,
        default=BUILTIN,
        help="what reads an image's packages: the built-in reader or an installed trivy",
    )
    serve.add_argument(
        "--api-key-file", type=Path, help="file holding the key callers send as a Bearer token"
    )
    imports = actions.add_parser("import-osv", help="import OSV records (zip, folder or file)")
    imports.add_argument("path", type=Path)


def ensure_api_key(path: Path) -> Path:
    """The file holding the adapter's API key, made (owner-only) when missing."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
    return path


def db_file(data_dir: Path) -> Path:
    return data_dir / "scanner" / "osv.sqlite"


def db_path(args: argparse.Namespace, data_dir: Path) -> Path:
    if args.db is not None:
        return Path(args.db)
    return db_file(args.data_dir or data_dir)


def run(args: argparse.Namespace, data_dir: Path) -> int:
    path = db_path(args, data_dir)
    if args.scanner_command == "import-osv":
        db = Database(path)
        try:
            result = db.import_path(args.path)
        finally:
            db.close()
        print(json.dumps(result.as_json()))
        return 0
    host = getattr(args, "host", "127.0.0.1")
    port = getattr(args, "port", 8080)
    key_file = getattr(args, "api_key_file", None)
    api_key = key_file.read_text().strip() if key_file else ""
    info = ScannerInfo(SCANNER_NAME, SCANNER_VENDOR, SCANNER_VERSION)
    app = create_scanner_app(path, info, api_key, getattr(args, "engine", BUILTIN))
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0
