"""Sensors: the landing folder (new or changed day files) and new daily_metrics partitions."""
