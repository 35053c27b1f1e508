"""The Docker registry token service: scopes, grants, signing and verifying JWTs."""
