import type { ConnectedHub } from "../index.js";

/**
 * For commands that reach a service later, per connection (`connect`, `run`): when no instance
 * of `name` is registered now, says so on stderr (a typo in the name would otherwise show only
 * as failing connections) and waits in the background for one, saying when it comes. Resolves
 * with a function that stops waiting. A hub that cannot answer the question is not an error
 * here: the connections will say what is wrong.
 */
export async function warnUntilRegistered(
  hub: ConnectedHub,
  name: string,
  hubText: string,
  log: (line: string) => void,
): Promise<() => void> {
  try {
    if ((await hub.list({ name })).length > 0) return () => undefined;
  } catch {
    return () => undefined;
  }
  log(
    `warning: no service ${name} is registered on ${hubText}: connections to it fail until one is; waiting for it`,
  );
  const stop = new AbortController();
  void (async () => {
    try {
      for await (const event of hub.watch({ name, signal: stop.signal })) {
        if (event.type !== "added") continue;
        log(`service ${name} is registered now (${event.service.id})`);
        return;
      }
    } catch {
      // The hub closed or we stopped: nothing more to say.
    }
  })();
  return () => stop.abort();
}
