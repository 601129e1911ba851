#!/usr/bin/env python3
"""Sends one purchase (EVENT_TYPE_ORDER_CREATED) to conversions-gateway.

    CONVERSIONS_TOKEN=... python3 send_purchase.py --target 127.0.0.1:50051 \
        --order-id order_1001 --email jane.doe@example.com

Prints the outcome of the event with its violations and warnings. Exits 0
when the event was accepted (or was a duplicate of one already accepted), 1
when it was rejected, 2 when the call failed.
"""

import argparse
import sys
import time
import uuid


from conversions.v1 import conversion_service_pb2
from conversions.v1 import event_pb2

import gateway_client


def purchase_event(args: argparse.Namespace) -> event_pb2.Event:
    """Builds the purchase. The gateway normalizes and hashes the clear-text
    identifiers; never hash them yourself unless you fill the *_sha256
    fields."""
    user = event_pb2.UserData(
        emails=args.email, phone_numbers=args.phone,
        ip_address="203.0.113.7", user_agent="Mozilla/5.0 (X11; Linux x86_64)")
    # Money is integer minor units of the currency: 9999 is USD 99.99.
    contents = [
        event_pb2.Content(id="sku_1", name="Trail shoes",
                          content_type="product", quantity=1, amount=9999),
        event_pb2.Content(id="sku_2", name="Socks", content_type="product",
                          quantity=2, amount=1500,
                          variant={"size": "M", "color": "grey"}),
    ]
    return event_pb2.Event(
        # Keep the id across retries (the gateway and the API deduplicate on
        # it) and send the same value as the Pixel's event_id.
        id=args.order_id,
        type=event_pb2.EVENT_TYPE_ORDER_CREATED,
        timestamp_ms=int(time.time() * 1000),
        action_source=event_pb2.ACTION_SOURCE_WEB,
        source_url="https://shop.example.com/checkout/confirmation",
        user=user,
        data=event_pb2.EventData(
            amount=sum(c.amount * c.quantity for c in contents),
            currency=args.currency, contents=contents))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    gateway_client.add_connection_flags(parser)
    parser.add_argument("--order-id", default=f"order_{uuid.uuid4().hex}",
                        help="the event id (default: a new random one)")
    parser.add_argument("--email", action="append", default=[],
                        help="buyer's email, clear text (repeatable)")
    parser.add_argument("--phone", action="append", default=[],
                        help="buyer's phone with country code (repeatable)")
    parser.add_argument("--currency", default="USD",
                        help="ISO 4217 currency of the amounts")
    parser.add_argument("--validate-only", action="store_true",
                        help="ask the API to validate without recording")
    args = parser.parse_args()

    request = conversion_service_pb2.SendEventsRequest(
        destination=args.destination, events=[purchase_event(args)],
        validate_only=args.validate_only)
    return gateway_client.send(args, "SendEvents", request)


if __name__ == "__main__":
    sys.exit(main())
