import {
  context,
  ProxyTracerProvider,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
} from "@opentelemetry/api";
import { isThenable } from "../../model/channel.js";

/** The instrumentation scope of every span beamhub makes. */
export const TRACER_NAME = "beamhub";

/** What `trace.getTracerProvider()` delegates to while nobody registered a provider. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * How many calls reuse the answer of `tracingEnabled` before it asks `@opentelemetry/api` again.
 * Asking costs ~25 ns (a symbol lookup on `globalThis`, a version check, the delegate), a tenth
 * of an in-process call to a synchronous handler (~220 ns here); asked once per 128 calls it is
 * lost in the noise. The price: a provider registered (or disabled) while calls are flowing takes
 * effect within 128 calls rather than at once. Registering the SDK first, as OpenTelemetry's own
 * setup guides say, traces every call.
 */
const RECHECK_EVERY = 128;
let checksLeft = 0;
let enabled = false;

/**
 * True when a tracer provider (an OpenTelemetry SDK) is registered with `@opentelemetry/api`.
 * Without one, beamhub makes no span and no context object at all: a no-op span would still
 * cost an allocation and a context per call, which the in-process fast path cannot afford
 * (bench/tracing.ts).
 */
export function tracingEnabled(): boolean {
  if (checksLeft > 0) {
    checksLeft -= 1;
    return enabled;
  }
  checksLeft = RECHECK_EVERY - 1;
  const provider = trace.getTracerProvider();
  // A provider from another copy of the API is not a ProxyTracerProvider of ours: trace then.
  enabled = !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NOOP_PROVIDER;
  return enabled;
}

/** The three spans of a call (see PROTOCOL.md, "Trace context"). */
export type CallSpanRole = "call" | "dispatch" | "serve";

const KINDS: Record<CallSpanRole, SpanKind> = {
  call: SpanKind.CLIENT,
  dispatch: SpanKind.SERVER,
  serve: SpanKind.SERVER,
};

/**
 * Starts the span of one role in a call to `service`, a child of the span in `parent`:
 * `call <service>` at the caller (client), `dispatch <service>` in the hub that routes it,
 * `serve <service>` around the handler of the instance that answers it. Attributes follow the
 * OpenTelemetry RPC conventions (`rpc.system`, `rpc.service`).
 */
export function startCallSpan(
  role: CallSpanRole,
  service: string,
  parent: Context,
  attributes?: Attributes,
): Span {
  const span = trace
    .getTracer(TRACER_NAME)
    .startSpan(
      `${role} ${service}`,
      { kind: KINDS[role], attributes: { "rpc.system": "beamhub", "rpc.service": service } },
      parent,
    );
  if (attributes !== undefined) span.setAttributes(attributes);
  return span;
}

/**
 * Ends `span`; with `error`, marks it failed: status ERROR with the error's message, the
 * exception event, and `error.type` set to the beamhub error code (`ETIMEOUT`, ...) or the
 * error's class name.
 */
export function endCallSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    const failure = error instanceof Error ? error : new Error(String(error));
    const code = (failure as { code?: unknown }).code;
    span.setAttribute("error.type", typeof code === "string" ? code : failure.name);
    span.recordException(failure);
    span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
  }
  span.end();
}

/**
 * Runs `run` inside a new span of `role` (a child of `parent`), giving it the span's context,
 * and ends the span when what `run` returns settles: at once for a value or a throw, later for a
 * promise. The span carries the outcome (see `endCallSpan`).
 */
export function inCallSpan<T>(
  role: CallSpanRole,
  service: string,
  parent: Context,
  run: (spanContext: Context) => T,
  attributes?: Attributes,
): T {
  const span = startCallSpan(role, service, parent, attributes);
  const inside = trace.setSpan(parent, span);
  let result: T;
  try {
    result = context.with(inside, run, undefined, inside);
  } catch (error) {
    endCallSpan(span, error);
    throw error;
  }
  if (!isThenable(result)) {
    endCallSpan(span);
    return result;
  }
  return Promise.resolve(result).then(
    (value) => {
      endCallSpan(span);
      return value;
    },
    (error: unknown) => {
      endCallSpan(span, error);
      throw error;
    },
  ) as T;
}
