// A client program for the hand-off library tests, run as its own process (with LD_PRELOAD):
// connects to host:port, prints one JSON line per event (where its socket leads once connected,
// each chunk it receives, the end, an error), and sends each line of its stdin.
import { connect } from "node:net";
import { createInterface } from "node:readline";

const [host, port, clear] = process.argv.slice(2);
// "clear-env": a program that scrubs its environment before it connects.
if (clear === "clear-env") delete process.env.BEAMHUB_HANDOFF;
const print = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);
const socket = connect({ host, port: Number(port), allowHalfOpen: true });
socket.setEncoding("utf8");
socket.once("connect", () =>
  print({ event: "connected", remotePort: socket.remotePort, localPort: socket.localPort }),
);
socket.on("data", (data) => print({ event: "data", data }));
socket.on("end", () => print({ event: "end" }));
socket.on("error", (error) => print({ event: "error", code: error.code }));
socket.on("close", () => process.exit(0));
createInterface({ input: process.stdin })
  .on("line", (line) => socket.write(line))
  .on("close", () => socket.end());
