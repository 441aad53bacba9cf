import type { TaskBroker } from "../task-broker.js";
import {
  clientGone,
  decodeSegment,
  header,
  readJson,
  sendJson,
  sendText,
  waitCondition,
  type HttpRequest,
  type HttpResponse,
} from "./http-exchange.js";
import { errorAnswer } from "./error-answer.js";
import { TaskError } from "../errors.js";
import { isReportedRefusal, noteRefusal } from "../../transports/http2/refusal-log.js";
import { streamResultEvents } from "./result-events.js";
import { serveProxyHealth, type ProxyHealth } from "./proxy-health.js";
import { isSocketPath, serveSocketRoute } from "./socket-routes.js";

/** Options of `taskRoutes`: what the health routes report besides the hub itself. */
export interface TaskRoutesOptions {
  /** The hubs connected to this one (a federation's broker: `Broker.health`). */
  proxies?: ProxyHealth;
  /**
   * The password of `GET /v1/health/proxies/<id>` (Basic auth, any user), as Samply's broker
   * takes `MONITORING_API_KEY`; without it that route answers 501.
   */
  monitoringKey?: string;
}

/** Handles one request; resolves to false when the path is not one of these routes. */
export type TaskRoutes = (request: HttpRequest, response: HttpResponse) => Promise<boolean>;

const TASKS = /^\/v1\/tasks\/?$/;
const TASK = /^\/v1\/tasks\/([^/]+)$/;
const RESULTS = /^\/v1\/tasks\/([^/]+)\/results\/?$/;
const RESULT = /^\/v1\/tasks\/([^/]+)\/results\/([^/]+)$/;

/**
 * Samply.Beam's REST face (its paths, status codes and bodies; `../shared/reference/
 * samply-beam-spec.md` §§ 2–9, and its sockets) over a {@link TaskBroker}, for node:http and node:http2 servers
 * alike. Not copied from Samply: a bad `from` is never a reason to exit, and a request for one
 * unknown task without `wait_time` answers 404 at once instead of blocking an hour.
 */
export function taskRoutes(broker: TaskBroker, options: TaskRoutesOptions = {}): TaskRoutes {
  return async (request, response) => {
    const url = new URL(request.url ?? "/", "http://hub");
    const path = url.pathname;
    if (path === "/v1/health") {
      if (request.method !== "GET") return methodNotAllowed(response, "GET");
      sendJson(response, 200, { summary: "healthy", id: broker.hub.id });
      return true;
    }
    if (path.startsWith("/v1/health/proxies"))
      return serveProxyHealth(request, response, path, options.proxies, options.monitoringKey);
    if (isSocketPath(path)) {
      try {
        const app = broker.keys.authenticate(header(request.headers, "authorization"));
        await serveSocketRoute(broker, app, request, response, url);
      } catch (error) {
        answerError(response, error);
      }
      return true;
    }
    if (!path.startsWith("/v1/tasks")) return false;
    try {
      const app = broker.keys.authenticate(header(request.headers, "authorization"));
      const method = request.method ?? "GET";
      const wait = (): ReturnType<typeof waitCondition> => waitCondition(url.searchParams);
      let match: RegExpExecArray | null;
      if (TASKS.test(path)) {
        if (method === "POST") {
          const task = await broker.post(app, await readJson(request, broker.limits.maxBodyBytes));
          response.writeHead(201, { location: `/v1/tasks/${task.id}`, "content-length": 0 });
          response.end();
        } else if (method === "GET") {
          const filter = url.searchParams.get("filter");
          if (filter !== null && filter !== "todo") return badRequest(response, `unknown filter "${filter}"`);
          const query = {
            from: url.searchParams.get("from") ?? undefined,
            to: url.searchParams.get("to") ?? undefined,
            todo: filter === "todo",
          };
          const answer = await broker.tasks(app, query, wait(), clientGone(response));
          sendJson(response, answer.partial ? 206 : 200, answer.items);
        } else return methodNotAllowed(response, "GET, POST");
      } else if ((match = TASK.exec(path)) !== null) {
        if (method !== "GET") return methodNotAllowed(response, "GET");
        sendJson(
          response,
          200,
          await broker.task(app, decodeSegment(match[1]!), wait(), clientGone(response)),
        );
      } else if ((match = RESULTS.exec(path)) !== null) {
        if (method !== "GET") return methodNotAllowed(response, "GET");
        const id = decodeSegment(match[1]!);
        if (
          (header(request.headers, "accept") ?? "")
            .split(",")
            .some((type) => type.trim().startsWith("text/event-stream"))
        ) {
          await streamResultEvents(response, broker.resultEvents(app, id, wait(), clientGone(response)));
        } else {
          const answer = await broker.results(app, id, wait(), clientGone(response));
          sendJson(response, answer.partial ? 206 : 200, answer.items);
        }
      } else if ((match = RESULT.exec(path)) !== null) {
        if (method !== "PUT") return methodNotAllowed(response, "PUT");
        const body = await readJson(request, broker.limits.maxBodyBytes);
        const outcome = await broker.putResult(app, decodeSegment(match[1]!), decodeSegment(match[2]!), body);
        response.writeHead(outcome === "created" ? 201 : 204, { "content-length": 0 });
        response.end();
      } else {
        sendText(response, 404, "");
      }
    } catch (error) {
      answerError(response, error);
    }
    return true;
  };
}

/**
 * A request listener for a server of its own (node:http or node:http2): the task routes, and
 * 404 for any other path.
 */
export function taskRequestListener(
  broker: TaskBroker,
  options: TaskRoutesOptions = {},
): (request: HttpRequest, response: HttpResponse) => void {
  const routes = taskRoutes(broker, options);
  return (request, response) => {
    routes(request, response).then(
      (handled) => {
        if (!handled) sendText(response, 404, "");
      },
      () => response.destroy(),
    );
  };
}

function answerError(response: HttpResponse, error: unknown): void {
  if (response.headersSent) {
    response.destroy(error instanceof Error ? error : undefined);
    return;
  }
  const answer = errorAnswer(error);
  // Why, for the listener's refusal report (the peer reads the same message).
  if (error instanceof TaskError && isReportedRefusal(answer.status))
    noteRefusal(response, { code: error.code, reason: error.message });
  const body = Buffer.from(answer.body);
  response.writeHead(answer.status, { ...answer.headers, "content-length": body.length });
  response.end(body);
}

function badRequest(response: HttpResponse, message: string): true {
  sendText(response, 400, message);
  return true;
}

function methodNotAllowed(response: HttpResponse, allow: string): true {
  sendText(response, 405, "", { allow });
  return true;
}
