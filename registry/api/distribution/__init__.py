"""The OCI distribution API under /v2/."""
