"""Connects to conversions-gateway and calls it with the retries it asks for.

Shared by the examples in this folder; copy it along with the generated
`conversions/` package, or take what you need from it.

Retry guidance (proto/conversions/v1/conversion_service.proto):
  * UNAVAILABLE (the gateway is draining, or cannot be reached),
    RESOURCE_EXHAUSTED (its queue bound is reached, or its disk is full) and
    DEADLINE_EXCEEDED (no answer in time: the events may or may not be
    stored) are worth a retry, after an exponential backoff with full
    jitter; except a RESOURCE_EXHAUSTED from gRPC's own message-size limit
    ("Received message larger than max"), which no retry fixes: send fewer
    events at a time. The channel takes answers up to 32 MiB (an answer may
    be twice its request), so that limit can only be the request's.
  * Every other code is final for this request: INVALID_ARGUMENT (a malformed
    request, 0 or more than 1,000 events, a string that is not UTF-8),
    UNAUTHENTICATED, PERMISSION_DENIED, NOT_FOUND (unknown destination). Fix
    the request or the configuration instead.
  * Resend with the same event ids: events that were already stored answer
    DUPLICATE, so a retry never double-counts a conversion.
"""

import argparse
import os
import random
import sys
import time

import grpc

from conversions.v1 import conversion_service_pb2
from conversions.v1 import conversion_service_pb2_grpc

# The gRPC codes the gateway answers when trying again later can succeed.
RETRYABLE_CODES = frozenset({
    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.DEADLINE_EXCEEDED
})

# Twice the gateway's default request limit (grpc.max_receive_message_bytes,
# 16 MiB): ValidateEvents and dry_run answers carry each event's wire JSON.
CHANNEL_OPTIONS = (("grpc.max_receive_message_length", 32 << 20),)


def add_connection_flags(parser: argparse.ArgumentParser) -> None:
    """Adds the flags every example takes to reach the gateway."""
    parser.add_argument(
        "--target",
        default=os.environ.get("CONVERSIONS_TARGET", "127.0.0.1:50051"),
        help="gateway host:port (default: $CONVERSIONS_TARGET or "
        "127.0.0.1:50051)")
    parser.add_argument(
        "--tls", action="store_true",
        help="connect over TLS, trusting the system's CA certificates")
    parser.add_argument(
        "--ca-file",
        help="connect over TLS, trusting the CA certificates in this PEM file")
    parser.add_argument("--destination", default="",
                        help="configured destination; empty is the default")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="deadline of each attempt, seconds")
    parser.add_argument(
        "--max-attempts", type=int, default=12,
        help="attempts for UNAVAILABLE, RESOURCE_EXHAUSTED and "
        "DEADLINE_EXCEEDED (12: about 30 s of backoff on average)")


def open_stub(args: argparse.Namespace):
    """Returns (channel, ConversionServiceStub) for the parsed flags."""
    if args.ca_file or args.tls:
        root_certificates = None
        if args.ca_file:
            with open(args.ca_file, "rb") as f:
                root_certificates = f.read()
        credentials = grpc.ssl_channel_credentials(
            root_certificates=root_certificates)
        channel = grpc.secure_channel(args.target, credentials,
                                      options=CHANNEL_OPTIONS)
    else:
        channel = grpc.insecure_channel(args.target, options=CHANNEL_OPTIONS)
    return channel, conversion_service_pb2_grpc.ConversionServiceStub(channel)


def call_metadata():
    """Returns the call's metadata: the bearer token of $CONVERSIONS_TOKEN.

    Needed when the gateway configures `callers`. Send tokens over TLS (the
    gateway's own, or a mesh's mTLS) unless the gateway is on loopback.
    """
    token = os.environ.get("CONVERSIONS_TOKEN")
    if not token:
        return ()
    return (("authorization", "Bearer " + token),)


def is_retryable(error: grpc.RpcError) -> bool:
    """Whether trying `error`'s call again later can succeed."""
    if error.code() not in RETRYABLE_CODES:
        return False
    # gRPC's own size limit, on either side: the same request fails again.
    details = error.details() or ""
    return not (details.startswith("Received message larger than max") or
                details.startswith("Sent message larger than max"))


def call_with_retry(method, request, args: argparse.Namespace,
                    initial_backoff: float = 0.2, max_backoff: float = 10.0):
    """Calls `method(request)`, retrying the codes in RETRYABLE_CODES.

    Waits a random time up to initial_backoff * 2^attempt (at most
    max_backoff) between attempts. Raises the last grpc.RpcError when the
    code is final or the attempts are used up.
    """
    for attempt in range(1, args.max_attempts + 1):
        try:
            return method(request, timeout=args.timeout,
                          metadata=call_metadata())
        except grpc.RpcError as error:
            error.attempts = attempt
            if (not is_retryable(error) or attempt == args.max_attempts):
                raise
            delay = random.uniform(
                0, min(max_backoff, initial_backoff * 2 ** (attempt - 1)))
            print(f"attempt {attempt} failed with {error.code().name}: "
                  f"{error.details()}; retrying in {delay:.2f}s",
                  file=sys.stderr)
            time.sleep(delay)
    raise AssertionError("unreachable")


def outcome_name(outcome: int) -> str:
    """Returns "ACCEPTED" for OUTCOME_ACCEPTED, and so on."""
    name = conversion_service_pb2.EventResult.Outcome.Name(outcome)
    return name.removeprefix("OUTCOME_")


def print_results(results) -> bool:
    """Prints one line per event, then its violations and warnings.

    Returns False when an event was rejected: fixing it takes a code or data
    change, and sending it again as it is would be rejected again.
    """
    all_taken = True
    for result in results:
        outcome = outcome_name(result.outcome)
        print(f"event {result.index} ({result.event_id}): {outcome}")
        for violation in result.violations:
            print(f"  violation {violation.field} {violation.reason}: "
                  f"{violation.description}")
        for warning in result.warnings:
            print(f"  warning {warning.field} {warning.reason}: "
                  f"{warning.description}")
        if result.skip_reason:
            print(f"  skipped: {result.skip_reason}")
        if result.outcome == conversion_service_pb2.EventResult.OUTCOME_REJECTED:
            all_taken = False
    return all_taken


def report_rpc_error(error: grpc.RpcError, args: argparse.Namespace) -> None:
    """Prints a failed call's code and message on stderr."""
    note = ""
    attempts = getattr(error, "attempts", 1)
    if attempts > 1:
        note = f" (gave up after {attempts} attempts)"
    print(f"error: {error.code().name}: {error.details()}{note}",
          file=sys.stderr)


def send(args: argparse.Namespace, method_name: str, request) -> int:
    """Calls `method_name` ("SendEvents", "TrackEvents") with retries,
    prints the per-event results or the error, and returns the examples'
    exit code: 0 every event taken, 1 one rejected, 2 the call failed."""
    channel, stub = open_stub(args)
    with channel:
        try:
            response = call_with_retry(getattr(stub, method_name), request,
                                       args)
        except grpc.RpcError as error:
            report_rpc_error(error, args)
            return 2
    return 0 if print_results(response.results) else 1
