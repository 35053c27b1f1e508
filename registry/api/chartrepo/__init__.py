"""The chart repository faces: ChartMuseum's API as Harbor (up to 2.7) served it, under
``/chartrepo/<project>/`` (what ``helm repo add`` reads) and ``/api/chartrepo/<project>/``
(uploads, listings, deletes). Errors are ChartMuseum's ``{"error": "..."}``."""
