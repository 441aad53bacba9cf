/**
 * The last line of defence of a server process: a promise rejection nobody handled is logged,
 * once per distinct message per minute, and the process goes on serving. Node's default ends
 * the process, so one such bug anywhere reachable by a peer would take every session down with
 * it (a malformed call once did). Every path a peer can reach handles its rejections and the
 * fuzz tests check that this line never appears; it exists so that a bug we missed costs one
 * request, not the hub. Uncaught exceptions still end the process: state after a synchronous
 * throw in the middle of an update cannot be trusted.
 */
export function logUnhandledRejections(log: (line: string) => void): () => void {
  const recent = new Map<string, number>();
  const onRejection = (reason: unknown): void => {
    const text =
      reason instanceof Error ? (reason.stack ?? `${reason.name}: ${reason.message}`) : String(reason);
    const now = Date.now();
    const last = recent.get(text);
    if (last !== undefined && now - last < 60_000) return;
    if (recent.size > 100) recent.clear();
    recent.set(text, now);
    log(`internal error: unhandled promise rejection (the hub keeps serving; please report): ${text}`);
  };
  process.on("unhandledRejection", onRejection);
  return () => process.off("unhandledRejection", onRejection);
}
