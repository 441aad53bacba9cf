import type { Labels } from "../hub/names.js";

/**
 * What the cluster's KV bucket holds under `svc.<service>.<hub>`: one hub's instances of one
 * service (PROTOCOL.md, "Cluster registry"). One key per (service, hub) — never a whole service
 * list — so a change writes one small value and no hub ever broadcasts its registry.
 */
export interface ServiceRecord {
  readonly name: string;
  readonly hub: string;
  /** The id of the hub's run that wrote it. */
  readonly epoch: string;
  readonly instances: readonly { readonly id: string; readonly labels: Labels }[];
}

/**
 * Decodes a record, or returns undefined for bytes that are not one (never throws): a name, a
 * hub, and instances whose id is a string and whose labels a plain object of strings.
 */
export function decodeServiceRecord(bytes: Uint8Array): ServiceRecord | undefined {
  let record: Partial<Record<keyof ServiceRecord, unknown>> | null;
  try {
    record = JSON.parse(new TextDecoder().decode(bytes)) as typeof record;
  } catch {
    return undefined;
  }
  if (typeof record !== "object" || record === null) return undefined;
  const { name, hub, epoch, instances } = record;
  if (typeof name !== "string" || typeof hub !== "string" || !Array.isArray(instances)) return undefined;
  for (const instance of instances as unknown[]) {
    const { id, labels } = (instance ?? {}) as { id?: unknown; labels?: unknown };
    if (typeof id !== "string" || !isLabels(labels)) return undefined;
  }
  return {
    name,
    hub,
    epoch: typeof epoch === "string" ? epoch : "",
    instances: instances as ServiceRecord["instances"],
  };
}

/** A plain object whose values are all strings (what labels are). */
function isLabels(value: unknown): value is Labels {
  if (typeof value !== "object" || value === null || Object.getPrototypeOf(value) !== Object.prototype)
    return false;
  return Object.values(value).every((label) => typeof label === "string");
}

/** The label a stand-in for another hub's instance carries: that hub's name. */
export const HUB_LABEL = "beamhub/hub";
