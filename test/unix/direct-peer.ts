/** A service process for the direct-channel test: serves `svc.direct` through the hub and directly. */
import { readFileSync, closeSync } from "node:fs";
import { acceptDirect, connectUnix, type FileDescriptor } from "../../index.js";

const hub = await connectUnix(process.argv[2]!);
await hub.register(
  "svc.direct",
  acceptDirect((data: { echo?: unknown; file?: FileDescriptor }, context) => {
    if (data.file !== undefined) {
      const fd = data.file.take() as number;
      try {
        return { text: readFileSync(fd, "utf8"), via: context.caller.identity?.via };
      } finally {
        closeSync(fd);
      }
    }
    return { pid: process.pid, echo: data.echo, via: context.caller.identity?.via };
  }),
);
console.log("ready");
void hub.connection.closed.then(() => process.exit(0));
