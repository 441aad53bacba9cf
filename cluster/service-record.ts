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

/** Decodes a record, or returns undefined for bytes that are not one. */
export function decodeServiceRecord(bytes: Uint8Array): ServiceRecord | undefined {
  try {
    const record = JSON.parse(new TextDecoder().decode(bytes)) as ServiceRecord;
    if (
      typeof record?.name !== "string" ||
      typeof record.hub !== "string" ||
      !Array.isArray(record.instances)
    )
      return undefined;
    for (const instance of record.instances)
      if (typeof instance?.id !== "string" || typeof instance.labels !== "object" || instance.labels === null)
        return undefined;
    return record;
  } catch {
    return undefined;
  }
}

/** The label a stand-in for another hub's instance carries: that hub's name. */
export const HUB_LABEL = "beamhub/hub";
