/**
 * The cost of tracing on the in-process call path, in one run: `hub.call` with no OpenTelemetry
 * SDK registered (beamhub then makes no span and no context) against the same calls with an SDK
 * registered (BasicTracerProvider, every span sampled and recorded, exported in batches to an
 * exporter that drops them, AsyncLocalStorage context manager). The SDK is registered only while
 * its contender runs, so rounds interleave.
 *
 *   npx tsx bench/tracing.ts
 */
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { Hub } from "../index.js";
import { measure, report, type Contender } from "./harness.js";

const payload = { user: "ada", action: "lookup", id: 42 };

/** Accepts every span and keeps none: the cost measured is beamhub's and the SDK's, not export. */
const discard: SpanExporter = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: () => Promise.resolve(),
};

async function main(): Promise<void> {
  const hub = new Hub();
  await hub.register("echo", (data: unknown) => data);
  await hub.register("echo.async", async (data: unknown) => data);
  const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(discard)] });
  const manager = new AsyncLocalStorageContextManager();

  const sequential = (name: string) => async (count: number) => {
    for (let i = 0; i < count; i++) await hub.call(name, payload);
  };
  const withSdk = (run: (count: number) => Promise<void>) => async (count: number) => {
    context.setGlobalContextManager(manager.enable());
    trace.setGlobalTracerProvider(provider);
    try {
      await run(count);
    } finally {
      trace.disable();
      context.disable();
    }
  };
  const contenders: Contender[] = [
    { name: "hub.call sync, no SDK", run: sequential("echo") },
    { name: "hub.call sync, SDK recording", run: withSdk(sequential("echo")) },
    { name: "hub.call async, no SDK", run: sequential("echo.async") },
    { name: "hub.call async, SDK recording", run: withSdk(sequential("echo.async")) },
    // The SDK's own floor: one span started and ended in a context, no hub.
    {
      name: "SDK alone: one span in a context",
      run: withSdk(async (count) => {
        const tracer = trace.getTracer("bench");
        for (let i = 0; i < count; i++) {
          await tracer.startActiveSpan("span", async (span) => {
            await Promise.resolve(payload);
            span.end();
          });
        }
      }),
    },
  ];
  const count = Number(process.env.BENCH_COUNT ?? 100_000);
  const results = await measure(contenders, count);
  console.log(
    report(
      `in-process hub.call with and without an OpenTelemetry SDK (${count} sequential calls × 5 rounds, median)`,
      results,
      "hub.call sync, no SDK",
      "calls/s",
    ),
  );
  await provider.shutdown();
  await hub.close();
}

await main();
