"""The foundation every layer builds on: settings, errors, client connections, secrets, waiting out an
unreachable service, the clock and time zone, egress to a tenant's URL. It imports nothing else of pobi's
(``tests/unit/test_layers.py`` holds it to that)."""
