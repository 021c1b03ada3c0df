"""Dagster resources: where orders come from, and where notifications go."""
