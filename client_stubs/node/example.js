#!/usr/bin/env node
// Calls conversions-gateway from Node.js: a purchase with SendEvents, then a
// tag-management event (begin_checkout) with TrackEvents.
//
//   CONVERSIONS_TARGET=127.0.0.1:50051 CONVERSIONS_TOKEN=... node example.js
//
// No generated code: @grpc/proto-loader reads proto/conversions/v1/*.proto
// at start-up. Environment: CONVERSIONS_TARGET (host:port, default
// 127.0.0.1:50051), CONVERSIONS_TOKEN (bearer token, when the gateway
// configures callers), CONVERSIONS_CA_FILE (connect over TLS trusting this
// PEM CA file; CONVERSIONS_TLS=1 trusts the system's CAs instead).
// Exits 0 when every event was accepted, a duplicate or skipped, 1 when one
// was rejected, 2 when a call failed.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

// Set PROTO_ROOT when this file is copied out of the repository.
const PROTO_ROOT =
  process.env.PROTO_ROOT || path.join(__dirname, '..', '..', 'proto');

const definition = protoLoader.loadSync(
  'conversions/v1/conversion_service.proto', {
    includeDirs: [PROTO_ROOT],
    keepCase: true,   // snake_case field names, as in the .proto files
    longs: String,    // int64 fields (amounts, timestamps) arrive as strings
    enums: String,    // enums arrive as their names, e.g. OUTCOME_ACCEPTED
    defaults: true,
  });
const { ConversionService } =
  grpc.loadPackageDefinition(definition).conversions.v1;

// The codes worth a retry (see conversion_service.proto): the gateway is
// draining or unreachable, or its spool is full, or it did not answer in
// time (the events may or may not be stored; the stored ones answer
// DUPLICATE). Every other code is final.
const RETRYABLE = new Set([grpc.status.UNAVAILABLE,
                           grpc.status.RESOURCE_EXHAUSTED,
                           grpc.status.DEADLINE_EXCEEDED]);
// About 30 s of backoff on average, a minute at most: a gateway's drain.
const MAX_ATTEMPTS = 12;
// Twice the gateway's default request limit: an answer may be twice its
// request, and "Received message larger than max" must mean the request's.
const CHANNEL_OPTIONS = { 'grpc.max_receive_message_length': 32 << 20 };
const ATTEMPT_TIMEOUT_MS = 10000;

function credentials() {
  const caFile = process.env.CONVERSIONS_CA_FILE;
  if (caFile) return grpc.credentials.createSsl(fs.readFileSync(caFile));
  if (process.env.CONVERSIONS_TLS === '1') return grpc.credentials.createSsl();
  return grpc.credentials.createInsecure();
}

function metadata() {
  const md = new grpc.Metadata();
  const token = process.env.CONVERSIONS_TOKEN;
  if (token) md.set('authorization', `Bearer ${token}`);
  return md;
}

function callOnce(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, metadata(),
                   { deadline: Date.now() + ATTEMPT_TIMEOUT_MS },
                   (err, response) => (err ? reject(err) : resolve(response)));
  });
}

// Whether trying again later can succeed: a RETRYABLE code, except gRPC's
// own message-size limit ("Received message larger than max"), which the
// same request hits again; send fewer events at a time instead.
function isRetryable(err) {
  if (!RETRYABLE.has(err.code)) return false;
  const details = err.details || '';
  return !details.startsWith('Received message larger than max') &&
         !details.startsWith('Sent message larger than max');
}

// Calls `method`, retrying the RETRYABLE codes with exponential backoff and
// full jitter. Keep the same event ids on every attempt: events the gateway
// already stored answer DUPLICATE, so a retry never counts twice.
async function callWithRetry(client, method, request) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await callOnce(client, method, request);
    } catch (err) {
      if (!isRetryable(err) || attempt === MAX_ATTEMPTS) throw err;
      const delayMs = Math.random() * Math.min(10000, 200 * 2 ** (attempt - 1));
      console.error(`attempt ${attempt} failed with ${grpc.status[err.code]}:` +
                    ` ${err.details}; retrying in ${Math.round(delayMs)}ms`);
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}

// A lone UTF-16 surrogate (e.g. half an emoji cut by substring) encodes as
// invalid UTF-8, and the gateway refuses the whole request with
// INVALID_ARGUMENT. Refuse it here, with the path, instead.
const LONE_SURROGATE =
  /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
function checkStrings(value, where) {
  if (typeof value === 'string') {
    if (LONE_SURROGATE.test(value)) {
      throw new Error(`${where}: string has a lone UTF-16 surrogate`);
    }
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => checkStrings(v, `${where}[${i}]`));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      checkStrings(k, `${where}.${k}`);
      checkStrings(v, `${where}.${k}`);
    }
  }
}

// Turns a plain JS value into google.protobuf.Value. protobufjs uses its own
// built-in struct.proto, whose fields are camelCase (stringValue,
// structValue, ...) even with keepCase: snake_case names are silently
// dropped and the value arrives empty.
function toValue(v) {
  if (v === null || v === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  return { structValue: toStruct(v) };
}
function toStruct(obj) {
  const fields = {};
  for (const [k, v] of Object.entries(obj)) fields[k] = toValue(v);
  return { fields };
}

function printResults(results) {
  let allTaken = true;
  for (const r of results) {
    console.log(`event ${r.index} (${r.event_id}): ` +
                r.outcome.replace(/^OUTCOME_/, ''));
    for (const v of r.violations) {
      console.log(`  violation ${v.field} ${v.reason}: ${v.description}`);
    }
    for (const w of r.warnings) {
      console.log(`  warning ${w.field} ${w.reason}: ${w.description}`);
    }
    if (r.skip_reason) console.log(`  skipped: ${r.skip_reason}`);
    if (r.outcome === 'OUTCOME_REJECTED') allTaken = false;
  }
  return allTaken;
}

function purchase(orderId) {
  // Money is integer minor units: 9999 is USD 99.99.
  return {
    id: orderId,  // reuse on retries; same value as the Pixel's event_id
    type: 'EVENT_TYPE_ORDER_CREATED',
    timestamp_ms: Date.now(),
    action_source: 'ACTION_SOURCE_WEB',
    source_url: 'https://shop.example.com/checkout/confirmation',
    user: {
      emails: [' Jane.Doe@Example.com '],  // the gateway normalizes, hashes
      phone_numbers: ['+1 (415) 555-2671'],
      ip_address: '203.0.113.7',
    },
    data: {
      amount: 9999 + 2 * 1500,
      currency: 'USD',
      contents: [
        { id: 'sku_1', name: 'Trail shoes', quantity: 1, amount: 9999 },
        { id: 'sku_2', name: 'Socks', quantity: 2, amount: 1500,
          variant: { size: 'M' } },
      ],
    },
  };
}

function beginCheckout(eventId) {
  // Struct numbers are doubles: send ids as strings.
  return {
    event_name: 'begin_checkout',
    type: 'online',
    context: { event_id: eventId, event_timestamp: Date.now(),
               page: { url: 'https://shop.example.com/cart' } },
    user: { email: 'jane.doe@example.com' },
    currency: 'EUR',
    value: 59.98,
    items: [{ id: 'sku_2', quantity: 2,
              product: { name: 'Socks', price: 29.99 } }],
  };
}

async function main() {
  const target = process.env.CONVERSIONS_TARGET || '127.0.0.1:50051';
  const client = new ConversionService(target, credentials(), CHANNEL_OPTIONS);
  const suffix = crypto.randomUUID().replace(/-/g, '');
  let ok = true;
  try {
    const event = purchase(`node_order_${suffix}`);
    checkStrings(event, 'events[0]');
    console.log('SendEvents:');
    const sent = await callWithRetry(client, 'SendEvents',
                                     { destination: '', events: [event] });
    ok = printResults(sent.results) && ok;

    const tagEvent = beginCheckout(`node_cart_${suffix}`);
    checkStrings(tagEvent, 'events[0]');
    console.log('TrackEvents:');
    const tracked = await callWithRetry(
      client, 'TrackEvents', { destination: '', events: [toStruct(tagEvent)] });
    ok = printResults(tracked.results) && ok;
  } catch (err) {
    if (err.code === undefined) throw err;
    console.error(`error: ${grpc.status[err.code]}: ${err.details}`);
    return 2;
  } finally {
    client.close();
  }
  return ok ? 0 : 1;
}

main().then((code) => { process.exitCode = code; });
