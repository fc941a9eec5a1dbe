"""`pobi worker`'s assembly: the Faust app hosting the stages, and the specs that run copies of each stage in
child processes. The application layer is the only one that knows every stage."""

STAGES = ("normalize", "fanout", "webhook", "sink")  # what `pobi worker --stage` accepts, in pipeline order
SINGLE_COPY = ("webhook", "sink")  # wait on HTTP and ClickHouse, not on a CPU: one copy is enough
