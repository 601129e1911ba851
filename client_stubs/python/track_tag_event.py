#!/usr/bin/env python3
"""Sends one tag-management event (begin_checkout) with TrackEvents.

    python3 track_tag_event.py --target 127.0.0.1:50051 --event-id cart_77

TrackEvents takes events in the tag-management event model as
google.protobuf.Struct values; the gateway maps them with the destination's
event and field mapping (begin_checkout becomes checkout_started). Prints the outcome
with violations, warnings and skip reasons. Exits 0 when the event was
accepted, a duplicate or skipped, 1 when it was rejected, 2 when the call
failed.
"""

import argparse
import sys
import time
import uuid

from google.protobuf import struct_pb2

from conversions.v1 import conversion_service_pb2

import gateway_client


def tag_event(args: argparse.Namespace) -> dict:
    """Builds the event as a plain dict, in the tag-management model."""
    return {
        "event_name": args.event_name,
        "type": "online",
        # Struct numbers are doubles: send ids as strings (a numeric
        # event_id must be below 2^53), and prices in major units.
        "context": {
            "event_id": args.event_id,
            "event_timestamp": int(time.time() * 1000),
            "page": {"url": "https://shop.example.com/cart"},
            "device": {"ip": "203.0.113.9", "user_agent": "Mozilla/5.0"},
        },
        "user": {"email": args.email, "country": "FRA"},
        "currency": "EUR",
        "value": 59.98,
        "items": [
            {"id": "sku_2", "quantity": 2,
             "product": {"name": "Socks", "price": 29.99}},
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    gateway_client.add_connection_flags(parser)
    parser.add_argument("--event-id", default=f"cart_{uuid.uuid4().hex}",
                        help="context.event_id (default: a new random one)")
    parser.add_argument("--event-name", default="begin_checkout",
                        help="event_name in the tag-management model")
    parser.add_argument("--email", default="jane.doe@example.com",
                        help="user.email, clear text")
    args = parser.parse_args()

    event = struct_pb2.Struct()
    event.update(tag_event(args))
    request = conversion_service_pb2.TrackEventsRequest(
        destination=args.destination, events=[event])
    return gateway_client.send(args, "TrackEvents", request)


if __name__ == "__main__":
    sys.exit(main())
