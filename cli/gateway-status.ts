import type { TcpConnector, TcpExposure } from "../index.js";

/** The signal that makes a long-running gateway command print its status line. */
export const STATUS_SIGNAL = "SIGUSR2"; // SIGUSR1 belongs to Node's inspector

/**
 * Prints `status()` whenever the process gets {@link STATUS_SIGNAL} (`kill -USR2 <pid>`), until
 * the returned function is called.
 */
export function statusOnSignal(status: () => string, log: (line: string) => void): () => void {
  const print = (): void => log(status());
  process.on(STATUS_SIGNAL, print);
  return () => void process.off(STATUS_SIGNAL, print);
}

/** One line on what a connector has done: `beamhub connect`'s status. */
export function connectorStatus(name: string, connector: TcpConnector): string {
  const { accepted, handedOver, toPrograms, relayed, failed } = connector.stats;
  const { host, port } = connector.address;
  return (
    `status: ${host}:${port} -> service ${name} (${connector.mode}): ${accepted} accepted, ` +
    `${handedOver} handed over (${toPrograms} to programs), ${relayed} relayed, ${failed} failed; ` +
    `${connector.connections} open here`
  );
}

/** One line on what an exposure has done: `beamhub expose`'s status. */
export function exposureStatus(name: string, exposure: TcpExposure): string {
  const { handedOver, relayed, failed } = exposure.stats;
  const { host, port } = exposure.target;
  return (
    `status: service ${name} -> ${host}:${port}: ${handedOver} handed over, ${relayed} relayed, ` +
    `${failed} failed; ${exposure.connections} relayed connections open`
  );
}
