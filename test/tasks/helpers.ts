import { randomUUID } from "node:crypto";

export const APP1 = "app1.proxy1.broker";
export const APP2 = "app2.proxy1.broker";
export const APP3 = "app3.proxy1.broker";
export const KEYS = { app1: "App1Secret", app2: "App1Secret", app3: "App3Secret" };

export function auth(app: string, key = app === APP3 ? "App3Secret" : "App1Secret"): Record<string, string> {
  return { authorization: `ApiKey ${app} ${key}` };
}

/** A task as the walkthrough of Samply.Beam's README posts it (with both apps on one hub). */
export function aTask(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    body: "What is the answer to the ultimate question of life, the universe, and everything?",
    failure_strategy: { retry: { backoff_millisecs: 1000, max_tries: 5 } },
    from: APP1,
    id: randomUUID(),
    metadata: "The broker can read and use this field e.g., to apply filters on behalf of an app",
    to: [APP2],
    ttl: "60s",
    ...overrides,
  };
}

export function aResult(
  task: string,
  status: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    from: APP2,
    metadata: ["Arbitrary", "types", "are", "possible"],
    status,
    task,
    to: [APP1],
    ...overrides,
  };
}

/** A client of one task listener: JSON in and out, the status kept. */
export class RestClient {
  constructor(readonly base: string) {}

  async request(
    method: string,
    path: string,
    app: string | Record<string, string> | undefined,
    body?: unknown,
    headers: Record<string, string> = {},
    timeoutMs = 10_000,
  ): Promise<{ status: number; headers: Headers; text: string; json: () => unknown }> {
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        ...(typeof app === "string" ? auth(app) : (app ?? {})),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
  }
}
