"""Artifact contents for the indexer: fetched from S3, then unpacked and parsed by pure functions."""
