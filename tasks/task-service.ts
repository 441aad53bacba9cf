import type { HubClient, Registration } from "../hub/types.js";
import { InvalidTaskError } from "./errors.js";
import type { WaitCondition } from "./long-poll.js";
import type { TaskBroker, TaskQuery } from "./task-broker.js";

/** The service name a {@link TaskBroker} is offered under by default. */
export const TASK_SERVICE = "tasks";

/** @internal One request to the task service (see {@link TaskClient} for the calling side). */
export type TaskServiceRequest = { app: string; key: string; wait?: WaitCondition } & (
  | { op: "post"; task: unknown }
  | { op: "tasks"; query: TaskQuery }
  | { op: "task"; id: string }
  | { op: "results"; id: string }
  | { op: "put"; id: string; result: unknown }
);

/**
 * Offers `broker` as a beamhub service, so that applications reach tasks over any transport
 * (in-process, Unix, HTTPS, WebSocket) with the same rules as the REST face: each request
 * carries the application's id and key, checked like an `Authorization: ApiKey` header.
 */
export function serveTasks(hub: HubClient, broker: TaskBroker, name = TASK_SERVICE): Promise<Registration> {
  return hub.register<TaskServiceRequest>(name, async (request, context) => {
    if (typeof request !== "object" || request === null)
      throw new InvalidTaskError("a task request must be an object");
    const app = broker.keys.authenticate(`ApiKey ${String(request.app)} ${String(request.key)}`);
    const wait = request.wait ?? {};
    switch (request.op) {
      case "post":
        return broker.post(app, request.task);
      case "tasks":
        return broker.tasks(app, request.query ?? {}, wait, context.signal);
      case "task":
        return broker.task(app, request.id, wait, context.signal);
      case "results":
        return broker.results(app, request.id, wait, context.signal);
      case "put":
        return broker.putResult(app, request.id, app, request.result);
      default:
        throw new InvalidTaskError(
          `unknown task operation ${JSON.stringify((request as { op?: unknown }).op)}`,
        );
    }
  });
}
