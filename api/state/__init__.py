"""The service's shared state: API keys, upload jobs and their files, in SQLite (embedded default)
or PostgreSQL (RAG_DATABASE_URL), behind one interface with schema migrations for both."""
