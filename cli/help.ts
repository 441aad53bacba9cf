import { VERSION } from "../index.js";
import type { CommandSpec } from "./command-spec.js";
import { operandText, wrap } from "./usage.js";

/** Where a command's summary starts in `beamhub --help`. */
const SUMMARY_COLUMN = 30;

/** The text of `beamhub --help`: the commands from their declarations, then what they share. */
export function mainUsage(commands: readonly CommandSpec[]): string {
  const list = commands.map((command) => {
    const form = [
      command.name,
      ...command.operands.map(operandText),
      ...(command.passThrough === undefined ? [] : [`-- ${command.passThrough}`]),
    ].join(" ");
    const label = `  ${form}`;
    const summary = wrap(command.summary, 100, " ".repeat(SUMMARY_COLUMN), SUMMARY_COLUMN);
    return label.length < SUMMARY_COLUMN - 1
      ? `${label.padEnd(SUMMARY_COLUMN)}${summary}`
      : `${label}\n${" ".repeat(SUMMARY_COLUMN)}${summary}`;
  });
  return `beamhub ${VERSION} — a service hub: services, channels, byte streams and file descriptors

usage: beamhub <command> [arguments] [options]
       beamhub help <command>      the same as beamhub <command> --help: its arguments and options
       beamhub --version

commands:
${list.join("\n")}

the hub (client commands; details in their --help):
  --hub ADDRESS     the hub to talk to: unix:///path, a socket path with a / in it, https://host:port
                    or wss://host:port (env BEAMHUB_HUB; default the local socket). A bare word such
                    as localhost is refused: write https://localhost:8443 or ./localhost
  --socket PATH     the hub's Unix socket (env BEAMHUB_SOCKET; default $XDG_RUNTIME_DIR/beamhub.sock
                    or <tmpdir>/beamhub-<uid>/beamhub.sock). The default's directory is checked
                    by serve and by clients alike: <tmpdir>/beamhub-<uid> is created 0700 and
                    refused if another user owns it, group/others may write it or it is a
                    symbolic link; XDG_RUNTIME_DIR is refused if another user (not root) owns it,
                    or group/others may write it without the sticky bit; a socket file there
                    owned by another user is refused. The message names the path, owner and mode.
  --config FILE     JSON file whose keys are the settings' flag names (env BEAMHUB_CONFIG); one
                    file may hold the settings of every command, and a key that is none is an error

Options come after the command; every command has its own (beamhub <command> --help).

exit codes: 0 ok, 1 the call or operation failed (or the hub refused it), 2 usage error,
            3 hub unreachable (including TLS certificate errors), 4 no such service`;
}
