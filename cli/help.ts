import { VERSION } from "../index.js";

/** How client commands find and authenticate to a hub: appended to each one's `--help`. */
const HUB_OPTIONS = `
hub options:
  --hub ADDRESS     the hub: unix:///path, a socket path, https://host:port or wss://host:port
                    (env BEAMHUB_HUB; config key "hub"; default: the local socket, see --socket)
  --socket PATH     the same as --hub unix://PATH (env BEAMHUB_SOCKET)
  --ca FILE         PEM certificate(s) to trust for an https hub: its own certificate or its CA
                    (env BEAMHUB_CA). Without it, the system's CAs, and for a loopback hub also
                    <cert-dir>/cert.pem of \`beamhub serve\` when that file exists
  --cert-dir DIR    where \`beamhub serve\` keeps its dev certificate (env BEAMHUB_CERT_DIR;
                    default ~/.beamhub/dev-cert)
  --cert FILE, --key FILE
                    a client certificate and its key (PEM) for mutual TLS (env BEAMHUB_CERT/_KEY)
  --token TOKEN     bearer token for an https hub (prefer env BEAMHUB_TOKEN: flags show in ps)
  --transport T     auto (HTTP/2, falling back to WebSocket; default), http2 or ws
                    (env BEAMHUB_TRANSPORT; a wss:// hub means ws)
  --timeout MS      bound on the whole command: connecting (at most 10 s of it) and the call
                    (env BEAMHUB_TIMEOUT; default 30000)
  --config FILE     JSON file with the same keys (env BEAMHUB_CONFIG)
An unreachable hub, an untrusted certificate or a refused connection exit with 3; a hub that
answers but refuses the credentials exits with 1.`;

/** The text of `beamhub --help` and of `beamhub <command> --help`. */
export const HELP: Record<string, string> = {
  main: `beamhub ${VERSION} — a service hub: services, channels, byte streams and file descriptors

usage: beamhub <command> [options]

commands:
  serve                       run a hub (Unix socket, mode 0600, and https://127.0.0.1:8443;
                              certificates, mutual TLS, tokens and access rules: serve --help)
  ls                          list registered services
  watch                       show registrations as they come and go
  call <service> [json|-]     call a service and print its reply
  expose <name> tcp://h:p     serve a TCP endpoint as a hub service
  connect <name> --listen h:p a local TCP port that reaches a service
  run --connect name=h:p -- CMD
                              run CMD with its connections to h:p handed the service's own
                              socket (no process in between; Linux)
  kv encode|decode|inspect    Beam's key -> values format

common options:
  --hub ADDRESS     the hub to talk to: unix:///path, a socket path, or https://host:port
                    (env BEAMHUB_HUB; default the local socket; https options: see a command's --help)
  --socket PATH     the hub's Unix socket (env BEAMHUB_SOCKET; default $XDG_RUNTIME_DIR/beamhub.sock
                    or <tmpdir>/beamhub-<uid>/beamhub.sock)
  --timeout MS      bound on a command: connecting (at most 10 s of it) and the call
                    (env BEAMHUB_TIMEOUT; default 30000)
  --config FILE     JSON file with the same keys (env BEAMHUB_CONFIG)
  -h, --help        help for a command

exit codes: 0 ok, 1 the call or operation failed (or the hub refused it), 2 usage error,
            3 hub unreachable (including TLS certificate errors), 4 no such service`,
  serve: `usage: beamhub serve [--socket PATH] [--listen-https HOST:PORT|off] [TLS options] [auth options]
Runs a hub on a Unix socket (mode 0600; a stale socket file from a crashed hub is replaced, a
live hub is not) and on https:// (HTTP/2 with a WebSocket fallback, and plain HTTP for curl).
Registers hub.info. Prints one line per listener: its address, the certificate with its SHA-256
fingerprint (compare: openssl x509 -noout -fingerprint -sha256 -in cert.pem) and who may connect.
Stops on SIGINT/SIGTERM; calls in flight then fail with "hub is closed". SIGHUP reloads --tokens.

listener:
  --socket PATH           the Unix socket (env BEAMHUB_SOCKET; default: see beamhub --help)
  --listen-https A        HOST:PORT, [IPv6]:PORT, HOST (port 8443), PORT (on 127.0.0.1) or off
                          (env BEAMHUB_LISTEN_HTTPS; default 127.0.0.1:8443; port 0: any free port).
                          0.0.0.0:8443 or [::]:8443 accept other machines: serve warns when
                          it does so without --require-auth or access rules.
                          (--https A and --no-https are older names.)
TLS (the hub's certificate):
  --tls-cert FILE         certificate chain, PEM (env BEAMHUB_TLS_CERT); with --tls-key FILE, its
                          private key, PEM, unencrypted (env BEAMHUB_TLS_KEY). Both are checked
                          before listening: readable, PEM, and the key matches the certificate.
  --cert-dir DIR          without --tls-cert: where the generated development certificate is kept
                          (cert.pem, key.pem; env BEAMHUB_CERT_DIR; default ~/.beamhub/dev-cert).
                          It is valid for localhost, 127.0.0.1 and ::1; clients pin it with
                          --ca <copy of cert.pem>.
  --dev-cert-hosts NAMES  more DNS names/IP addresses for it, comma-separated, e.g.
                          "$(hostname),192.168.1.20" (env BEAMHUB_DEV_CERT_HOSTS). A stored
                          certificate without them is replaced (serve says so; clients must fetch
                          the new cert.pem); names asked for once stay in it.
sessions:
  --keepalive MS          keep-alive interval of every session, Unix and https (env
                          BEAMHUB_KEEPALIVE; default 2000; 0 turns it off): a peer silent for
                          2x MS is dropped, so a frozen or vanished client is noticed, and its
                          calls, streams and channels fail, within 2.25x MS
authentication (the https listener; Unix socket peers are this user already):
  --client-ca FILE        mutual TLS: CA certificate(s), PEM, that sign client certificates; the
                          certificate's subject CN is the peer's identity (env BEAMHUB_CLIENT_CA)
  --tokens FILE           bearer tokens (env BEAMHUB_TOKENS): one "TOKEN NAME" a line (# comments),
                          or JSON {"TOKEN": "NAME", "TOKEN": {"id": "NAME", "attributes": {...}}};
                          NAME is the identity. Tokens are never logged; keep the file mode 0600.
                          kill -HUP <pid> reads it again (new sessions use the new tokens; a file
                          that does not load keeps the old ones, and serve says why).
  --require-auth          refuse peers with neither a client certificate nor a token (HTTP 401;
                          env BEAMHUB_REQUIRE_AUTH=true). Without it they are anonymous.
  Handlers see the identity as context.caller.identity ({id, via: "mtls" | "token"}).
config file (--config FILE, env BEAMHUB_CONFIG): JSON with the same keys as the flags, e.g.
  {"listen-https": "0.0.0.0:8443", "tls-cert": "hub.pem", "tls-key": "hub.key",
   "tokens": "tokens.txt", "require-auth": true, "access": [...]}
  Flags win over BEAMHUB_* variables, which win over the file. Paths are relative to the
  working directory. Only the file can hold access rules: a list of
    {"who": "alice" | ["bob", "ci-*"], "anonymous": true,
     "call": [PATTERNS], "register": [PATTERNS]}
  "who" matches identity ids ("*" any authenticated peer), "anonymous" peers without one;
  patterns are service names where * matches anything and {id} is the peer's id, e.g.
    "access": [{"who": "alice", "call": ["*"], "register": ["*"]},
               {"who": "*", "call": ["public.*", "hub.info"], "register": ["{id}.*"]}]
  With rules, an https peer may call (and see) or register only what a rule grants it; refused
  requests fail with EFORBIDDEN. Unix socket peers are not checked.
Exit codes: 2 for a bad option or file (named in the message), 1 when a port cannot be bound.`,
  ls: `usage: beamhub ls [--prefix P] [--label key=value ...] [--json] [hub options]
Lists registered services as a table (or JSON).${HUB_OPTIONS}`,
  watch: `usage: beamhub watch [--prefix P] [--label key=value ...] [--json] [hub options]
Prints "added"/"removed" lines (or JSON lines) as services register and go, until Ctrl-C or
until the hub goes away. Existing registrations come first.${HUB_OPTIONS}`,
  call: `usage: beamhub call <service> [json|-] [--events] [--timeout MS] [hub options]
Calls <service> with the JSON request (default null; - reads stdin) and prints the reply as
JSON. Binary data prints as {"$bytes": base64}. --events adds a channel as "events" to the
request and prints what the service sends on it as JSON lines.${HUB_OPTIONS}`,
  expose: `usage: beamhub expose <name> tcp://host:port [hub options]
Registers <name>; every connection made through it (beamhub connect) opens a TCP connection to
host:port. Runs until Ctrl-C or until the hub goes away. kill -USR2 <pid> prints a status line
(connections handed over, relayed, failed, open), which is printed again when it stops.${HUB_OPTIONS}`,
  connect: `usage: beamhub connect <name> --listen host:port [--mode auto|handoff|relay] [--handoff-socket PATH] [hub options]
Listens on host:port (loopback by default); each accepted connection reaches the endpoint behind
service <name>. handoff: the endpoint's socket is passed here as a file descriptor and the hub
leaves the data path (Unix socket hubs only); relay: bytes travel over a hub byte stream (the
only way through an https hub); auto: handoff when possible.
With handoff, this process still copies the bytes between the two sockets (in native threads),
because an ordinary client cannot take a descriptor. --handoff-socket PATH removes that copy for
programs started with the hand-off library: it prints the LD_PRELOAD and BEAMHUB_HANDOFF values
to start them with (or use beamhub run, which does it for you).
kill -USR2 <pid> prints a status line (connections accepted, handed over, relayed, failed,
open), which is printed again when it stops.${HUB_OPTIONS}`,
  run: `usage: beamhub run --connect SERVICE=HOST:PORT [--connect ...] [--mode M] [hub options] -- COMMAND [ARGS...]
Listens on each HOST:PORT (or PORT, on 127.0.0.1) as beamhub connect does, runs COMMAND, and
exits with its exit code (128+N if signal N killed it; 127 if it is not found). COMMAND runs with
the hand-off library (LD_PRELOAD, Linux): when it connects to one of those addresses, it gets
the socket the service connected to its endpoint, so it talks to e.g. PostgreSQL itself with
no process of ours in between:
  beamhub run --connect db.main=127.0.0.1:6432 -- psql -h 127.0.0.1 -p 6432 -U app
Programs that cannot load the library (static binaries) and children that clear LD_PRELOAD
still reach the service through the port. --mode relay (or an https hub) skips the library.
On stderr it prints failures, and once how connections go (handed over or relayed). Ctrl-C
goes to COMMAND (psql cancels its query) and run waits for it; SIGTERM and SIGHUP sent to run
are passed on. kill -USR2 <pid> prints a status line per --connect.${HUB_OPTIONS}`,
  kv: `usage: beamhub kv encode <json|->    a JSON object of string lists -> kv bytes on stdout
       beamhub kv decode <file|->    kv bytes -> JSON
       beamhub kv inspect <file>     records of an append-only kv log, with offsets and any torn tail`,
};
