"""`pobi worker`'s assembly: the Faust app hosting the stages, and the specs that run copies of each stage in
child processes. The application layer is the only one that knows every stage."""

STAGES = ("cdc", "normalize", "fanout", "webhook", "sink")  # what `pobi worker --stage` accepts, in pipeline order
SINGLE_COPY = ("cdc", "webhook", "sink")  # wait on Debezium, HTTP and ClickHouse, not on a CPU: one copy is enough
