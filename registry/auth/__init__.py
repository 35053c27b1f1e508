"""Authentication: who is calling. Authorization lives in :mod:`registry.rbac`."""
