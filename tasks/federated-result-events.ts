import { TaskNotFoundError } from "./errors.js";
import { MAX_WAIT_MS, type WaiterBudget, type WaitCondition } from "./long-poll.js";
import type { TaskFederation } from "./task-federation.js";
import type { ResultEvent } from "./task-query.js";

/**
 * How long one long poll of a federated result stream waits at most. A poll for "one more
 * answer" wakes at once for an answer, but not for a claim (claims do not count), so claims
 * reach the stream within this time; one call per second per open stream is cheap.
 */
const POLL_MS = 1000;

/**
 * A task's results as events (Samply's SSE) when the results are kept by a federation's
 * broker: the same events in the same order as `TaskBroker.resultEvents` gives for local tasks,
 * made of long polls through the broker (the session to the broker carries calls, not event
 * streams of another hub's store).
 */
export async function* federatedResultEvents(
  federation: TaskFederation,
  app: string,
  id: string,
  wait: WaitCondition,
  waiters: WaiterBudget,
  signal?: AbortSignal,
): AsyncGenerator<ResultEvent> {
  const leave = waiters.enter();
  // What was sent per worker, as JSON: an updated result is sent again, an unchanged one not.
  const sent = new Map<string, string>();
  let counted = 0;
  const deadline =
    Date.now() + Math.min(wait.timeMs ?? (wait.count === undefined ? 0 : MAX_WAIT_MS), MAX_WAIT_MS);
  try {
    for (let first = true; ; first = false) {
      const left = deadline - Date.now();
      let answer;
      try {
        answer = await federation.results(
          app,
          id,
          first || left <= 0 ? {} : { count: counted + 1, timeMs: Math.min(left, POLL_MS) },
          signal,
        );
      } catch (error) {
        // Gone after it was there: it expired while we waited, as the local stream reports it.
        if (!first && error instanceof TaskNotFoundError) {
          yield { event: "wait_expired", data: "Task expired" };
          return;
        }
        throw error;
      }
      for (const result of answer.items) {
        const text = JSON.stringify(result);
        if (sent.get(result.from) === text) continue;
        sent.set(result.from, text);
        yield { event: "new_result", data: result };
        if (result.status !== "claimed") counted++;
        if (wait.count !== undefined && counted >= wait.count) return;
      }
      if (Date.now() >= deadline || signal?.aborted === true) {
        if (wait.timeMs !== undefined) yield { event: "wait_expired", data: null };
        return;
      }
    }
  } finally {
    leave();
  }
}
