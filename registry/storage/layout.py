"""Where Berth keeps things in a storage driver.

    /
    ├── blobs/
    │   └── <algorithm>/<first two hex>/<hex>/data     content-addressed, stored once
    └── uploads/
        └── <upload uuid>/data                         an upload in progress

Manifests live in PostgreSQL (they are small and read on every pull); blobs here.
"""

from __future__ import annotations

import uuid

from registry.oci.digest import Digest


def blob_path(digest: Digest) -> str:
    return f"/blobs/{digest.algorithm}/{digest.hex[:2]}/{digest.hex}/data"


def upload_path(upload_id: uuid.UUID) -> str:
    return f"/uploads/{upload_id}/data"


def upload_dir(upload_id: uuid.UUID) -> str:
    return f"/uploads/{upload_id}"
