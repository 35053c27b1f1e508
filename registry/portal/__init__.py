"""The web portal at ``/``: server-rendered pages over the same services the REST API uses.

Jinja2 templates (``templates/``), a small vendored partial-update library (htmx 2.0.11,
0BSD licence, from the npm package ``htmx.org``; ``static/htmx.min.js``) and Berth's own
stylesheet, served by Berth itself (``static.py``). There is no JavaScript build: pages work
as plain forms and links; htmx only refreshes parts of a page (job progress) in place.
"""
