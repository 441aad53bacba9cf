// A replicated JetStream KV bucket for cluster tests. Right after a cluster starts (or loses a
// node), JetStream is still electing its meta and stream leaders: the create request then fails
// with 10008 "JetStream system temporarily unavailable", a 503 / no responders, or a timeout
// (nats.zig#130 describes the race). Those are retried here, with a bounded total time; any other
// error (a bad name, a conflicting config) is thrown at once.
import type { NatsConnection } from "@nats-io/transport-node";
import { Kvm, type KV, type KvOptions } from "@nats-io/kv";
import { NatsHarnessError, sleep } from "./nats-server.js";

/** Options of {@link createReplicatedKv}: any KV option, plus the time limit. */
export interface ReplicatedKvOptions extends Partial<KvOptions> {
  /** Replicas of the bucket's stream. Default 3. */
  replicas?: number;
  /** How long to keep retrying through leader elections. Default 30 s. */
  timeoutMs?: number;
}

/**
 * Creates (or opens, when it exists with the same config) the KV `bucket` with `replicas`
 * (default 3) through `nc`, retrying while JetStream elects leaders. Throws NATS_KV_FAILED (with
 * the last error as `cause`) after `timeoutMs`, or the first error that is not an election one.
 */
export async function createReplicatedKv(
  nc: NatsConnection,
  bucket: string,
  options: ReplicatedKvOptions = {},
): Promise<KV> {
  const { timeoutMs = 30_000, ...kvOptions } = options;
  const deadline = Date.now() + timeoutMs;
  const kvm = new Kvm(nc);
  for (let attempt = 0; ; attempt++) {
    try {
      return await kvm.create(bucket, { replicas: 3, ...kvOptions });
    } catch (error) {
      if (!isElectionError(error)) throw error;
      if (Date.now() > deadline) {
        throw new NatsHarnessError(
          "NATS_KV_FAILED",
          `KV bucket ${bucket} (replicas ${kvOptions.replicas ?? 3}) not created within ${timeoutMs} ms: ${(error as Error).message}`,
          { cause: error },
        );
      }
      await sleep(Math.min(100 * 2 ** attempt, 1000));
    }
  }
}

/**
 * Whether `error` (or one of its causes) means "JetStream is between leaders, ask again": API
 * error 10008, status 503, no responders (nats.js reports it as JetStreamNotEnabled), a timeout.
 */
export function isElectionError(error: unknown): boolean {
  for (let at: unknown = error, depth = 0; at instanceof Error && depth < 5; at = at.cause, depth++) {
    const { code, status } = at as { code?: unknown; status?: unknown };
    if (code === 10008 || status === 503 || code === "503") return true;
    if (["JetStreamNotEnabled", "NoRespondersError", "TimeoutError"].includes(at.name)) return true;
  }
  return false;
}
