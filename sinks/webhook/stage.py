"""Webhook delivery, for subscribers without a Kafka client: their feed (``out.<subscriber>``, written by the
fan-out stage) is POSTed to the contract's URL in batches of CloudEvents 1.0 (structured JSON, see
``cloudevents``), signed with the subscriber's key.

Each POST carries ``X-Pobi-Timestamp: <unix seconds>`` and ``X-Pobi-Signature: sha256=<hex HMAC-SHA256 of
"<timestamp>." + body>`` (the key is the one `pobi subscriptions secret NAME` writes for the subscriber), so
a captured delivery cannot be replayed later: a receiver refuses a timestamp more than ``SIGNATURE_TOLERANCE_S``
from its clock and, within that window, a batch id it already has (``X-Pobi-Batch-Id``, stable across
retries; every retry is signed afresh). The URL is reached only through ``foundation.egress``: never an address
of the hub's own network unless allow-listed, never a redirect, only https in the secure profile.

A failed POST is retried with growing delays (the stage waits meanwhile); after ``max_attempts`` the
batch's deliveries go to ``dlq.delivery`` with the reason, the subscriber's state says ``failing``, and the
stage goes on. A 4xx other than 408/429, a redirect or a refused destination is not retried. Offsets are
stored after a batch was accepted or dead-lettered: at least once.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import redis
from confluent_kafka import Message

from foundation.connect import redis_client
from foundation.egress import EgressRefused, HttpAnswer, post
from foundation.errors import DecodeError
from foundation.kafka import origin
from foundation.secrets import hub_key, hub_key_id
from foundation.settings import Settings
from monitoring.metrics import metrics
from schemas.codec import Codec
from schemas.projection import DeliveryDecoder
from sinks.webhook.cloudevents import CONTENT_TYPE, cloud_events
from streams.dedup import redis_wait
from streams.fanout.deliver import subscriber_key
from streams.runner import BatchWait, completed
from topics.contract import Webhook
from topics.dead_letters import DeadLetter
from topics.producer import Publisher
from topics.subscriptions import ContractBook, refuse_other_key

__all__ = ["SIGNATURE_TOLERANCE_S", "WebhookStage", "sign", "verify"]

logger = logging.getLogger(__name__)


SIGNATURE_TOLERANCE_S = 300


def sign(key: str, body: bytes, timestamp: int) -> str:
    """The signature a receiver recomputes: HMAC-SHA256 over ``b"<timestamp>." + body``."""
    return "sha256=" + hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify(key: str, body: bytes, timestamp: str, signature: str, now: float,
           tolerance_s: int = SIGNATURE_TOLERANCE_S) -> bool:
    """What a receiver checks (and pobi's tests do): a fresh timestamp and a matching signature."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(sign(key, body, int(timestamp)), signature)


class _Refused(Exception):  # noqa: N818 - the receiver's answer, not a bug
    pass


class WebhookStage:
    name = "webhook"
    batch_size: int | None = None
    batch_wait: BatchWait | None = None

    def __init__(self, settings: Settings, *, datasets: list[str] | None = None, codec: Codec | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time,
                 post: Callable[..., HttpAnswer] = post, publisher: Publisher | None = None,
                 book: ContractBook | None = None, redis_client_: redis.Redis | None = None) -> None:
        """``post``, ``publisher``, ``book``, ``redis_client_``: doubles for tests; otherwise ``setup`` connects
        (and every POST goes through ``foundation.egress.post``)."""
        del datasets  # a webhook stage follows subscribers, not datasets
        self.settings = settings
        self.codec = codec or Codec()
        self.book: ContractBook  # set by setup(), with the producer and Redis
        self.publisher: Publisher
        self.redis: redis.Redis
        self._closers: list[Callable[[], None]] = []
        self._given = (publisher, book, redis_client_)
        self._send = post
        self.wait = redis_wait()
        self._hub_key: bytes | None = None  # read when the first webhook contract needs it
        self._sleep = sleep
        self._clock = clock
        self._feed_prefix = settings.topics.out("")
        self._terms_cache: dict[str, tuple[Webhook, DeliveryDecoder] | None] = {}

    def topics(self) -> list[str]:
        # every feed, by pattern, so a new webhook subscriber is picked up without a restart
        return ["^" + self._feed_prefix.replace(".", r"\.") + ".*"]

    def setup(self) -> None:
        """The contracts in force, the producer (for dead letters) and Redis (each subscriber's state)."""
        publisher, book, client = self._given
        if book is None:
            book = ContractBook(self.settings)
            self._closers.append(book.close)
            book.load()
        self.book = book
        self.publisher = publisher or Publisher(self.settings, self.codec, {"delivery.report.only.error": True})
        if client is None:
            client = redis_client(self.settings, socket_timeout=10)
            self._closers.append(client.close)
        self.redis = client

    def _terms(self, subscriber: str) -> tuple[Webhook, DeliveryDecoder] | None:
        """A webhook subscriber's endpoint and feed decoder, built once per contract version; None for a
        Kafka-mode feed or a withdrawn contract."""
        if subscriber not in self._terms_cache:
            contract = self.book.contract(subscriber, self.codec.registry)
            if contract is None or contract.delivery != "webhook" or contract.webhook is None:
                self._terms_cache[subscriber] = None
            else:
                metrics().known(metrics().delivery_failures, (subscriber,))
                metrics().known(metrics().deliveries, (subscriber, "webhook-posted"))
                schemas = self.book.documents[subscriber].get("schemas")
                self._terms_cache[subscriber] = (contract.webhook, DeliveryDecoder(
                    list(schemas.values()) if isinstance(schemas, dict) else []))
        return self._terms_cache[subscriber]

    def handle(self, messages: list[Message]) -> Future[None]:
        for subscriber in self.book.refresh():
            self._terms_cache.pop(subscriber, None)
        by_subscriber: dict[str, list[Message]] = defaultdict(list)
        for message in messages:
            by_subscriber[origin(message)[0].removeprefix(self._feed_prefix)].append(message)
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
        records, posted = [], []  # the deliveries, and the records they came from
        for message in batch:
            try:
                records.append(decoder.decode(message.value() or b""))
                posted.append(message)
            except DecodeError as exc:
                self._dead_letters(subscriber, [message], exc.reason, str(exc))
        if not records:
            return
        first, last = batch[0], batch[-1]
        batch_id = f"{first.topic()}/{first.partition()}/{first.offset()}-{last.offset()}"
        feed = self.settings.topics.out(subscriber)
        body = json.dumps(cloud_events(records, feed, self.settings.registry_url), ensure_ascii=False).encode()
        if self._hub_key is None:
            self._hub_key = hub_key(self.settings)
        refuse_other_key(self.book.documents, hub_key_id(self._hub_key), self.settings)
        key = subscriber_key(self._hub_key, subscriber, "webhook").hex()
        delay, error, reason = 0.5, "", "webhook.failed"
        for attempt in range(1, webhook.max_attempts + 1):
            stamp = int(self._clock())
            try:
                self._post(webhook, body, {"X-Pobi-Timestamp": str(stamp), "X-Pobi-Signature": sign(key, body, stamp),
                                           "X-Pobi-Batch-Id": batch_id, "X-Pobi-Subscriber": subscriber})
                self._state(subscriber, "ok", "", delivered=len(records))
                metrics().deliveries.labels(subscriber, "webhook-posted").inc(len(records))
                return
            except (_Refused, EgressRefused) as exc:
                error = str(exc)
                reason = "webhook.refused_destination" if isinstance(exc, EgressRefused) else "webhook.refused"
                break
            except (OSError, http.client.HTTPException) as exc:
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
        self._dead_letters(subscriber, posted, reason, f"{webhook.url}: {error}")

    def _post(self, webhook: Webhook, body: bytes, headers: dict[str, str]) -> None:
        answer = self._send(webhook.url, body, {"Content-Type": CONTENT_TYPE, **headers},
                            timeout_s=webhook.timeout_s, allow=self.settings.webhook_networks,
                            require_https=self.settings.secure)
        if 300 <= answer.status < 400:
            raise _Refused(f"the receiver answered with a redirect (HTTP {answer.status}); pobi does not follow "
                           "redirects: put the final URL in the contract")
        if 400 <= answer.status < 500 and answer.status not in (408, 429):
            raise _Refused(f"the receiver refused the batch: HTTP {answer.status} {answer.reason}")
        if answer.status >= 400:
            raise OSError(f"HTTP {answer.status} {answer.reason}")

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
            self.publisher.send_dead_letter(DeadLetter.of("delivery", reason, why, message,
                                                          context={"subscriber": subscriber}),
                                            self.settings.topics.dlq("delivery"))

    def close(self) -> None:
        for closer in reversed(self._closers):
            closer()
        self._closers.clear()
