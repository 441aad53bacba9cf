/**
 * Many hubs as one, on NATS (PROTOCOL.md, "Cluster"): {@link joinCluster}.
 * @module
 */
export { joinCluster, type Cluster, type ClusterExtension, type JoinClusterOptions } from "./join-cluster.js";
export { ClusterError, ClusterPeerError, LinkResetError } from "./errors.js";
export type { ClusterCredentials, ClusterTls } from "./nats-security.js";
export type { MalformedSource } from "./malformed.js";
export { HUB_LABEL } from "./service-record.js";
