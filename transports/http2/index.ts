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
export type { Authenticate, PeerInfo, SessionLimits } from "./options.js";
export type { HttpsRefusal } from "./refusal-log.js";
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
