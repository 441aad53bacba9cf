import { CONFIG_OPTION } from "./hub-options.js";
import type { OptionGroup } from "./option-spec.js";

/** Where `serve` listens: its Unix socket and its https:// address. */
const LISTENERS: OptionGroup = {
  title: "listener options",
  about: "the Unix socket and https://",
  options: {
    socket: {
      type: "string",
      value: "PATH",
      setting: true,
      help: "the Unix socket",
      defaultText: "see beamhub --help",
    },
    "socket-mode": {
      type: "string",
      value: "MODE",
      setting: true,
      help:
        "0600 (this user only), 0660 (and the socket's group) or 0666 (every local user). Others also " +
        "need to enter the socket's directory: not possible with the default socket, whose directory is " +
        "private; use --socket PATH. Other users get only what access rules grant them (see below)",
      defaultText: "0600",
    },
    "max-unix-connections": {
      type: "string",
      value: "N",
      setting: true,
      help: "most open Unix connections (~71 KiB each when idle, so ~71 MiB at the cap)",
      defaultText: "1024",
    },
    "max-unix-connections-per-uid": {
      type: "string",
      value: "N",
      setting: true,
      help: 'most open Unix connections of one peer uid, at most the total. A connection over a cap gets GOAWAY ELIMIT (the client fails with "too many connections") and serve logs one line a second at most ("refused a Unix connection from uid U (pid P): ...")',
      defaultText: "256",
    },
    "listen-https": {
      type: "string",
      value: "A",
      setting: true,
      help:
        "HOST:PORT, [IPv6]:PORT, HOST (port 8443), PORT (on 127.0.0.1) or off; port 0: any free port. " +
        "0.0.0.0:8443 or [::]:8443 accept other machines: serve warns when it does so without " +
        "--require-auth or access rules",
      defaultText: "127.0.0.1:8443",
    },
    https: { type: "string", value: "A", help: "older name of --listen-https A (env BEAMHUB_HTTPS)" },
    "no-https": { type: "boolean", help: "older name of --listen-https off" },
  },
};

/** The https listener's certificate. */
const SERVER_TLS: OptionGroup = {
  title: "TLS options",
  about: "the hub's certificate",
  options: {
    "tls-cert": {
      type: "string",
      value: "FILE",
      setting: true,
      help:
        "certificate chain, PEM; with --tls-key. Both are checked before listening: readable, PEM, and " +
        "the key matches the certificate",
    },
    "tls-key": { type: "string", value: "FILE", setting: true, help: "its private key, PEM, unencrypted" },
    "cert-dir": {
      type: "string",
      value: "DIR",
      setting: true,
      help:
        "without --tls-cert: where the generated development certificate is kept (cert.pem, key.pem). " +
        "It is valid for localhost, 127.0.0.1 and ::1; clients pin it with --ca <copy of cert.pem>",
      defaultText: "~/.beamhub/dev-cert",
    },
    "dev-cert-hosts": {
      type: "string",
      value: "NAMES",
      setting: true,
      help:
        'more DNS names/IP addresses for it, comma-separated, e.g. "$(hostname),192.168.1.20". A stored ' +
        "certificate without them is replaced (serve says so; clients must fetch the new cert.pem); " +
        "names asked for once stay in it",
    },
  },
};

/** Keep-alive and the per-session limits of both listeners. */
const SESSIONS: OptionGroup = {
  title: "session options",
  about: "both listeners unless marked https",
  options: {
    keepalive: {
      type: "string",
      value: "MS",
      setting: true,
      help:
        "keep-alive interval of every session, 0 turns it off: a peer silent for 2x MS is dropped, so a " +
        "frozen or vanished client is noticed, and its calls, streams and channels fail, within 2.25x MS",
      defaultText: "2000",
    },
    "max-frame-size": {
      type: "string",
      value: "BYTES",
      setting: true,
      help: "largest message a peer may send",
      defaultText: "16777216",
    },
    "max-streams": {
      type: "string",
      value: "N",
      setting: true,
      help: "byte streams a peer may keep open",
      defaultText: "256, https 64",
    },
    "max-channels": {
      type: "string",
      value: "N",
      setting: true,
      help: "channels a peer may keep open",
      defaultText: "10000",
    },
    "max-pending-requests": {
      type: "string",
      value: "N",
      setting: true,
      help: "requests a peer may have waiting for an answer",
      defaultText: "1024",
    },
    "max-sessions": {
      type: "string",
      value: "N",
      setting: true,
      help: "https: sessions in total; more get 503",
      defaultText: "10000",
    },
    "max-sessions-per-identity": {
      type: "string",
      value: "N",
      setting: true,
      help: "https: sessions of one identity (or address, for anonymous peers); more get 429",
      defaultText: "256",
    },
    "max-body-size": {
      type: "string",
      value: "BYTES",
      setting: true,
      help: "https: plain HTTP request bodies; more get 413",
      defaultText: "1048576",
    },
  },
  note:
    "A session over a limit is refused that one stream, channel or request with ELIMIT and goes on; " +
    "SECURITY.md has the memory each costs.",
};

/** Who may open an https session. */
const AUTHENTICATION: OptionGroup = {
  title: "auth options",
  about: "the https listener",
  options: {
    "client-ca": {
      type: "string",
      value: "FILE",
      setting: true,
      help:
        "mutual TLS: CA certificate(s), PEM, that sign client certificates; the certificate's subject CN " +
        "is the peer's identity",
    },
    tokens: {
      type: "string",
      value: "FILE",
      setting: true,
      help:
        'bearer tokens: one "TOKEN NAME" a line (# comments), or JSON {"TOKEN": "NAME", "TOKEN": {"id": ' +
        '"NAME", "attributes": {...}}}; NAME is the identity. Tokens are never logged; keep the file mode ' +
        "0600. kill -HUP <pid> reads it again (new sessions use the new tokens; a file that does not load " +
        "keeps the old ones, and serve says why)",
    },
    "require-auth": {
      type: "boolean",
      setting: true,
      help:
        "refuse peers with neither a client certificate nor a token (HTTP 401; BEAMHUB_REQUIRE_AUTH=true). " +
        "Without it they are anonymous",
    },
  },
  note:
    'Handlers see the identity as context.caller.identity ({id, via: "mtls" | "token" | "unix"}). Unix ' +
    "socket peers are identified by the kernel instead: SO_PEERCRED gives the uid, gid and pid of the " +
    'connecting process, and the identity is {id: "unix:<user>", via: "unix", uid, gid, pid, user, gids, ' +
    'groups}; "unix:<uid>" when no user name is known, and plain "unix" when the credentials are unknown ' +
    "(an addon built without them): such peers count as anonymous.",
};

/** Browsers, reverse proxies and TCP connections on the https listener. */
const WEB_ACCESS: OptionGroup = {
  title: "web options",
  about: "browsers, proxies and connections of the https listener",
  options: {
    "allow-origin": {
      type: "string",
      multiple: true,
      value: "ORIGIN",
      setting: true,
      help:
        "a web origin (https://app.example.com) whose pages may use the hub from a browser; repeatable " +
        "(the variable comma-separated; the config key a string or a list; * allows every page). Requests " +
        "carrying any other Origin get 403 EORIGIN, except pages the hub serves itself; curl and the " +
        "beamhub clients send no Origin and are not affected. The plain HTTP mapping takes only " +
        "content-type: application/json",
    },
    "trusted-proxy": {
      type: "string",
      multiple: true,
      value: "ADDR",
      setting: true,
      help:
        "a reverse proxy (address or CIDR range, e.g. 10.0.0.0/8) whose X-Forwarded-For names the client, " +
        "for per-address limits and the address an authenticator sees; repeatable (the variable " +
        "comma-separated). From other addresses it is ignored",
    },
    "max-connections": {
      type: "string",
      value: "N",
      setting: true,
      help: "TCP connections at once (~45 KiB each when idle); more are closed at accept",
      defaultText: "4096",
    },
    "max-connections-per-address": {
      type: "string",
      value: "N",
      setting: true,
      help: "TCP connections from one address (trusted proxies are exempt)",
      defaultText: "64",
    },
  },
  note:
    "Refusals are logged, at most one line per kind per 10 s. A connection that has neither a session " +
    "(HELLO done) nor a complete request 20 s after it was accepted is closed.",
};

/** Samply.Beam's task broker (see examples/tasks.md). */
const TASKS: OptionGroup = {
  title: "task options",
  about: "Samply.Beam's task REST API",
  options: {
    id: {
      type: "string",
      value: "ID",
      setting: true,
      help:
        "this hub's id in Samply's terms, e.g. proxy1.broker: application APP's id is APP.ID. " +
        "Application keys come from APP_<name>_KEY=<key> variables, as Samply's proxy takes them, " +
        'or the config file\'s "apps": {"<name>": "<key>"}',
      defaultText: "beamhub.local",
    },
    "listen-http": {
      type: "string",
      value: "A",
      setting: true,
      help:
        "HOST:PORT of a plain-HTTP listener for the task API (/v1/tasks, /v1/health), because Samply " +
        "applications talk plain HTTP to their local proxy. Loopback only: keys travel in clear",
    },
    "tasks-file": {
      type: "string",
      value: "FILE",
      setting: true,
      help:
        "where tasks and results are kept (a kv log, locked to this hub), so they survive a restart; " +
        "off: in memory only",
      defaultText: "~/.beamhub/tasks-ID.kvlog when applications are configured",
    },
  },
};

/** A federation of hubs (examples/federation.md). */
const FEDERATION: OptionGroup = {
  title: "federation options",
  about: "a broker and site hubs",
  options: {
    federation: {
      type: "string",
      value: "DIR",
      setting: true,
      help:
        "join a federation with the credentials in DIR: hub.pem and hub.key (whose certificate names --id; " +
        "beamhub enroll, beamhub ca sign) and root.pem (the authority's). Without --broker this hub is the " +
        "broker: its https listener then presents hub.pem and asks clients for certificates of root.pem " +
        "(unless --tls-cert or --client-ca say otherwise)",
    },
    broker: {
      type: "string",
      value: "URL",
      setting: true,
      help:
        "with --federation: this hub is a site of the broker at URL (https://host:8443). One outbound " +
        "session, reconnected with backoff; no inbound port needed",
    },
    proxy: {
      type: "string",
      value: "URL",
      setting: true,
      help: "the forward HTTP proxy to reach the broker through (http://user:pass@host:3128), or off",
      defaultText: "HTTPS_PROXY unless NO_PROXY lists the broker",
    },
    "refused-retry": {
      type: "string",
      value: "MS",
      setting: true,
      help:
        "with --broker: the longest wait between attempts while the broker refuses this site's certificate " +
        "(revoked, expired, another authority's; or the broker's is not trusted here). The waits double from " +
        "10 s up to MS; network errors keep the normal backoff of seconds; SIGHUP with a new certificate tries at once",
      defaultText: "300000 (5 min)",
    },
  },
};

/** A cluster of hubs on NATS (examples/cluster.md). */
const CLUSTER: OptionGroup = {
  title: "cluster options",
  about: "many hubs as one, on NATS",
  options: {
    cluster: {
      type: "string",
      value: "URLS",
      setting: true,
      help:
        "join a cluster of hubs through the NATS servers at URLS (nats://host:4222, comma-separated; " +
        "JetStream on, for the registry). Every hub of the cluster then sees and calls every service of " +
        "the others; an instance on this hub serves first",
    },
    "cluster-name": {
      type: "string",
      value: "NAME",
      setting: true,
      help: "the cluster to join: hubs of one name share a registry",
      defaultText: "beamhub",
    },
    "hub-name": {
      type: "string",
      value: "NAME",
      setting: true,
      help: "this hub's name in the cluster, unique in it (other hubs' services carry it as the label beamhub/hub)",
      defaultText: "the host name",
    },
    "cluster-tasks": {
      type: "string",
      value: "on|off",
      setting: true,
      help:
        "with --cluster and applications: on keeps Samply tasks in the cluster's JetStream bucket, so an " +
        "application may post at one hub and its worker poll another; off keeps them on this hub (in " +
        "--tasks-file), as without --cluster",
      defaultText: "on",
    },
    "cluster-tls-ca": {
      type: "string",
      value: "FILE",
      setting: true,
      help: "TLS to NATS: the CA (PEM) that signed the NATS servers' certificates (tls:// URLs use TLS too)",
      defaultText: "the system's CAs",
    },
    "cluster-tls-cert": {
      type: "string",
      value: "FILE",
      setting: true,
      help: "TLS to NATS: this hub's client certificate (PEM), for NATS servers that verify clients; with --cluster-tls-key",
    },
    "cluster-tls-key": {
      type: "string",
      value: "FILE",
      setting: true,
      help: "TLS to NATS: the client certificate's private key (PEM)",
    },
    "cluster-creds": {
      type: "string",
      value: "FILE",
      setting: true,
      help: "NATS credentials: a .creds file (user JWT and nkey seed, as nsc writes it) or an nkey seed file (SU...)",
    },
    "cluster-user": {
      type: "string",
      value: "NAME",
      setting: true,
      help:
        "NATS user name; its password comes from BEAMHUB_CLUSTER_PASSWORD or --cluster-password-file, " +
        "never from the command line",
    },
    "cluster-password-file": {
      type: "string",
      value: "FILE",
      setting: true,
      help: "a file holding the NATS password of --cluster-user (one line)",
    },
  },
};

/** The Mles-compatible WebSocket face of the hub's pub/sub (see examples/chat.md). */
const MLES: OptionGroup = {
  title: "Mles options",
  about: "an Mles-compatible WebSocket face of the hub's pub/sub",
  options: {
    mles: {
      type: "boolean",
      setting: true,
      help:
        "accept Mles clients on the https listener: a WebSocket with subprotocol mles-websocket on any path " +
        'outside /beamhub/, first frame {"uid", "channel", "auth"?}; they share channels with beamhub ' +
        "subscribers, get the last 200 frames on joining, and are tagged mles:<uid>",
    },
    "mles-key": {
      type: "string",
      value: "KEY",
      setting: true,
      help:
        "Mles's shared key (else env MLES_KEY, as Mles reads it): every header must then carry auth = " +
        "hex SipHash-2-4(uid+channel+KEY). Prefer MLES_KEY or the config file: a flag shows in ps",
    },
  },
};

/** What operators see of a running hub: metrics, health, logs. */
const OBSERVE: OptionGroup = {
  title: "observability options",
  about: "metrics, health and logs",
  options: {
    metrics: {
      type: "string",
      value: "A",
      setting: true,
      help:
        "HOST:PORT of a plain-HTTP listener for Prometheus (/metrics) and health checks (/healthz: the " +
        "process answers; /readyz: the listeners are up). Loopback only: it has no TLS and no auth. The " +
        "https listener serves the same paths (/metrics only to peers the access rules let call hub.stats)",
    },
    "log-level": {
      type: "string",
      value: "LEVEL",
      setting: true,
      help:
        "trace, debug, info, warn, error, fatal or silent. info logs session open/close (identity, " +
        "transport, address, reason), warn refusals and slow calls",
      defaultText: "info",
    },
    "log-format": {
      type: "string",
      value: "F",
      setting: true,
      help:
        "pretty (one human line per event) or json (pino's JSON lines: time, level, msg, event fields). " +
        "Never logged: tokens, keys, Authorization headers",
      defaultText: "pretty",
    },
    "slow-call": {
      type: "string",
      value: "MS",
      setting: true,
      help:
        "log calls that take at least MS milliseconds (service, instance, caller, outcome). Each instance's " +
        "calls are timed by a sample of about 1000 a second: all of them below that rate, else at least one in 32",
      defaultText: "off",
    },
  },
};

/** Pub/sub channels: history and persistence. */
const PUBSUB: OptionGroup = {
  title: "pub/sub options",
  about: "named channels: beamhub pub, sub, channels",
  options: {
    "pubsub-history": {
      type: "string",
      value: "N",
      setting: true,
      help: "messages each channel keeps for late subscribers (0: none)",
      defaultText: "200",
    },
    "pubsub-history-bytes": {
      type: "string",
      value: "N",
      setting: true,
      help: "estimated bytes each channel keeps; the oldest messages go first",
      defaultText: "1048576",
    },
    "publish-timeout": {
      type: "string",
      value: "MS",
      setting: true,
      help: "how long a publish may wait for a subscriber that chose --lag wait (then EPUBLISH_TIMEOUT)",
      defaultText: "10000",
    },
    "pubsub-file": {
      type: "string",
      value: "FILE",
      setting: true,
      help: "keep history in this kv log (locked to this hub), so it survives a restart; off: in memory only",
      defaultText: "off",
    },
    "pubsub-http": {
      type: "string",
      value: "on|off",
      setting: true,
      help:
        "pub/sub over plain HTTP on the https listener: GET /beamhub/v1/pubsub/CHANNEL follows a channel as " +
        "server-sent events (curl -N, a browser's EventSource, which may send its token as ?access_token=), " +
        "POST publishes a JSON body; same auth and access rules as sessions",
      defaultText: "on",
    },
    "pubsub-http-streams": {
      type: "string",
      value: "N",
      setting: true,
      help: "event streams open at once over HTTP; more get 503 ELIMIT",
      defaultText: "256",
    },
    "pubsub-http-ring": {
      type: "string",
      value: "N",
      setting: true,
      help: "messages held for an event stream whose client reads slowly; older ones are dropped (lagged)",
      defaultText: "256",
    },
  },
};

/** The hub's own defaults and the config file. */
const HUB_SETTINGS: OptionGroup = {
  title: "hub options",
  options: {
    timeout: {
      type: "string",
      value: "MS",
      setting: true,
      help: "timeout of calls that set none",
      defaultText: "30000",
    },
    ...CONFIG_OPTION,
  },
};

/** Every option group of `beamhub serve`, in the order usage lists them. */
export const SERVE_GROUPS: readonly OptionGroup[] = [
  LISTENERS,
  SERVER_TLS,
  SESSIONS,
  AUTHENTICATION,
  WEB_ACCESS,
  TASKS,
  FEDERATION,
  CLUSTER,
  OBSERVE,
  PUBSUB,
  MLES,
  HUB_SETTINGS,
];

/**
 * Client flags people give `serve` by mistake, with what serve takes instead: the client flag
 * would mean something else here (trust a CA, present a certificate), so it is refused with this.
 */
export const SERVE_INSTEAD: Readonly<Record<string, string>> = {
  ca: "--client-ca FILE (the CA of client certificates)",
  cert: "--tls-cert FILE (its own certificate)",
  key: "--tls-key FILE (its certificate's key)",
  token: "--tokens FILE (the tokens it accepts)",
  transport: "HTTP/2 and WebSocket peers on one port",
  hub: "--socket PATH (where it listens) and --listen-https HOST:PORT",
};
