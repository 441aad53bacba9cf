/**
 * The hub's face in this process: `listenMemory` puts a hub in the memory transport's address
 * book, `connectMemory` opens a session on one (by reference: nothing is serialized).
 * @module
 */
import type { Hub } from "../hub.js";
import type { Session, SessionOptions } from "../session.js";
import { MemoryHub } from "./memory-hub.js";
import {
  dialMemory,
  listenMemoryAt,
  MemoryAddressError,
  memoryName,
} from "../../transports/memory/memory-address-book.js";

export { MemoryAddressError };
export { MemoryHub } from "./memory-hub.js";

/** Makes `hub` reachable at `memory://<name>` in this process; returns the function that stops it. */
export function listenMemory(hub: Hub, name = "default"): () => void {
  return listenMemoryAt(memoryName(name), hub, {
    accept: (options: SessionOptions) => hub.session(options),
    get isClosed() {
      return hub.isClosed;
    },
  });
}

/**
 * Connects to a hub in this process — given directly, or by the name it listens on — and
 * returns a new session on it.
 */
export function connectMemory(target: Hub | string = "default", options: SessionOptions = {}): Session {
  if (typeof target !== "string") {
    if (target.isClosed) throw new MemoryAddressError("the hub is closed");
    return target.session(options);
  }
  return dialMemory<SessionOptions, Session>(memoryName(target)).accept(options);
}

/** A {@link MemoryHub} on the hub at `memory://<name>`: what `connect("memory:...")` returns. */
export function memoryHubAt(name: string, options: SessionOptions = {}): MemoryHub {
  return new MemoryHub(connectMemory(name, options));
}
