import {
  createTraceState,
  isSpanContextValid,
  ROOT_CONTEXT,
  trace,
  TraceFlags,
  type Context,
  type SpanContext,
} from "@opentelemetry/api";

/**
 * Where a message carries W3C trace context (PROTOCOL.md, "Trace context"): the two optional
 * fields of a hub `call` request and of the request a hub sends on a handler channel, named and
 * written exactly as the HTTP headers of W3C Trace Context (https://www.w3.org/TR/trace-context/).
 */
export interface TraceCarrier {
  /** `00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>`. */
  traceparent?: string;
  /** Vendor entries, `key=value` pairs separated by commas (at most 32, 512 characters). */
  tracestate?: string;
}

/** The longest `traceparent` read: version 00 is 55 characters; later versions may append fields. */
const MAX_TRACEPARENT = 512;
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * The span context a `traceparent` names, or undefined when it names none. W3C Trace Context
 * (§3.2, §4.3) says a receiver that cannot parse the field starts a new trace rather than fail
 * the request, so anything malformed — a value that is not a string, too long, an all-zero id,
 * version `ff`, version 00 with extra fields — is ignored here, never an error.
 */
export function parseTraceparent(traceparent: unknown, tracestate?: unknown): SpanContext | undefined {
  if (typeof traceparent !== "string" || traceparent.length > MAX_TRACEPARENT) return undefined;
  const match = TRACEPARENT.exec(traceparent);
  if (match === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string?,
  ];
  // Version ff is forbidden; version 00 has exactly four fields; a later version may add fields.
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  const spanContext: SpanContext = {
    traceId: traceId,
    spanId: spanId,
    // Only the sampled bit is defined (and kept): unknown flags are not passed on (§3.2.2.5).
    traceFlags: Number.parseInt(flags, 16) & TraceFlags.SAMPLED,
    isRemote: true,
  };
  if (!isSpanContextValid(spanContext)) return undefined;
  if (typeof tracestate === "string" && tracestate.length > 0) {
    // The API's parser keeps the valid entries only, at most 32, and drops a value over 512.
    spanContext.traceState = createTraceState(tracestate);
  }
  return spanContext;
}

/** The `traceparent` of `spanContext` (version 00). */
export function formatTraceparent(spanContext: SpanContext): string {
  const flags = spanContext.traceFlags & TraceFlags.SAMPLED ? "01" : "00";
  return `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
}

/**
 * The context to run a received message in: `base` with the remote parent `carrier` names, or
 * undefined when it names none (no field, or one that does not parse). `base` defaults to the
 * root context, not the active one: a message read off a connection must not inherit whatever
 * context happened to be active when the connection was made. The fields are taken as received
 * (unchecked types: they come from a peer).
 */
export function extractTraceContext(
  carrier: { readonly traceparent?: unknown; readonly tracestate?: unknown },
  base: Context = ROOT_CONTEXT,
): Context | undefined {
  const spanContext = parseTraceparent(carrier.traceparent, carrier.tracestate);
  return spanContext === undefined ? undefined : trace.setSpanContext(base, spanContext);
}

/**
 * Writes the span context of `context` into `carrier`; writes nothing when it holds none (so a
 * message outside any trace carries no extra bytes).
 */
export function injectTraceContext(context: Context, carrier: TraceCarrier): void {
  const spanContext = trace.getSpanContext(context);
  if (spanContext === undefined || !isSpanContextValid(spanContext)) return;
  carrier.traceparent = formatTraceparent(spanContext);
  const state = spanContext.traceState?.serialize();
  if (state !== undefined && state.length > 0) carrier.tracestate = state;
}
