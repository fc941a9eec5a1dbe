"""`pobi worker`'s assembly: the Faust app hosting the stages, and the specs that run copies of each stage in
child processes. The application layer is the only one that knows every stage."""

STAGES = ("cdc", "normalize", "fanout", "webhook", "sink")  # what `pobi worker --stage` accepts, in pipeline order
SINGLE_COPY = ("cdc", "webhook", "sink")  # wait on Debezium, HTTP and ClickHouse, not on a CPU: one copy is enough
# decoding, rules, encoding and row building are Python work: beside another stage, each of these runs in its
# own process even as one copy (on threads of one process the stages took turns with one interpreter lock —
# a whole worker moved 2,000 events/s where each stage alone moved 8,000)
OWN_PROCESS = ("normalize", "fanout", "sink")
