"""Publishing a department's file onto ``ingest.<dataset>``: the formats (here, so the command line can name
them without importing the readers), the readers (``adapters``), row checks (``rows``) and the run (``files``)."""

FORMATS = ("jsonl", "csv", "excel", "debezium")
