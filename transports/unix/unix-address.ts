/** The socket path of a Unix address: `unix:///path` or the path itself. */
export function stripUnixUrl(address: string): string {
  return address.startsWith("unix://") ? address.slice("unix://".length) : address;
}
