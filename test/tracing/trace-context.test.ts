// W3C trace context as PROTOCOL.md "Trace context" specifies it: what parses, what is ignored,
// and the documented vectors' fields read back to the ids they show.
import { ROOT_CONTEXT, trace, TraceFlags } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { cborCodec } from "../../codecs/index.js";
import { splitRequestId, FrameDecoder } from "../../wire/frame.js";
import {
  extractTraceContext,
  formatTraceparent,
  injectTraceContext,
  parseTraceparent,
  type TraceCarrier,
} from "../../hub/tracing/trace-context.js";
import { bytesOf, frameVectors, plainRefHooks } from "../wire/protocol-doc.js";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

describe("traceparent", () => {
  it("parses version 00 and keeps only the sampled flag", () => {
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-01`)).toEqual({
      traceId: TRACE,
      spanId: SPAN,
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-00`)?.traceFlags).toBe(TraceFlags.NONE);
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-ff`)?.traceFlags).toBe(TraceFlags.SAMPLED);
  });

  it("reads a later version's four fields and ignores what it appends", () => {
    expect(parseTraceparent(`cc-${TRACE}-${SPAN}-01-what-the-future-holds`)?.spanId).toBe(SPAN);
  });

  it.each([
    ["not a string", 42],
    ["empty", ""],
    ["upper-case hex", `00-${TRACE.toUpperCase()}-${SPAN}-01`],
    ["an all-zero trace id", `00-${"0".repeat(32)}-${SPAN}-01`],
    ["an all-zero span id", `00-${TRACE}-${"0".repeat(16)}-01`],
    ["version ff", `ff-${TRACE}-${SPAN}-01`],
    ["version 00 with a fifth field", `00-${TRACE}-${SPAN}-01-extra`],
    ["a short trace id", `00-${TRACE.slice(1)}-${SPAN}-01`],
    ["too long", `cc-${TRACE}-${SPAN}-01-${"x".repeat(600)}`],
  ])("ignores %s (W3C: start a new trace, do not fail)", (_, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
    expect(extractTraceContext({ traceparent: value })).toBeUndefined();
  });

  it("keeps the valid tracestate entries and drops the rest", () => {
    const parsed = parseTraceparent(
      `00-${TRACE}-${SPAN}-01`,
      "congo=t61rcWkgMzE,bad key=1,rojo=00f067aa0ba902b7",
    );
    expect(parsed?.traceState?.serialize()).toBe("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-01`, "x".repeat(600))?.traceState?.serialize()).toBe("");
  });

  it("writes what it reads, and nothing for a context without a span", () => {
    const context = extractTraceContext({
      traceparent: `00-${TRACE}-${SPAN}-01`,
      tracestate: "congo=t61rcWkgMzE",
    })!;
    const carrier: TraceCarrier = {};
    injectTraceContext(context, carrier);
    expect(carrier).toEqual({ traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: "congo=t61rcWkgMzE" });
    const empty: TraceCarrier = {};
    injectTraceContext(ROOT_CONTEXT, empty);
    expect(empty).toEqual({});
    expect(formatTraceparent(trace.getSpanContext(context)!)).toBe(`00-${TRACE}-${SPAN}-01`);
  });
});

describe("PROTOCOL.md trace context vectors", () => {
  const vectors = frameVectors();
  it.each([
    ["a call carrying trace context", SPAN],
    ["the request the hub sends on the handler channel for it, naming its dispatch span", "b7ad6b7169203331"],
  ])("%s: the fields name the documented parent", (name, parentSpan) => {
    const vector = vectors.get(name);
    expect(vector, `PROTOCOL.md has the vector "${name}"`).toBeDefined();
    const [frame] = new FrameDecoder(1 << 24).push(bytesOf(vector!));
    const message = cborCodec.decode(splitRequestId(frame!).body, plainRefHooks) as TraceCarrier;
    const context = extractTraceContext(message)!;
    expect(trace.getSpanContext(context)).toMatchObject({
      traceId: TRACE,
      spanId: parentSpan,
      isRemote: true,
    });
    expect(trace.getSpanContext(context)?.traceState?.get("congo")).toBe("t61rcWkgMzE");
  });
});
