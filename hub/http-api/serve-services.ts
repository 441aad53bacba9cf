import type { Hub } from "../hub.js";
import type { Identity } from "../types.js";
import {
  sendError,
  sendJson,
  type ApiRequest,
  type ApiResponse,
} from "../../transports/http2/http-replies.js";

/** `GET /beamhub/v1/services[?prefix=...&name=...]`: the registered instances as JSON. */
export async function serveServices(
  hub: Hub,
  query: URLSearchParams,
  request: ApiRequest,
  response: ApiResponse,
  identity: Identity | undefined,
  remoteAddress?: string,
): Promise<void> {
  if (request.method !== "GET") {
    return sendJson(response, 405, { name: "MethodNotAllowed", message: "use GET", code: "EMETHOD" });
  }
  const session = hub.session({ identity, peer: { transport: "http", remoteAddress } });
  try {
    const filter: { prefix?: string; name?: string } = {};
    const prefix = query.get("prefix");
    const name = query.get("name");
    if (prefix !== null) filter.prefix = prefix;
    if (name !== null) filter.name = name;
    sendJson(response, 200, await session.list(filter));
  } catch (error) {
    sendError(response, error);
  } finally {
    void session.close();
  }
}
