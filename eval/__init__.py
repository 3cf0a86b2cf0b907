"""Offline evaluation: BEIR datasets, retrieval metrics, reports."""
