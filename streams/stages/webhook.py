"""Webhook delivery, for subscribers without a Kafka client: their feed (``out.<subscriber>``, written by the
fan-out stage) is POSTed to the contract's URL as JSON in batches, signed with the subscriber's key.

Each POST carries ``X-Pobi-Signature: sha256=<hex HMAC-SHA256 of the body>`` (the key is the one
`pobi subscriptions secret NAME` writes for the subscriber) and ``X-Pobi-Batch-Id`` (stable across retries,
so the receiver can drop a batch it already has). A failed POST is retried with growing delays (the stage
waits meanwhile); after ``max_attempts`` the batch's deliveries go to ``dlq.delivery`` with the reason, the
subscriber's state says ``failing``, and the stage goes on. A 4xx other than 408/429 is not retried: the
receiver refused the batch. Offsets are stored after a batch was accepted or dead-lettered: at least once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from confluent_kafka import Message

from monitoring.metrics import metrics
from pobi.connect import redis_client
from pobi.errors import DecodeError
from pobi.publish.producer import Publisher, dead_letter
from pobi.secrets import hub_key
from pobi.settings import Settings
from schemas.codec import Codec
from schemas.projection import DeliveryDecoder
from streams.dedup import redis_wait
from streams.fanout.deliver import subscriber_key
from streams.stages.runner import completed
from topics.contract import Webhook
from topics.subscriptions import ContractBook

__all__ = ["WebhookStage", "sign"]

logger = logging.getLogger(__name__)


def sign(key: str, body: bytes) -> str:
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


class _Refused(Exception):  # noqa: N818 - the receiver's answer, not a bug
    pass


class WebhookStage:
    name = "webhook"

    def __init__(self, settings: Settings, *, datasets: list[str] | None = None, codec: Codec | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        del datasets  # a webhook stage follows subscribers, not datasets
        self.settings = settings
        self.codec = codec or Codec()
        self.book = ContractBook(settings)
        self.book.load()
        self.publisher = Publisher(settings, self.codec, {"delivery.report.only.error": True})
        self.redis = redis_client(settings, socket_timeout=10)
        self.wait = redis_wait()
        self._hub_key = hub_key(settings)
        self._sleep = sleep
        self._feed_prefix = settings.topic("out.")
        self._terms_cache: dict[str, tuple[Webhook, DeliveryDecoder] | None] = {}

    def topics(self) -> list[str]:
        # every feed, by pattern, so a new webhook subscriber is picked up without a restart
        return ["^" + self._feed_prefix.replace(".", r"\.") + ".*"]

    def _terms(self, subscriber: str) -> tuple[Webhook, DeliveryDecoder] | None:
        """A webhook subscriber's endpoint and feed decoder, built once per contract version; None for a
        Kafka-mode feed or a withdrawn contract."""
        if subscriber not in self._terms_cache:
            contract = self.book.contract(subscriber, self.codec.registry)
            if contract is None or contract.delivery != "webhook" or contract.webhook is None:
                self._terms_cache[subscriber] = None
            else:
                schemas = self.book.documents[subscriber].get("schemas")
                self._terms_cache[subscriber] = (contract.webhook, DeliveryDecoder(
                    list(schemas.values()) if isinstance(schemas, dict) else []))
        return self._terms_cache[subscriber]

    def handle(self, messages: list[Message]) -> Future[None]:
        for subscriber in self.book.refresh():
            self._terms_cache.pop(subscriber, None)
        by_subscriber: dict[str, list[Message]] = defaultdict(list)
        for message in messages:
            by_subscriber[message.topic().removeprefix(self._feed_prefix)].append(message)
        for subscriber, feed in by_subscriber.items():
            terms = self._terms(subscriber)
            if terms is None:
                continue  # a Kafka-mode feed, or a withdrawn contract: nothing to post
            webhook, decoder = terms
            for start in range(0, len(feed), webhook.batch_size):
                self._deliver(subscriber, webhook, decoder, feed[start:start + webhook.batch_size])
        self.publisher.flush()
        return completed()

    def _deliver(self, subscriber: str, webhook: Webhook, decoder: DeliveryDecoder, batch: list[Message]) -> None:
        records = []
        for message in batch:
            try:
                records.append(decoder.decode(message.value()))
            except DecodeError as exc:
                self._dead_letters(subscriber, [message], exc.reason, str(exc))
        if not records:
            return
        first, last = batch[0], batch[-1]
        batch_id = f"{first.topic()}/{first.partition()}/{first.offset()}-{last.offset()}"
        body = json.dumps({"subscriber": subscriber, "batch_id": batch_id, "deliveries": records},
                          ensure_ascii=False).encode()
        key = subscriber_key(self._hub_key, subscriber, "webhook").hex()
        delay, error = 0.5, ""
        for attempt in range(1, webhook.max_attempts + 1):
            try:
                self._post(webhook, body, {"X-Pobi-Signature": sign(key, body), "X-Pobi-Batch-Id": batch_id,
                                           "X-Pobi-Subscriber": subscriber})
                self._state(subscriber, "ok", "", delivered=len(records))
                metrics().deliveries.labels(subscriber, "webhook-posted").inc(len(records))
                return
            except _Refused as exc:
                error = str(exc)
                break
            except (urllib.error.URLError, OSError) as exc:
                error = str(getattr(exc, "reason", exc))
                logger.warning("webhook %s: attempt %d/%d failed: %s", subscriber, attempt, webhook.max_attempts,
                               error)
                self._state(subscriber, "retrying", error)
                if attempt < webhook.max_attempts:
                    self._sleep(delay)
                    delay = min(delay * 2, 30.0)
        logger.error("webhook %s: batch %s not delivered (%s); %d deliveries to dlq.delivery", subscriber, batch_id,
                     error, len(records))
        self._state(subscriber, "failing", error, failed_batches=1)
        metrics().delivery_failures.labels(subscriber).inc()
        self._dead_letters(subscriber, batch, "webhook.failed", f"{webhook.url}: {error}")

    @staticmethod
    def _post(webhook: Webhook, body: bytes, headers: dict[str, str]) -> None:
        request = urllib.request.Request(webhook.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json; charset=utf-8", **headers})
        try:
            with urllib.request.urlopen(request, timeout=webhook.timeout_s) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            if 400 <= exc.code < 500 and exc.code not in (408, 429):
                raise _Refused(f"the receiver refused the batch: HTTP {exc.code} {exc.reason}") from None
            raise

    def _state(self, subscriber: str, state: str, error: str, *, delivered: int = 0, failed_batches: int = 0) -> None:
        key = self.settings.redis_key("delivery", subscriber)

        def write() -> Any:
            pipe = self.redis.pipeline()
            pipe.hset(key, mapping={"state": state, "last_error": error[:300], "updated_ms": int(time.time() * 1000)})
            if delivered:
                pipe.hincrby(key, "delivered", delivered)
            if failed_batches:
                pipe.hincrby(key, "failed_batches", failed_batches)
            return pipe.execute()

        self.wait(write)

    def _dead_letters(self, subscriber: str, messages: list[Message], reason: str, why: str) -> None:
        for message in messages:
            self.publisher.send_dead_letter(dead_letter(
                "delivery", reason, why, message.value(), original_key=message.key(), source_topic=message.topic(),
                source_partition=message.partition(), source_offset=message.offset(),
                context={"subscriber": subscriber}), topic=self.settings.topic("dlq.delivery"))

    def close(self) -> None:
        self.book.close()
