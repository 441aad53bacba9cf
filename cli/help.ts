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
  --reconnect-attempts N
                    when the hub goes away, reconnect at most N times (env
                    BEAMHUB_RECONNECT_ATTEMPTS; default unlimited; 0: do not reconnect)
  --give-up-after MS
                    stop reconnecting MS after the hub went away (env BEAMHUB_GIVE_UP_AFTER;
                    default unlimited)
  --config FILE     JSON file with the same keys (env BEAMHUB_CONFIG)
An unreachable hub, an untrusted certificate or a refused connection exit with 3; a hub that
answers but refuses the credentials exits with 1.
When the hub goes away (restarted, crashed), clients reconnect: waits between attempts grow
from 100 ms to 5 s with random jitter. Registrations and watches are restored; a call the hub
already had is not repeated (it may have run). Long-running commands print a line on stderr
when the hub goes and when it is back, and exit with 3 only when they give up reconnecting
(see --reconnect-attempts), so a supervisor restarts them.`;

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
                    or <tmpdir>/beamhub-<uid>/beamhub.sock). The default's directory is checked
                    by serve and by clients alike: <tmpdir>/beamhub-<uid> is created 0700 and
                    refused if another user owns it, group/others may write it or it is a
                    symbolic link; XDG_RUNTIME_DIR is refused if another user (not root) owns it,
                    or group/others may write it without the sticky bit; a socket file there
                    owned by another user is refused. The message names the path, owner and mode.
  --timeout MS      bound on a command: connecting (at most 10 s of it) and the call
                    (env BEAMHUB_TIMEOUT; default 30000)
  --config FILE     JSON file with the same keys (env BEAMHUB_CONFIG)
  -h, --help        help for a command

exit codes: 0 ok, 1 the call or operation failed (or the hub refused it), 2 usage error,
            3 hub unreachable (including TLS certificate errors), 4 no such service`,
  serve: `usage: beamhub serve [--socket PATH] [--listen-https HOST:PORT|off] [TLS options] [auth options]
Runs a hub on a Unix socket (mode 0600 unless --socket-mode; a stale socket file from a crashed
hub is replaced, a live hub is not) and on https:// (HTTP/2 with a WebSocket fallback, and
plain HTTP for curl).
Registers hub.info. Prints one line per listener: its address, the certificate with its SHA-256
fingerprint (compare: openssl x509 -noout -fingerprint -sha256 -in cert.pem) and who may connect.
Stops on SIGINT/SIGTERM; calls in flight then fail with "hub is closed". SIGHUP reloads --tokens.

listener:
  --socket PATH           the Unix socket (env BEAMHUB_SOCKET; default: see beamhub --help)
  --socket-mode MODE      0600 (default: this user only), 0660 (and the socket's group) or 0666
                          (every local user) (env BEAMHUB_SOCKET_MODE). Others also need to
                          enter the socket's directory: not possible with the default socket,
                          whose directory is private; use --socket PATH. Other users get only
                          what access rules grant them (see below).
  --max-unix-connections N
                          most open Unix connections (env BEAMHUB_MAX_UNIX_CONNECTIONS; default
                          1024, ~71 KiB each when idle, so ~71 MiB at the cap)
  --max-unix-connections-per-uid N
                          most open Unix connections of one peer uid (default 256, at most the
                          total). A connection over a cap gets GOAWAY ELIMIT (the client fails
                          with "too many connections") and serve logs one line a second at most
                          ("refused a Unix connection from uid U (pid P): ...").
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
  Per-session limits, both listeners (env BEAMHUB_MAX_...; a session over one is refused that one
  stream, channel or request with ELIMIT and goes on; SECURITY.md has the memory each costs):
  --max-frame-size BYTES  largest message a peer may send (default 16777216)
  --max-streams N         byte streams a peer may keep open (default 256, https 64)
  --max-channels N        channels a peer may keep open (default 10000)
  --max-pending-requests N
                          requests a peer may have waiting for an answer (default 1024)
  The https listener only: --max-sessions N (default 10000; more get 503),
  --max-sessions-per-identity N (or per address for anonymous peers; default 256; more get 429),
  --max-body-size BYTES (plain HTTP request bodies; default 1048576; more get 413).
authentication (the https listener; Unix socket peers are identified by the kernel instead:
  SO_PEERCRED gives the uid, gid and pid of the connecting process, and the identity is
  {id: "unix:<user>", via: "unix", uid, gid, pid, user, gids, groups}; "unix:<uid>" when no
  user name is known, and plain "unix" when the credentials are unknown, an addon built
  without them, such peers count as anonymous):
  --client-ca FILE        mutual TLS: CA certificate(s), PEM, that sign client certificates; the
                          certificate's subject CN is the peer's identity (env BEAMHUB_CLIENT_CA)
  --tokens FILE           bearer tokens (env BEAMHUB_TOKENS): one "TOKEN NAME" a line (# comments),
                          or JSON {"TOKEN": "NAME", "TOKEN": {"id": "NAME", "attributes": {...}}};
                          NAME is the identity. Tokens are never logged; keep the file mode 0600.
                          kill -HUP <pid> reads it again (new sessions use the new tokens; a file
                          that does not load keeps the old ones, and serve says why).
  --require-auth          refuse peers with neither a client certificate nor a token (HTTP 401;
                          env BEAMHUB_REQUIRE_AUTH=true). Without it they are anonymous.
  Handlers see the identity as context.caller.identity ({id, via: "mtls" | "token" | "unix"}).
browsers and proxies (the https listener):
  --allow-origin ORIGIN   a web origin (https://app.example.com) whose pages may use the hub from a
                          browser; repeatable (env BEAMHUB_ALLOW_ORIGIN, comma-separated; config
                          key allow-origin: a string or a list; * allows every page). Requests
                          carrying any other Origin get 403 EORIGIN, except pages the hub serves
                          itself; curl and the beamhub clients send no Origin and are not affected.
                          The plain HTTP mapping takes only content-type: application/json.
  --trusted-proxy ADDR    a reverse proxy (address or CIDR range, e.g. 10.0.0.0/8) whose
                          X-Forwarded-For names the client, for per-address limits and the address
                          an authenticator sees; repeatable (env BEAMHUB_TRUSTED_PROXY, comma-
                          separated; config key trusted-proxy). From other addresses it is ignored.
connections (the https listener; refusals are logged, at most one line per kind per 10 s):
  --max-connections N     TCP connections at once (default 4096, ~45 KiB each when idle); more are
                          closed at accept (env BEAMHUB_MAX_CONNECTIONS)
  --max-connections-per-address N
                          from one address (default 64; trusted proxies are exempt)
  A connection that has neither a session (HELLO done) nor a complete request 20 s after it was
  accepted is closed.
config file (--config FILE, env BEAMHUB_CONFIG): JSON with the same keys as the flags, e.g.
  {"listen-https": "0.0.0.0:8443", "tls-cert": "hub.pem", "tls-key": "hub.key",
   "tokens": "tokens.txt", "require-auth": true, "access": [...]}
  Flags win over BEAMHUB_* variables, which win over the file. Paths are relative to the
  working directory. Only the file can hold access rules: a list of
    {"who": "alice" | ["bob", "ci-*"], "anonymous": true,
     "call": [PATTERNS], "register": [PATTERNS]}
  "who" matches identity ids of certificate and token peers ("*" any authenticated peer,
  Unix peers included); "unix:alice" or "unix:1001" a Unix peer by user name or uid;
  "unix-group:staff" or "unix-group:50" a Unix peer by its group or a supplementary group
  (* wildcards in names; unix: entries never match certificate or token peers, and plain
  entries never match Unix peers). "anonymous" matches peers without an identity. Patterns
  are service names where * matches anything and {id} is the peer's id, e.g.
    "access": [{"who": "alice", "call": ["*"], "register": ["*"]},
               {"who": "unix-group:staff", "call": ["*"]},
               {"who": "*", "call": ["public.*", "hub.info"], "register": ["{id}.*"]}]
  With rules, a peer may call (and see) or register only what a rule grants it; refused
  requests fail with EFORBIDDEN. Unix peers running as the hub's user or as root may always
  do everything (they own the socket and the hub's process anyway). Without rules, https
  peers may do everything, and other Unix users nothing.
Exit codes: 2 for a bad option or file (named in the message), 1 when a port cannot be bound.`,
  ls: `usage: beamhub ls [--prefix P] [--label key=value ...] [--json] [hub options]
Lists registered services as a table (or JSON).${HUB_OPTIONS}`,
  watch: `usage: beamhub watch [--prefix P] [--label key=value ...] [--json] [hub options]
Prints "added"/"removed" lines (or JSON lines) as services register and go, until Ctrl-C.
Existing registrations come first. When the hub goes away it reconnects and goes on: what
changed meanwhile is printed then, marked "(resync)" (JSON: "resync": true) — after a hub
restart every instance is new, so the old ones are "removed" and the new ones "added". An
instance is never printed "added" twice. Exits with 3 if it gives up reconnecting.${HUB_OPTIONS}`,
  call: `usage: beamhub call <service> [json|-] [--events] [--timeout MS] [hub options]
Calls <service> with the JSON request (default null; - reads stdin) and prints the reply as
JSON. Binary data prints as {"$bytes": base64}. --events adds a channel as "events" to the
request and prints what the service sends on it as JSON lines.
--timeout covers the whole command: a hub that cannot be reached (it may be restarting) is
tried again until then, and the call then waits, within what is left, for its service to be
registered again. If the hub goes away while it has the call, the call fails (exit 1) and is
not repeated: it may have run. --timeout 0 means no limit (and one connection attempt).${HUB_OPTIONS}`,
  expose: `usage: beamhub expose <name> tcp://host:port [hub options]
Registers <name>; every connection made through it (beamhub connect) opens a TCP connection to
host:port. Runs until Ctrl-C. When the hub goes away it reconnects and registers <name> again
(stderr says so, with the new instance id); it exits with 3 if it gives up reconnecting, with 1
if the hub refuses the registration after reconnecting. kill -USR2 <pid> prints a status line
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
While the hub is away, new connections wait for it (up to 15 s each) and connections already
relayed through it end; it reconnects and exits with 3 only if it gives up reconnecting.
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
