/**
 * The HTTP face of a beamhub server: every path, header and media type a client or proxy
 * sees. Everything lives under one versioned prefix so a hub can share a server with other
 * routes (see `attachHub`).
 */

/** The prefix of every beamhub route. */
export const BASE_PATH = "/beamhub/v1";

/** HTTP/2: `POST` opens a session; the request and response bodies carry PROTOCOL.md frames. */
export const SESSION_PATH = `${BASE_PATH}/session`;

/** HTTP/1.1 upgrade to a WebSocket carrying the same frames in binary messages. */
export const WEBSOCKET_PATH = `${BASE_PATH}/ws`;

/** `POST <CALL_PATH>/<service name>` with a JSON body: one call, for curl and friends. */
export const CALL_PATH = `${BASE_PATH}/call/`;

/**
 * `GET <PUBSUB_PATH><percent-encoded channel>`: follow a pub/sub channel as server-sent events;
 * `POST` with a JSON body publishes to it.
 */
export const PUBSUB_PATH = `${BASE_PATH}/pubsub/`;

/** `GET` lists the registered services as JSON. */
export const SERVICES_PATH = `${BASE_PATH}/services`;

/** Media type of a session's bodies: a byte stream of PROTOCOL.md frames. */
export const SESSION_CONTENT_TYPE = "application/beamhub";

/** The WebSocket subprotocol of the session protocol, version 1. */
export const WEBSOCKET_PROTOCOL = "beamhub.v1";

/**
 * A WebSocket subprotocol of the form `beamhub.token.<base64url token>` carries a bearer token
 * for clients that cannot set headers (browsers).
 */
export const TOKEN_PROTOCOL_PREFIX = "beamhub.token.";

/** Query parameter that may carry a bearer token on the WebSocket path (browsers). */
export const TOKEN_QUERY = "access_token";

/** Request header with a call's timeout in milliseconds (the curl mapping). */
export const TIMEOUT_HEADER = "beamhub-timeout";
