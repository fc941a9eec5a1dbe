"""pobi's real-time views in ClickHouse: migrations (``migrate``), the rows each topic becomes (``rows``),
the batched writer (``writer``), the sink stage (``stage``) and the queries behind the object services
(``queries``)."""
