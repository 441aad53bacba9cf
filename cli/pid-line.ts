/**
 * The line a long-running command (`serve`, `watch`, `expose`, `connect`, `run`) prints once
 * it has started, on stderr: `beamhub <command>: pid <N>`. Run under npm, a shell script or a
 * supervisor, the PID a user sees is often a wrapper's, and npm passes on only SIGINT and
 * SIGTERM: SIGHUP (serve reloads its tokens) and SIGUSR2 (gateway status) must reach this
 * process by its own id.
 */
export function pidLine(command: string): string {
  return `beamhub ${command}: pid ${process.pid}`;
}
