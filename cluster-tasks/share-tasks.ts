import type { Cluster, ClusterExtension } from "../cluster/join-cluster.js";
import { ClusterSubjects } from "../cluster/subjects.js";
import type { TaskBroker } from "../tasks/task-broker.js";
import { ClusterTaskStore, type ClusterTaskLimits } from "./cluster-task-store.js";
import { taskBucket } from "./task-records.js";

/** Options of {@link clusterTasks}. */
export interface ClusterTasksOptions {
  /** Bounds and timing; `maxTasks`, `maxTasksPerApp` and `maxWaiters` default to the broker's. */
  limits?: Partial<ClusterTaskLimits>;
  /** Background errors: unreadable records (`TaskRecordError`), failed removals. */
  onError?: (error: unknown) => void;
  /** Told the store once it is open (to read its counters, or to close it apart from the cluster). */
  onOpen?: (store: ClusterTaskStore) => void;
}

/**
 * Samply tasks across the cluster, as an extension of `joinCluster`:
 * `joinCluster(hub, {servers, extensions: [clusterTasks(broker)]})`. From then on `broker`
 * keeps its tasks and results in the cluster's task bucket (`beam_<ns>_tasks`): an application
 * posts at any hub and its worker polls any other. `broker` still checks application keys and
 * who may send as whom; its sockets stay on its hub. Tasks it held before are no longer served.
 */
export function clusterTasks(broker: TaskBroker, options: ClusterTasksOptions = {}): ClusterExtension {
  return async (cluster: Cluster) => {
    const bucket = await cluster.bucket(taskBucket(new ClusterSubjects(cluster.name).bucket));
    const store = await ClusterTaskStore.open(
      bucket,
      {
        self: cluster.hub,
        hubId: broker.hub,
        limits: {
          maxTasks: broker.limits.maxTasks,
          maxTasksPerApp: broker.limits.maxTasksPerApp,
          maxWaiters: broker.limits.maxWaiters,
          ...options.limits,
        },
        ...(options.onError === undefined ? {} : { onError: options.onError }),
      },
      cluster.nats.info?.version,
    );
    broker.federate(store);
    options.onOpen?.(store);
    return { close: () => store.close() };
  };
}
