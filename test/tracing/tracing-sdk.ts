// An OpenTelemetry SDK for the tracing tests, as a user would install one: a tracer provider with
// an in-memory exporter and the AsyncLocalStorage context manager, registered globally.
import { context, trace, type SpanKind } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from "@opentelemetry/sdk-trace-base";

/** What the tests compare of a finished span (also what a peer process prints of its spans). */
export interface SpanRecord {
  name: string;
  kind: SpanKind;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  status: number;
  attributes: Record<string, unknown>;
}

export function recordOf(span: ReadableSpan): SpanRecord {
  const { traceId, spanId } = span.spanContext();
  return {
    name: span.name,
    kind: span.kind,
    traceId,
    spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    status: span.status.code,
    attributes: { ...span.attributes },
  };
}

export interface InstalledSdk {
  /** The spans finished so far. */
  spans(): SpanRecord[];
  reset(): void;
  /** Unregisters the provider and the context manager. */
  uninstall(): Promise<void>;
}

export function installSdk(): InstalledSdk {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  trace.setGlobalTracerProvider(provider);
  return {
    spans: () => exporter.getFinishedSpans().map(recordOf),
    reset: () => exporter.reset(),
    uninstall: async () => {
      trace.disable();
      context.disable();
      await provider.shutdown();
    },
  };
}
