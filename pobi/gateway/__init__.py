"""The HTTP ingest gateway: departments that cannot run a Kafka client publish over HTTP (``pobi gateway``)."""
