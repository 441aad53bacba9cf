import { describe, expect, it } from "vitest";
import {
  ClosedError,
  connect,
  Hub,
  HubUrlError,
  listen,
  MemoryAddressError,
  MemoryHub,
  UnknownSchemeError,
} from "../../index.js";

describe("connect(url) and listen(hub, url)", () => {
  it.each([
    ["tcp://localhost:1", UnknownSchemeError, "ESCHEME"],
    ["http://localhost:8443", UnknownSchemeError, "ESCHEME"],
    ["/run/beamhub.sock", HubUrlError, "EURL"],
    ["unix:/run/beamhub.sock", HubUrlError, "EURL"],
    ["unix://", HubUrlError, "EURL"],
    ["https://", HubUrlError, "EURL"],
  ])("refuses %s with a typed error naming the address", async (url, type, code) => {
    const failure = await connect(url).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(type);
    expect(failure).toMatchObject({ code, url });
    expect((failure as Error).message).toContain(JSON.stringify(url));
    await expect(listen(new Hub(), url)).rejects.toBeInstanceOf(type);
  });

  it("tells to use TLS for http:// and ws://", async () => {
    await expect(connect("ws://hub:8443")).rejects.toThrow(/TLS only: wss:\/\/hub:8443/);
  });

  it("refuses an HTTPS listen address with a path", async () => {
    await expect(listen(new Hub(), "https://127.0.0.1:0/prefix")).rejects.toThrow(/has a path/);
  });

  it("connects to a memory hub by name, with the methods of a remote hub", async () => {
    const hub = new Hub();
    const listener = await listen(hub, "memory://connect-url");
    expect(listener.url).toBe("memory://connect-url");
    const server = await connect("memory:connect-url");
    const client = await connect("memory://connect-url");
    expect(client).toBeInstanceOf(MemoryHub);
    expect(client.state).toBe("connected");
    await server.register("greet", (name) => `hello ${String(name)}`);
    expect(await client.call("greet", "ada")).toBe("hello ada");
    await client.close();
    expect(client.state).toBe("closed");
    expect(await client.closed).toBeUndefined();
    // The hub closing closes its memory clients, with the reason.
    await hub.close();
    expect(await server.closed).toBeInstanceOf(ClosedError);
    await listener.close();
    await expect(connect("memory:connect-url")).rejects.toBeInstanceOf(MemoryAddressError);
  });

  it("takes memory: alone as memory://default", async () => {
    const hub = new Hub();
    const listener = await listen(hub, "memory:");
    expect(listener.url).toBe("memory://default");
    const client = await connect("memory:");
    expect(await client.list()).toEqual([]);
    await client.close();
    await listener.close();
    await hub.close();
  });
});
