"""CSV exports: streamed from PostgreSQL COPY in a tenant session, injection-safe, audited."""
