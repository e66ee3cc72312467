"""Locust scenarios (`locust -f loadtests/`). Files starting with `_` are the scenarios'
support library: Locust skips them when it loads the folder."""
