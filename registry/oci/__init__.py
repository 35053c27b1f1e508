"""The OCI and Docker formats: digests, names, media types, manifests. No I/O here."""
