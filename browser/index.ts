/**
 * beamhub in the browser: the client over the WebSocket fallback, and what page code needs to
 * talk to services — channels, byte streams, errors. Bundled by browser/build.ts into
 * dist/browser/beamhub.js (ESM).
 *
 * ```js
 * import { connectBrowser, Channel, ByteStream } from "./beamhub.js";
 * const hub = await connectBrowser("wss://hub.example:8443", { token });
 * console.log(await hub.list(), await hub.call("echo", { hello: "browser" }));
 * ```
 */
export {
  BROWSER_DEFAULTS,
  BrowserRemoteHub,
  connectBrowser,
  webSocketUrl,
  type ConnectBrowserOptions,
} from "./client.js";
export {
  browserWebSocketTransport,
  type WebSocketConstructor,
  type WebSocketLike,
} from "./websocket-transport.js";
export { RemoteHub } from "../hub/remote/remote-hub.js";
export { ByteStream, type ByteStreamOptions } from "../model/byte-stream.js";
export { Cancellation, type Cancelable } from "../model/cancellation.js";
export {
  Channel,
  ChannelMessage,
  IncomingRequest,
  type ChannelHandler,
  type ChannelRequestContext,
  type ChannelRequestOptions,
} from "../model/channel.js";
// Every error class of the message model and the session, from the one module that holds them.
export * from "../wire/error-classes.js";
export { AuthenticationError } from "../transports/http2/errors.js";
export { cborCodec } from "../codecs/cbor.js";
export { jsonCodec } from "../codecs/json.js";
export type { Codec } from "../codecs/reference.js";
export type * from "../hub/types.js";
