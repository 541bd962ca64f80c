"""The `irev` command line: above `ingest`, `assistant` and `eval`, since `irev eval` runs the
evaluation; with `assistant/api.py:create_app`, the only place that reads `Settings`."""
