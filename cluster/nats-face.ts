import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { headers as natsHeaders } from "@nats-io/transport-node";
import type { Hub } from "../hub/hub.js";
import type { ClusterSubjects } from "./subjects.js";

/** The `$SRV` name under which every hub of a cluster answers `nats micro` discovery. */
export const MICRO_SERVICE_NAME = "beamhub";

/**
 * What plain NATS clients see of a cluster's services (PROTOCOL.md, "Cluster: plain NATS
 * clients"):
 * - a request on `beam.<cluster>.svc.<service>` calls the service (a queue group of the hubs
 *   hosting it picks one): JSON in, JSON out; a failure answers with the headers
 *   `Nats-Service-Error` and `Nats-Service-Error-Code` and a JSON `{error: {code, message}}`;
 * - the NATS services framework's discovery (`$SRV.PING|INFO|STATS[.beamhub[.<hub>]]`, what
 *   `nats micro ls` and `info` ask) lists each hub with its services as endpoints.
 * Only a hub's own instances are offered here: a request never hops on to another hub.
 */
export class NatsFace {
  readonly #nc: NatsConnection;
  readonly #hub: Hub;
  readonly #subjects: ClusterSubjects;
  readonly #self: string;
  readonly #version: string;
  readonly #started = new Date().toISOString();
  readonly #services = new Map<
    string,
    { subscription: Subscription; requests: number; errors: number; ms: number }
  >();
  readonly #micro: Subscription[] = [];
  readonly #callTimeoutMs: number;

  constructor(options: {
    nc: NatsConnection;
    hub: Hub;
    subjects: ClusterSubjects;
    self: string;
    version: string;
    callTimeoutMs: number;
  }) {
    this.#nc = options.nc;
    this.#hub = options.hub;
    this.#subjects = options.subjects;
    this.#self = options.self;
    this.#version = options.version;
    this.#callTimeoutMs = options.callTimeoutMs;
    for (const verb of ["PING", "INFO", "STATS"] as const)
      for (const subject of [
        `$SRV.${verb}`,
        `$SRV.${verb}.${MICRO_SERVICE_NAME}`,
        `$SRV.${verb}.${MICRO_SERVICE_NAME}.${this.#microId}`,
      ])
        this.#micro.push(
          this.#nc.subscribe(subject, {
            callback: (error, message) => {
              if (error === null) this.#answer(verb, message);
            },
          }),
        );
  }

  /** The hub's id in `$SRV` answers: its name, as one subject token. */
  get #microId(): string {
    return this.#subjects.hubToken(this.#self);
  }

  /** This hub hosts `service` now (or no longer): plain clients may call it here. */
  hosted(service: string, hosted: boolean): void {
    const existing = this.#services.get(service);
    if (hosted && existing === undefined) {
      const token = this.#subjects.service(service);
      const subscription = this.#nc.subscribe(token, {
        queue: token,
        callback: (error, message) => {
          if (error === null) void this.#serve(service, message);
        },
      });
      this.#services.set(service, { subscription, requests: 0, errors: 0, ms: 0 });
    } else if (!hosted && existing !== undefined) {
      existing.subscription.unsubscribe();
      this.#services.delete(service);
    }
  }

  close(): void {
    for (const { subscription } of this.#services.values()) subscription.unsubscribe();
    this.#services.clear();
    for (const subscription of this.#micro) subscription.unsubscribe();
  }

  async #serve(service: string, message: Msg): Promise<void> {
    const figures = this.#services.get(service);
    const started = performance.now();
    if (figures !== undefined) figures.requests++;
    try {
      const text = new TextDecoder().decode(message.data);
      const data: unknown = text.length === 0 ? undefined : JSON.parse(text);
      const reply = await this.#hub.call(service, data, { timeout: this.#callTimeoutMs });
      // A reply JSON cannot hold (a BigInt, a cycle) throws here and is answered as an error.
      message.respond(reply === undefined ? "" : JSON.stringify(reply));
    } catch (error) {
      if (figures !== undefined) figures.errors++;
      const typed = error as { code?: unknown; message?: unknown };
      const code =
        typeof typed?.code === "string"
          ? typed.code
          : error instanceof SyntaxError
            ? "EINVALID_ARGUMENT"
            : "EHANDLER";
      const text = typeof typed?.message === "string" ? typed.message : String(error);
      const headers = natsHeaders();
      // A header value holds no line break (nats.js throws on one), and messages may quote the
      // request: a JSON error quotes the body, CR/LF included.
      headers.set("Nats-Service-Error", oneLine(text).slice(0, 1000));
      headers.set("Nats-Service-Error-Code", String(statusOf(code)));
      headers.set("Beamhub-Error-Code", oneLine(code).slice(0, 100));
      try {
        message.respond(JSON.stringify({ error: { code, message: text } }), { headers });
      } catch {
        // NATS is closed: nobody to answer.
      }
    } finally {
      if (figures !== undefined) figures.ms += performance.now() - started;
    }
  }

  #answer(verb: "PING" | "INFO" | "STATS", message: Msg): void {
    const base = {
      name: MICRO_SERVICE_NAME,
      id: this.#microId,
      version: this.#version,
      metadata: { hub: this.#self },
    };
    const endpoints = [...this.#services].map(([service, figures]) => ({
      name: this.#subjects.serviceToken(service),
      subject: this.#subjects.service(service),
      queue_group: this.#subjects.service(service),
      metadata: { service },
      ...(verb === "STATS"
        ? {
            num_requests: figures.requests,
            num_errors: figures.errors,
            last_error: "",
            processing_time: Math.round(figures.ms * 1e6),
            average_processing_time:
              figures.requests === 0 ? 0 : Math.round((figures.ms * 1e6) / figures.requests),
          }
        : {}),
    }));
    const answer =
      verb === "PING"
        ? { type: "io.nats.micro.v1.ping_response", ...base }
        : verb === "INFO"
          ? {
              type: "io.nats.micro.v1.info_response",
              ...base,
              description: `beamhub hub "${this.#self}": its services, callable with a request on their subject`,
              endpoints,
            }
          : { type: "io.nats.micro.v1.stats_response", ...base, started: this.#started, endpoints };
    message.respond(JSON.stringify(answer));
  }
}

/** `text` with each run of CR/LF as one space. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, " ");
}

/** An HTTP-like status for the `Nats-Service-Error-Code` header (as NATS services use them). */
function statusOf(code: string): number {
  switch (code) {
    case "ESERVICE_NOT_FOUND":
      return 404;
    case "EFORBIDDEN":
      return 403;
    case "ETIMEOUT":
      return 504;
    case "EINVALID_ARGUMENT":
      return 400;
    default:
      return 500;
  }
}
