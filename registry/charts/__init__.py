"""Helm charts as files: reading and checking a packaged chart (``archive``), the rules of its
Chart.yaml (``metadata``), provenance files (``provenance``) and the repository index
(``index``). Pure code: no database, no storage, no HTTP."""
