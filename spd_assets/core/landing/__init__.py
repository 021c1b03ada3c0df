"""Reading a shop's own files: the landing folder's naming, CSV/Parquet reading and validation."""
