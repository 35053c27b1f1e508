"""The job service: Celery tasks over plain service functions, with records in PostgreSQL."""
