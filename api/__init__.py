"""The HTTP service: FastAPI app, keys, upload jobs, streaming answers, OpenAI-compatible routes."""
