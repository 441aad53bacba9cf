import { BeamhubError } from "../../base/error.js";
import type { Hub } from "../../hub/hub.js";
import type { Session, SessionOptions } from "../../hub/session.js";

/**
 * The in-process transport. Nothing is serialized: data, channels, byte streams and file
 * descriptors move between sessions by reference, so a call costs a function call and a
 * promise. Hubs are found by name (`memory://<name>`), like the other transports find theirs
 * by address.
 */
const listening = new Map<string, Hub>();

/** No hub listens at that memory address. */
export class MemoryAddressError extends BeamhubError {
  constructor(message: string) {
    super("EADDRESS", message);
  }
}

/** Makes `hub` reachable at `memory://<name>` in this process; returns the function that stops it. */
export function listenMemory(hub: Hub, name = "default"): () => void {
  const existing = listening.get(name);
  if (existing !== undefined && existing !== hub && !existing.isClosed) {
    throw new MemoryAddressError(`memory://${name} is already taken by another hub`);
  }
  listening.set(name, hub);
  return () => {
    if (listening.get(name) === hub) listening.delete(name);
  };
}

/**
 * Connects to a hub in this process — given directly, or by the name it listens on — and
 * returns a new session on it.
 */
export function connectMemory(target: Hub | string = "default", options: SessionOptions = {}): Session {
  const hub = typeof target === "string" ? listening.get(parseName(target)) : target;
  if (hub === undefined || hub.isClosed) {
    throw new MemoryAddressError(`no hub listens at memory://${parseName(target as string)}`);
  }
  return hub.session(options);
}

function parseName(address: string): string {
  return address.startsWith("memory://") ? address.slice("memory://".length) : address;
}
