"""PostgreSQL access: the connection pool and one module per aggregate."""
