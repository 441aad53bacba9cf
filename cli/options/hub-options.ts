import type { OptionGroup, OptionSpec } from "./option-spec.js";

/** `--config FILE`: every command that reads settings takes it. */
export const CONFIG_OPTION = {
  config: {
    type: "string",
    value: "FILE",
    help:
      'JSON file whose keys are the settings\' flag names, e.g. {"hub": "https://hub.example:8443", "ca": "hub.pem"}; ' +
      "flags win over BEAMHUB_* variables, which win over the file. A key that is no setting is an error",
    env: true,
  },
} satisfies Record<string, OptionSpec>;

/** Which hub a client command talks to, how long it waits, and when it stops reconnecting. */
export const HUB_OPTIONS: OptionGroup = {
  title: "hub options",
  options: {
    hub: {
      type: "string",
      value: "ADDRESS",
      setting: true,
      help:
        "the hub: unix:///path or a socket path with a / in it (./hub.sock), https://host:port or " +
        "wss://host:port. A word without either (localhost, hub.example:8443) is refused as ambiguous: " +
        "write https://localhost:8443 or ./localhost",
      defaultText: "the local socket, see --socket",
    },
    socket: {
      type: "string",
      value: "PATH",
      setting: true,
      help:
        "the same as --hub unix://PATH. The default socket is $XDG_RUNTIME_DIR/beamhub.sock or " +
        "<tmpdir>/beamhub-<uid>/beamhub.sock; its directory must be this user's alone (beamhub --help)",
    },
    timeout: {
      type: "string",
      value: "MS",
      setting: true,
      help: "bound on the whole command: connecting (at most 10 s of it) and the call",
      defaultText: "30000",
    },
    "reconnect-attempts": {
      type: "string",
      value: "N",
      setting: true,
      help: "when the hub goes away, reconnect at most N times (0: do not reconnect)",
      defaultText: "unlimited",
    },
    "give-up-after": {
      type: "string",
      value: "MS",
      setting: true,
      help: "stop reconnecting MS after the hub went away",
      defaultText: "unlimited",
    },
    ...CONFIG_OPTION,
  },
  note:
    "An unreachable hub, an untrusted certificate or a refused connection exit with 3; a hub that " +
    "answers but refuses the credentials exits with 1.\n" +
    "When the hub goes away (restarted, crashed), clients reconnect: waits between attempts grow " +
    "from 100 ms to 5 s with random jitter. Registrations and watches are restored; a call the hub " +
    "already had is not repeated (it may have run). Long-running commands print a line on stderr " +
    "when the hub goes and when it is back, and exit with 3 only when they give up reconnecting " +
    "(see --reconnect-attempts), so a supervisor restarts them.",
};

/** How a client command trusts and authenticates to an https:// hub. */
export const HUB_TLS_OPTIONS: OptionGroup = {
  title: "TLS options",
  about: "an https:// hub",
  options: {
    ca: {
      type: "string",
      value: "FILE",
      setting: true,
      help:
        "PEM certificate(s) to trust for an https hub: its own certificate or its CA. Without it, the " +
        "system's CAs, and for a loopback hub also <cert-dir>/cert.pem of `beamhub serve` when that file exists",
    },
    "cert-dir": {
      type: "string",
      value: "DIR",
      setting: true,
      help: "where `beamhub serve` keeps its development certificate",
      defaultText: "~/.beamhub/dev-cert",
    },
    cert: {
      type: "string",
      value: "FILE",
      setting: true,
      help: "a client certificate (PEM) for mutual TLS, with --key",
    },
    key: { type: "string", value: "FILE", setting: true, help: "the client certificate's private key (PEM)" },
    token: {
      type: "string",
      value: "TOKEN",
      setting: true,
      help: "bearer token for an https hub (prefer the variable: flags show in ps)",
    },
    transport: {
      type: "string",
      value: "T",
      setting: true,
      help: "auto (HTTP/2, falling back to WebSocket), http2 or ws; a wss:// hub means ws",
      defaultText: "auto",
    },
  },
};

/** The TLS flags a client command may only give with an https:// hub. */
export const HUB_TLS_FLAGS = ["ca", "cert", "key", "token", "transport"] as const;
