/**
 * beamhub — a Beam-style service hub. This is the public entry point: what the README and a
 * program using beamhub need, each name listed on purpose. Codecs are in `beamhub/codecs`, Beam's
 * key → values format in `beamhub/kv`; the plumbing the package's own command and tests use is
 * in `beamhub/internal`, which makes no promise between versions.
 *
 * @packageDocumentation
 */

// The hub, in this process.
export { Hub, type AccessRules, type HubObserver, type HubOptions, type SlowCall } from "./hub/hub.js";
export type { Session, SessionOptions, SessionPeer } from "./hub/session.js";
export type {
  IdentitySummary,
  SessionInfo,
  SessionTraffic,
  SessionTransport,
} from "./hub/stats/session-info.js";
export type { HubStats, InstanceInfo, ServiceStats } from "./hub/stats/hub-stats.js";
export type { CallCounts, CallOutcome } from "./hub/stats/call-stats.js";
export { LATENCY_BUCKETS_MS, quantileOf, type LatencySnapshot } from "./hub/stats/latency-histogram.js";
export { validateLabels, validateName, type Labels } from "./hub/names.js";
export type {
  CallContext,
  CallerInfo,
  CallOptions,
  Handler,
  HubClient,
  Identity,
  Middleware,
  MiddlewareContext,
  RegisterOptions,
  Registration,
  ServiceFilter,
  ServiceInfo,
  Watch,
  WatchEvent,
  WatchOptions,
  HubSubscribeOptions,
  HubSubscription,
  Published,
  HubPublishOptions,
  Broadcast,
} from "./hub/types.js";

// Pub/sub: named channels with history, on every hub (`hub.publish`, `hub.subscribe`, `hub.pubsub`).
export {
  PubSub,
  PubSubLog,
  isLagged,
  isValidChannelName,
  verifyChannelName,
  MAX_CHANNEL_LENGTH,
  PUBSUB_DEFAULTS,
} from "./pubsub/index.js";
export type {
  ChannelInfo,
  HistoryLimits,
  LagPolicy,
  Lagged,
  PubSubFigures,
  PubSubMessage,
  PubSubLogOptions,
  PubSubOptions,
  SubscribeOptions,
  Subscription,
} from "./pubsub/index.js";

// What a message can carry.
export {
  ByteStream,
  type ByteStreamOptions,
  type ByteStreamPort,
  type ByteStreamSink,
} from "./model/byte-stream.js";
export type { Cancelable } from "./model/cancellation.js";
export {
  Channel,
  ChannelMessage,
  IncomingRequest,
  type ChannelHandler,
  type ChannelOptions,
  type ChannelRequestContext,
  type ChannelRequestOptions,
} from "./model/channel.js";
export { FileDescriptor, type DescriptorKind, type DescriptorValue } from "./model/file-descriptor.js";

// Errors: every class of the message model and the session comes from the one module that holds
// them (so a new one needs no line here); the others are their layer's.
export * from "./wire/error-classes.js";
export { FdError, FdUnavailableError } from "./fd/errors.js";
export {
  AuthenticationError,
  SessionRefusedError,
  TlsError,
  TransportUnavailableError,
} from "./transports/http2/errors.js";
export { MemoryAddressError } from "./hub/remote/memory.js";
export { UnsafeSocketPathError } from "./transports/unix/socket-directory.js";
export {
  ReconnectGaveUpError,
  ReconnectTimeoutError,
  RequestInterruptedError,
} from "./hub/remote/reconnect-errors.js";
export {
  GatewayError,
  GatewayProtocolError,
  InvalidAddressError,
  UpstreamError,
  type UpstreamErrorDetails,
} from "./gateway/errors.js";

// A session's settings, whatever the transport.
export { DEFAULT_CONFIG, type ConnectionOptions } from "./wire/config.js";
export { MemoryBudget } from "./wire/memory-budget.js";

// Any transport, by the address's scheme (memory:, unix:///path, https://, wss://).
export { connect, type ConnectOptions } from "./hub/connect.js";
export { listen, type HubListener, type ListenOptions } from "./hub/listen.js";
export { HubUrlError, UnknownSchemeError } from "./hub/hub-url.js";
export type { ConnectedHub } from "./hub/remote/connected-hub.js";

// In one process.
export { connectMemory, listenMemory, MemoryHub, memoryHubAt } from "./hub/remote/memory.js";

// Across processes: a Unix socket, descriptors included, and direct channels.
export { connectUnix, type UnixConnectOptions } from "./hub/remote/connect-unix.js";
export { listenUnix } from "./hub/remote/listen-unix.js";
export type { UnixListener, UnixListenOptions } from "./transports/unix/unix-listener.js";
export type { UnixConnectionRefusal } from "./transports/unix/connection-limits.js";
export {
  hasUnixCredentials,
  peerCredentialsAvailable,
  type UnixIdentity,
} from "./hub/remote/unix-identity.js";
export { fdPassingAvailable } from "./fd/addon.js";
export type { PeerCredentials } from "./fd/fd-socket.js";
export { acceptDirect, connectDirect, type DirectService } from "./hub/remote/direct.js";

// Across machines: HTTPS (HTTP/2, with a WebSocket fallback).
export { listenHttps, type HttpsListener, type ListenHttpsOptions } from "./hub/remote/listen-https.js";
export type { UpgradeHandler } from "./transports/http2/listen.js";
export { connectHttps, HttpsRemoteHub, type ConnectHttpsOptions } from "./hub/remote/connect-https.js";
export { attachHub, type AttachedHub } from "./hub/remote/attach-https.js";
export type { HubServerOptions } from "./hub/remote/https-handlers.js";
export { PUBSUB_HTTP_DEFAULTS, type PubSubHttpOptions } from "./hub/http-api/pubsub-sse.js";
export { DASHBOARD_DEFAULTS, type DashboardOptions } from "./hub/dashboard/dashboard-routes.js";
export type { DashboardSnapshot, ServiceRow } from "./hub/dashboard/dashboard-snapshot.js";
export { extractTraceContext, injectTraceContext, type TraceCarrier } from "./hub/tracing/trace-context.js";
export type { Authenticate, PeerInfo, SessionLimits } from "./transports/http2/options.js";
export type { HttpsRefusal, RefusalStatus } from "./transports/http2/refusal-log.js";
export {
  createDevCertificate,
  loadOrCreateDevCertificate,
  type CertificatePair,
  type DevCertificate,
  type DevCertificateOptions,
} from "./transports/http2/dev-certificate.js";

// A hub in another process: the client every transport's connect returns, and its reconnection.
export {
  DEFAULT_RECONNECT_WAIT,
  RemoteHub,
  type RemoteHubOptions,
  type RemoteHubState,
} from "./hub/remote/remote-hub.js";
export {
  DisconnectedEvent,
  GaveUpEvent,
  ReconnectedEvent,
  type RemoteHubEventMap,
  type ReRegistration,
  type ReRegistrationFailure,
} from "./hub/remote/remote-hub-events.js";
export { RECONNECT_DEFAULTS, type ReconnectOptions } from "./hub/remote/reconnect-options.js";
export type { RemoteWatch, RemoteWatchEvent } from "./hub/remote/remote-watch.js";

// The TCP gateway.
export { exposeTcp, type ExposeTcpOptions, type ExposureStats, type TcpExposure } from "./gateway/expose.js";
export {
  connectTcp,
  LocalPortForward,
  type ConnectorStats,
  type ConnectTcpOptions,
  type GatewayMode,
  type TcpConnector,
} from "./gateway/connect.js";
export { handoffEnvironment } from "./gateway/handoff-library.js";
export type { GatewayLog } from "./gateway/types.js";

// Tasks: Samply.Beam's task pattern (REST face, long polls, SSE) and the same from TypeScript.
export {
  TaskBroker,
  type ResultEvent,
  type TaskBrokerLimits,
  type TaskBrokerOptions,
  type TaskQuery,
} from "./tasks/task-broker.js";
export {
  TaskClient,
  type IncomingSocketsOptions,
  type NewResult,
  type NewTask,
  type SocketOptions,
  type TaskCredentials,
  type TodoOptions,
} from "./tasks/task-client.js";
export { SocketBroker, type SocketLimits, type SocketTask } from "./tasks/sockets/socket-broker.js";
export {
  socketUpgradeListener,
  taskUpgradeListener,
  type TaskUpgradeOptions,
} from "./tasks/rest/socket-routes.js";
export { serveTasks, TASK_SERVICE } from "./tasks/task-service.js";
export {
  taskRequestListener,
  taskRoutes,
  type TaskRoutes,
  type TaskRoutesOptions,
} from "./tasks/rest/task-routes.js";
export type { ProxyHealth } from "./tasks/rest/proxy-health.js";
export {
  listenTasksHttp,
  type ListenTasksHttpOptions,
  type TasksHttpListener,
} from "./tasks/rest/listen-http.js";
export type { FailureStrategy, Task, TaskResult, WorkStatus } from "./tasks/messages.js";
export type { PollAnswer, WaitCondition } from "./tasks/long-poll.js";
export {
  InvalidTaskError,
  SocketGoneError,
  TaskError,
  TaskExistsError,
  TaskForbiddenError,
  TaskLimitError,
  TaskNotFoundError,
  TaskUnauthorizedError,
  UnreachableRecipientsError,
  UpgradeRequiredError,
} from "./tasks/errors.js";
export { TaskLogLockedError } from "./tasks/log-lock.js";

// Federation: a small PKI for hub certificates, and bodies sealed between hubs.
export {
  CertificateAuthority,
  type AuthorityInitOptions,
  type HubCredentials,
  type IssuedCertificate,
} from "./federation/pki/authority.js";
export { createHubRequest, type HubRequest } from "./federation/pki/enrollment.js";
export { TrustStore, type VerifiedHub } from "./federation/pki/trust-store.js";
export {
  AuthorityFilesError,
  CertificateError,
  CertificateExpiredError,
  CertificateRevokedError,
  PkiError,
} from "./federation/pki/errors.js";
export {
  seal,
  open as openSealed,
  type SealedBody,
  type SealOptions,
  type OpenOptions,
  type SealRecipient,
} from "./federation/seal/seal.js";
export { createSealingKey, verifySealingKey, type SealingKeyRecord } from "./federation/seal/sealing-key.js";
export {
  DEFAULT_SEALING_KEY_KEEP_MS,
  retiredKeysFromJson,
  retiredKeysToJson,
  SealingKeyDroppedError,
  sealingKeyId,
  SealingKeyring,
  type RetiredSealingKey,
  type RetiredSealingKeysFile,
} from "./federation/seal/sealing-keyring.js";
export { ReplayGuard, type ReplayGuardOptions } from "./federation/seal/replay-guard.js";
export { ReplayError, SealError, SignatureError } from "./federation/seal/errors.js";
export { serveBroker, type Broker, type BrokerOptions, type ConnectedSite } from "./federation/broker.js";
export {
  joinFederation,
  type BrokerStatus,
  type FederationSite,
  type JoinFederationOptions,
  type SiteKeys,
} from "./federation/site.js";
export {
  brokerRefusalOf,
  describeBrokerRefusal,
  type BrokerRefusal,
  type BrokerRefusalReason,
} from "./federation/broker-refusal.js";
export { REFUSAL_BACKOFF_DEFAULTS, type RefusalBackoffOptions } from "./federation/refusal-backoff.js";
export { TunnelAuthError, TunnelHandshakeError } from "./federation/tunnel/errors.js";
export { SiteTasks, type SiteTasksOptions } from "./federation-tasks/site-tasks.js";
export { serveFederatedTasks } from "./federation-tasks/broker-tasks.js";
export { BrokerUnavailableError, UntrustedMessageError } from "./federation-tasks/errors.js";
export type { TaskFederation } from "./tasks/task-federation.js";
export { clusterTasks, type ClusterTasksOptions } from "./cluster-tasks/share-tasks.js";
export {
  ClusterTaskStore,
  DEFAULT_CLUSTER_TASK_LIMITS,
  type ClusterTaskLimits,
} from "./cluster-tasks/cluster-task-store.js";
export { ClusterTasksUnavailableError, TaskRecordError } from "./cluster-tasks/errors.js";
export { ProxyError } from "./transports/http2/forward-proxy.js";
// Seeing inside a hub: Prometheus metrics, health and readiness routes, the metrics listener.
export {
  hubMetrics,
  type GatewayFigures,
  type HubMetrics,
  type HubMetricsOptions,
  type TaskFigures,
} from "./observability/hub-metrics.js";
export {
  healthRoutes,
  HEALTH_PATHS,
  type HealthRoutesOptions,
  type MetricsAuthorizer,
  type ReadinessCheck,
} from "./observability/health-routes.js";
export { httpsMetricsAccess } from "./observability/https-metrics-access.js";
export { listenMetrics, type MetricsListener } from "./observability/metrics-listener.js";
// Mles: an Mles-compatible WebSocket face of the hub's pub/sub (listenHttps's `otherUpgrades`).
export {
  checkMlesAuth,
  mlesAuth,
  mlesIdentity,
  mlesJoinIdentity,
  MLES_DEFAULTS,
  MLES_PROTOCOL,
  MlesAuthError,
  MlesChannelFullError,
  MlesConfigError,
  MlesDuplicateError,
  MlesError,
  MlesFace,
  MlesForbiddenError,
  MlesHeaderError,
  MlesHeaderTimeoutError,
  MlesLaggedError,
  parseMlesHeader,
  type MlesHeader,
  type MlesHubLike,
  type MlesOptions,
} from "./mles/index.js";

export { VERSION } from "./base/version.js";
