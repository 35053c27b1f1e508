"""The Harbor v2.0-compatible management API under /api/v2.0."""
