import type { Broker } from "../federation/broker.js";
import { TASKS_SERVICE } from "../federation/names.js";
import type { Hub } from "../hub/hub.js";
import type { Registration } from "../hub/types.js";
import { classifyId } from "../tasks/beam-id.js";
import { InvalidTaskError, TaskForbiddenError } from "../tasks/errors.js";
import type { WaitCondition } from "../tasks/long-poll.js";
import type { TaskBroker } from "../tasks/task-broker.js";
import type { TaskQuery } from "../tasks/task-query.js";
import { sealedFromText } from "./sealed-text.js";

/** @internal One request of a site to the broker's `federation.tasks`, for one of its applications. */
export type FederatedTaskRequest = { app: string } & (
  | { op: "post"; task: unknown }
  | { op: "tasks"; query: TaskQuery; wait: WaitCondition }
  | { op: "task"; id: string; wait: WaitCondition }
  | { op: "results"; id: string; wait: WaitCondition }
  | { op: "put"; id: string; result: unknown }
);

/**
 * Offers `tasks` (the broker's own {@link TaskBroker}, open with `reachable: () => true` and a
 * log file, so that tasks survive a restart) to the federation's sites as `federation.tasks`.
 * A site acts for its applications only: the application's hub must be the hub the session's
 * certificate names (and `broker.site` refuses revoked ones). Bodies must be sealed: a site that
 * would store plaintext here is refused (400), so the broker never holds one.
 */
export function serveFederatedTasks(hub: Hub, tasks: TaskBroker, broker: Broker): Promise<Registration> {
  return hub.register<FederatedTaskRequest>(TASKS_SERVICE, async (request, context) => {
    const site = broker.site(context.caller.identity, TASKS_SERVICE);
    if (typeof request !== "object" || request === null)
      throw new InvalidTaskError("a federated task request must be an object");
    const { app } = request;
    const { kind, hub: home } = classifyId(app, tasks.hub.broker);
    if (kind !== "app" || home !== site)
      throw new TaskForbiddenError(`${site} may only act for its own applications, not for ${String(app)}`);
    switch (request.op) {
      case "post":
        mustBeSealed((request.task as { body?: unknown } | null)?.body);
        return tasks.post(app, request.task);
      case "tasks":
        return tasks.tasks(app, request.query ?? {}, request.wait ?? {}, context.signal);
      case "task":
        return tasks.task(app, request.id, request.wait ?? {}, context.signal);
      case "results":
        return tasks.results(app, request.id, request.wait ?? {}, context.signal);
      case "put":
        mustBeSealed((request.result as { body?: unknown } | null)?.body);
        return tasks.putResult(app, request.id, app, request.result);
      default:
        throw new InvalidTaskError(
          `unknown federated task operation ${JSON.stringify((request as { op?: unknown }).op)}`,
        );
    }
  });
}

function mustBeSealed(body: unknown): void {
  try {
    sealedFromText(body);
  } catch (error) {
    throw new InvalidTaskError(`a body stored at the broker must be sealed: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
