import type { ByteStream } from "../model/byte-stream.js";
import type { CallContext, HubClient, Registration } from "../hub/types.js";
import { InvalidTaskError } from "./errors.js";
import type { WaitCondition } from "./long-poll.js";
import type { TaskBroker, TaskQuery } from "./task-broker.js";

/** The service name a {@link TaskBroker} is offered under by default. */
export const TASK_SERVICE = "tasks";

/**
 * @internal One request to the task service (see {@link TaskClient} for the calling side).
 * Without `key`, the session's own identity must be mapped to `app` (`TaskBrokerOptions.identities`).
 */
export type TaskServiceRequest = { app: string; key?: string; wait?: WaitCondition } & (
  | { op: "post"; task: unknown }
  | { op: "tasks"; query: TaskQuery }
  | { op: "task"; id: string }
  | { op: "results"; id: string }
  | { op: "put"; id: string; result: unknown }
  | { op: "socket"; to: string; metadata?: unknown }
  | { op: "sockets" }
  | { op: "accept"; id: string }
);

/** @internal The answer to `socket` and `accept`: the socket task's id and this side's end. */
export interface SocketReply {
  id: string;
  stream: ByteStream;
}

/**
 * Offers `broker` as a beamhub service, so that applications reach tasks over any transport
 * (in-process, Unix, HTTPS, WebSocket) with the same rules as the REST face: each request
 * carries the application's id and key, checked like an `Authorization: ApiKey` header — or
 * no key, and then the session's identity must be one the broker maps to that application.
 */
export function serveTasks(hub: HubClient, broker: TaskBroker, name = TASK_SERVICE): Promise<Registration> {
  return hub.register<TaskServiceRequest>(name, async (request, context) => {
    if (typeof request !== "object" || request === null)
      throw new InvalidTaskError("a task request must be an object");
    const app = authenticate(broker, request, context);
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
      case "socket": {
        let mine: ByteStream | undefined;
        const end = { kind: "stream", deliver: (stream: ByteStream) => (mine = stream) } as const;
        const id = await broker.sockets.request(
          app,
          request.to,
          request.metadata ?? null,
          end,
          context.signal,
        );
        return { id, stream: mine! } satisfies SocketReply;
      }
      case "sockets":
        return broker.sockets.list(app, wait, context.signal);
      case "accept": {
        let mine: ByteStream | undefined;
        broker.sockets.join(app, String(request.id), {
          kind: "stream",
          deliver: (stream) => (mine = stream),
        });
        return { id: request.id, stream: mine! } satisfies SocketReply;
      }
      default:
        throw new InvalidTaskError(
          `unknown task operation ${JSON.stringify((request as { op?: unknown }).op)}`,
        );
    }
  });
}

/** The application a request acts as: proven by its key, or by the session's mapped identity. */
function authenticate(broker: TaskBroker, request: TaskServiceRequest, context: CallContext): string {
  if (request.key === undefined || request.key === null)
    return broker.identities.authenticate(String(request.app), context.caller.identity);
  return broker.keys.authenticate(`ApiKey ${String(request.app)} ${String(request.key)}`);
}
