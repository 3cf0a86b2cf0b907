"""Prometheus metrics for the service (GET /metrics), on a registry of its own per app."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64)


class Metrics:
    def __init__(self):
        r = self.registry = CollectorRegistry()
        ProcessCollector(registry=r)  # process_resident_memory_bytes, cpu seconds, open fds
        self.requests = Counter("rag_http_requests_total", "HTTP requests", ["route", "method", "status"], registry=r)
        self.latency = Histogram("rag_http_request_seconds", "HTTP request latency (until the last byte)",
                                 ["route"], buckets=LATENCY_BUCKETS, registry=r)
        self.stage = Histogram("rag_stage_seconds", "query pipeline stage latency", ["stage"],
                               buckets=LATENCY_BUCKETS, registry=r)
        self.tokens = Counter("rag_generated_tokens_total", "answer tokens (stream pieces) generated, those of "
                              "answers whose client went away included", registry=r)
        self.answers = Counter("rag_answers_total", "answers given", ["outcome"], registry=r)
        self.queue_depth = Gauge("rag_generation_queue_depth", "answers waiting for a generation worker", registry=r)
        self.active = Gauge("rag_generation_active", "answers being generated now", registry=r)
        self.rejected = Counter("rag_generation_rejected_total", "answers refused because the queue was full",
                                registry=r)
        self.cache = Counter("rag_answer_cache_total", "answer cache lookups", ["result"], registry=r)
        self.cache_errors = Gauge("rag_answer_cache_backend_errors", "answer cache backend errors so far "
                                  "(Redis unreachable: answers go on without cache)", registry=r)
        self.cache_up = Gauge("rag_answer_cache_backend_up", "1 when the cache backend is reachable", registry=r)
        self.blocked = Counter("rag_blocked_inputs_total", "questions stopped by the input guard", ["category"],
                               registry=r)
        self.rate_limited = Counter("rag_rate_limited_total", "requests answered 429", registry=r)
        self.jobs = Counter("rag_index_jobs_total", "indexing jobs finished", ["status"], registry=r)
        self.jobs_pending = Gauge("rag_index_jobs_pending", "indexing jobs queued or running", registry=r)
        self.files = Counter("rag_indexed_files_total", "uploaded files processed", ["status"], registry=r)

    def observe_timings(self, timings: dict[str, float]) -> None:
        for key, value in timings.items():
            if key.endswith("_s") and value is not None:
                self.stage.labels(key[:-2]).observe(value)

    def render(self) -> bytes:
        return generate_latest(self.registry)
