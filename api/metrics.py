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
        self.tokens = Counter("rag_generated_tokens_total", "pieces of answers the generator wrote (about a "
                              "token each), those of answers whose client went away included", registry=r)
        self.answers = Counter("rag_answers_total", "answers given", ["outcome"], registry=r)
        self.generator_failed = Counter("rag_generator_failed_total", "answers quoted from the passages because the "
                                        "generator failed (endpoint down, timing out, cutting its stream)", registry=r)
        self.queue_depth = Gauge("rag_generation_queue_depth", "answers waiting for a generation worker", registry=r)
        self.active = Gauge("rag_generation_active", "answers being generated now", registry=r)
        self.rejected = Counter("rag_generation_rejected_total", "answers refused because the queue was full",
                                registry=r)
        self.quote_queue_depth = Gauge("rag_quote_queue_depth", "quoted answers waiting for a worker", registry=r)
        self.quote_active = Gauge("rag_quote_active", "quoted answers being worked on now", registry=r)
        self.quote_rejected = Counter("rag_quote_rejected_total", "quoted answers refused because the queue was "
                                      "full", registry=r)
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
        # experiments (api/experiments): one series per experiment and arm
        arm = ["experiment", "arm"]
        self.exp_requests = Counter("rag_experiment_requests_total", "answers given per experiment arm", arm,
                                    registry=r)
        self.exp_latency = Histogram("rag_experiment_answer_seconds", "answer latency per experiment arm", arm,
                                     buckets=LATENCY_BUCKETS, registry=r)
        self.exp_refusals = Counter("rag_experiment_refusals_total", "refused answers per experiment arm", arm,
                                    registry=r)
        self.exp_fallbacks = Counter("rag_experiment_fallbacks_total", "answers with a fallback (extractive or "
                                     "unsupported) per experiment arm", arm, registry=r)
        self.exp_dropped = Counter("rag_experiment_dropped_sentences_total", "answer sentences left without "
                                   "support per experiment arm", arm, registry=r)
        self.exp_cache_hits = Counter("rag_experiment_cache_hits_total", "answers served from the answer cache per "
                                      "experiment arm", arm, registry=r)
        self.exp_feedback = Counter("rag_experiment_feedback_total", "votes on answers per experiment arm",
                                    arm + ["rating"], registry=r)
        self.feedback = Counter("rag_feedback_total", "votes on answers", ["rating"], registry=r)

    def observe_timings(self, timings: dict[str, float]) -> None:
        for key, value in timings.items():
            if key.endswith("_s") and value is not None:
                self.stage.labels(key[:-2]).observe(value)

    def observe_answer(self, experiment: str, arm: str, answer: dict, latency_s: float, dropped: int) -> None:
        """One answer of an experiment arm."""
        labels = (experiment, arm)
        self.exp_requests.labels(*labels).inc()
        self.exp_latency.labels(*labels).observe(latency_s)
        if answer.get("refused"):
            self.exp_refusals.labels(*labels).inc()
        if answer.get("fallback"):
            self.exp_fallbacks.labels(*labels).inc()
        if dropped:
            self.exp_dropped.labels(*labels).inc(dropped)
        if answer.get("cached"):
            self.exp_cache_hits.labels(*labels).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
