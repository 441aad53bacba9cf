export { attachHub, type AttachedHub } from "./attach.js";
export type { ConnectHttpsOptions } from "./client-options.js";
export { connectHttps, HttpsRemoteHub } from "./connect.js";
export {
  certificateCovers,
  createDevCertificate,
  DEV_CERTIFICATE_HOSTS,
  loadOrCreateDevCertificate,
  type CertificatePair,
  type DevCertificate,
  type DevCertificateOptions,
} from "./dev-certificate.js";
export {
  AuthenticationError,
  ConnectError,
  SessionRefusedError,
  TlsError,
  TransportUnavailableError,
} from "./errors.js";
export { MAX_CALL_TIMEOUT } from "./http-api.js";
export { listenHttps, type HttpsListener, type ListenHttpsOptions } from "./listen.js";
export type { Authenticate, HubServerOptions, PeerInfo, SessionLimits } from "./options.js";
export {
  CALL_PATH,
  SERVICES_PATH,
  SESSION_CONTENT_TYPE,
  SESSION_PATH,
  TIMEOUT_HEADER,
  WEBSOCKET_PATH,
  WEBSOCKET_PROTOCOL,
} from "./paths.js";
export { HTTP2_TUNING } from "./tuning.js";
