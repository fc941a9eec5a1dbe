"""The worker's stages: each reads its topics in batches and makes its effects durable before the offsets
move (``runner``); ``normalize`` is the first of them."""
