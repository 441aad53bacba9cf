/**
 * A Unix peer for the identity tests, often started as another user: connects to the hub at
 * argv[2] and, for each further argument `service` or `service=json`, calls it and prints one
 * JSON line, `{"reply": ...}` or `{"error": {"name", "code", "message"}}`. A connection the hub
 * refuses prints one error line. Stays connected until stdin ends when the last argument is
 * `--hold` (for the connection caps), printing "connected" once it is.
 */
import { connectUnix, type RemoteHub } from "../../index.js";

const print = (line: unknown): void => void process.stdout.write(`${JSON.stringify(line)}\n`);
const describe = (error: unknown): unknown => {
  const { name, code, message } = error as { name?: string; code?: string; message?: string };
  return { error: { name, code, message } };
};

const [socket, ...rest] = process.argv.slice(2);
const hold = rest.at(-1) === "--hold";
let hub: RemoteHub;
try {
  hub = await connectUnix(socket!, { timeoutMs: 2000 });
} catch (error) {
  print(describe(error));
  process.exit(0);
}
for (const call of hold ? rest.slice(0, -1) : rest) {
  const equals = call.indexOf("=");
  const service = equals < 0 ? call : call.slice(0, equals);
  const data: unknown = equals < 0 ? null : JSON.parse(call.slice(equals + 1));
  try {
    print({ reply: await hub.call(service, data, { timeout: 5000 }) });
  } catch (error) {
    print(describe(error));
  }
}
if (hold) {
  print("connected");
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.once("end", resolve));
}
await hub.close();
