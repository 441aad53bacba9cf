/** Where a run of the CLI reads and writes: the process's streams, or a test's buffers. */
export interface CliIo {
  /** A line for stdout (results: tables, JSON). */
  out(text: string): void;
  /** A line for stderr (status, warnings, errors). */
  err(text: string): void;
  /** Raw bytes for stdout (`kv encode`). */
  write(bytes: Uint8Array): void;
  /** All of stdin. */
  readStdin(): Promise<Buffer>;
  /** The environment settings are read from (`BEAMHUB_*`). */
  readonly env: NodeJS.ProcessEnv;
}

/** The process's own streams and environment. */
export function processIo(): CliIo {
  return {
    out: (text) => void process.stdout.write(`${text}\n`),
    err: (text) => void process.stderr.write(`${text}\n`),
    write: (bytes) => void process.stdout.write(bytes),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    },
    env: process.env,
  };
}
