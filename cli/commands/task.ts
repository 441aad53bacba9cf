import {
  ServiceNotFoundError,
  TaskClient,
  TaskError,
  type NewResult,
  type NewTask,
  type SocketTask,
  type Task,
  type TaskQuery,
  type TaskResult,
  type WaitCondition,
} from "../../index.js";
import { parseDuration } from "../../internal.js";
import { clientConfig } from "../client-config.js";
import type { CommandInput, CommandSpec } from "../command-spec.js";
import { connectToHubWithin } from "../connect.js";
import { CliError, EXIT } from "../errors.js";
import { HUB_OPTIONS, HUB_TLS_OPTIONS } from "../options/hub-options.js";
import { table, toJson } from "../output.js";
import { pipeSocketToStdio } from "../task-socket-pipe.js";

const ACTIONS = ["post", "ls", "get", "results", "put", "watch", "socket", "sockets", "accept"] as const;
type Action = (typeof ACTIONS)[number];

/** What one `beamhub task` run needs: the client, its output, and the parsed input. */
interface TaskRun {
  readonly client: TaskClient;
  readonly input: CommandInput;
  readonly out: (text: string) => void;
  readonly json: boolean;
  /** The JSON operand (or stdin for -), parsed. */
  readonly readBody: () => Promise<unknown>;
}

function usage(message: string): CliError {
  return new CliError(`task: ${message}`, EXIT.usage);
}

/** `--wait-count N` and `--wait-time DURATION` (a bare number is milliseconds, as Samply's REST API). */
function waitOf(input: CommandInput): WaitCondition | undefined {
  const count = input.string("wait-count");
  const time = input.string("wait-time");
  if (count === undefined && time === undefined) return undefined;
  const wait: WaitCondition = {};
  if (count !== undefined) {
    if (!/^\d{1,5}$/.test(count)) throw usage(`--wait-count takes a number, got ${JSON.stringify(count)}`);
    wait.count = Number(count);
  }
  if (time !== undefined) {
    try {
      wait.timeMs = parseDuration(time, "ms", "--wait-time");
    } catch (error) {
      throw new CliError(`task: ${(error as Error).message}`, EXIT.usage, { cause: error });
    }
  }
  return wait;
}

function taskRows(tasks: readonly Task[]): string {
  const excerpt = (text: string): string => (text.length > 40 ? `${text.slice(0, 39)}…` : text);
  return table(
    ["ID", "FROM", "TO", "TTL", "BODY"],
    tasks.map((task) => [task.id, task.from, task.to.join(","), `${task.ttl}s`, excerpt(task.body)]),
  );
}

function resultRows(results: readonly TaskResult[]): string {
  return table(
    ["FROM", "STATUS", "BODY"],
    results.map((result) => [result.from, result.status, result.body ?? ""]),
  );
}

function socketRows(tasks: readonly SocketTask[]): string {
  return table(
    ["ID", "FROM", "TTL", "METADATA"],
    tasks.map((task) => [task.id, task.from, `${task.ttl}s`, JSON.stringify(task.metadata)]),
  );
}

const RUNNERS: Record<Action, (run: TaskRun) => Promise<number>> = {
  post: async ({ client, out, json, readBody }) => {
    const task = await client.post((await readBody()) as NewTask);
    out(json ? toJson(task, true) : task.id);
    return 0;
  },
  ls: async ({ client, input, out, json }) => {
    const query: TaskQuery = { todo: input.flag("todo") };
    const from = input.string("from");
    const to = input.string("to");
    if (from !== undefined) query.from = from === "me" ? client.app : from;
    if (to !== undefined) query.to = to === "me" ? client.app : to;
    if (from === undefined && to === undefined) query.todo = true;
    const answer = await client.tasks(query, waitOf(input));
    out(json ? toJson(answer.items, true) : taskRows(answer.items));
    return answer.partial ? EXIT.failed : 0;
  },
  get: async ({ client, input, out, json }) => {
    const task = await client.task(operand(input, "get"), waitOf(input));
    out(json ? toJson(task, true) : taskRows([task]));
    return 0;
  },
  results: async ({ client, input, out, json }) => {
    const answer = await client.results(operand(input, "results"), waitOf(input));
    out(json ? toJson(answer.items, true) : resultRows(answer.items));
    return answer.partial ? EXIT.failed : 0;
  },
  put: async ({ client, input, out, readBody }) => {
    const task = await client.task(operand(input, "put"));
    const outcome = await client.answer(task, (await readBody()) as NewResult);
    out(outcome);
    return 0;
  },
  watch: async ({ client, out, json }) => {
    for await (const task of client.todo())
      out(json ? toJson(task, false) : `${task.id}  from ${task.from}  ${task.body}`);
    return 0;
  },
  socket: async ({ client, input }) => {
    const to = input.operands[1];
    if (to === undefined) throw usage("socket needs the application to connect to");
    const metadataText = input.string("metadata");
    let metadata: unknown = null;
    if (metadataText !== undefined) {
      try {
        metadata = JSON.parse(metadataText);
      } catch (error) {
        throw new CliError(
          `task socket: --metadata is not valid JSON: ${(error as Error).message}`,
          EXIT.usage,
          {
            cause: error,
          },
        );
      }
    }
    await pipeSocketToStdio(await client.socket(to, { metadata }));
    return 0;
  },
  sockets: async ({ client, input, out, json }) => {
    const answer = await client.socketTasks(waitOf(input));
    out(json ? toJson(answer.items, true) : socketRows(answer.items));
    return answer.partial ? EXIT.failed : 0;
  },
  accept: async ({ client, input }) => {
    await pipeSocketToStdio(await client.accept(operand(input, "accept")));
    return 0;
  },
};

function operand(input: CommandInput, action: string): string {
  const id = input.operands[1];
  if (id === undefined) throw usage(`${action} needs a task id`);
  return id;
}

/**
 * `beamhub task <action>`: Samply.Beam's task operations as one application, through the hub's
 * `tasks` service (over the hub's socket or https, like every client command).
 */
export const taskCommand: CommandSpec = {
  name: "task",
  operands: [
    { name: ACTIONS.join("|") },
    { name: "id|json|-", optional: true },
    { name: "json|-", optional: true },
  ],
  summary: "post tasks, answer them and read results (Samply.Beam's task API)",
  description:
    "As the application --app (with its --key, env BEAMHUB_APP and BEAMHUB_APP_KEY; without a key the hub must map " +
    "this session's identity to the application, config apps.<name>.identities), through the hub's tasks service:\n" +
    '  post <json|->        posts a task, e.g. {"to":["app2.proxy1.broker"],"body":"...","ttl":"60s"}; prints its id\n' +
    "  ls                   lists tasks to do (--todo, the default), or --from me / --to me\n" +
    "  get <id>             one task this application sent or works on\n" +
    "  results <id>         the results of a task this application sent\n" +
    '  put <id> <json|->    this worker\'s result, e.g. {"status":"succeeded","body":"42"}\n' +
    "  watch                prints each task to do as it comes, until stopped\n" +
    "  socket <app>         asks <app> for a socket (--metadata JSON) and, once it joins, pipes stdin and stdout through it (like nc)\n" +
    "  sockets              lists the sockets other applications ask this one for (long-polls with --wait-count/--wait-time)\n" +
    "  accept <id>          joins that socket and pipes stdin and stdout through it\n" +
    "ls, get and results long-poll with --wait-count N and --wait-time DURATION (a bare number is ms); " +
    "ls and results exit 1 when fewer than --wait-count came (Samply's 206).",
  groups: [
    {
      title: "task options",
      inline: true,
      options: {
        app: {
          type: "string",
          value: "ID",
          help: "the application, e.g. app1.proxy1.broker (env BEAMHUB_APP)",
        },
        key: { type: "string", value: "KEY", help: "its key (env BEAMHUB_APP_KEY)" },
        todo: { type: "boolean", help: "ls: tasks this application has to do (the default)" },
        from: { type: "string", value: "ID|me", help: "ls: tasks sent by this application" },
        to: { type: "string", value: "ID|me", help: "ls: tasks addressed to this application" },
        "wait-count": { type: "string", value: "N", help: "long poll: wait for N items" },
        "wait-time": {
          type: "string",
          value: "DURATION",
          help: "long poll: wait at most this long (500ms, 10s)",
        },
        metadata: {
          type: "string",
          value: "JSON",
          help: "socket: what the recipient sees in the socket task",
        },
        json: { type: "boolean", help: "print JSON instead of a table" },
      },
    },
    HUB_OPTIONS,
    HUB_TLS_OPTIONS,
  ],
  run: async (input, io) => {
    const action = input.operands[0] as Action;
    if (!ACTIONS.includes(action))
      throw usage(`unknown action ${JSON.stringify(action)}; one of ${ACTIONS.join(", ")}`);
    const app = input.string("app") ?? io.env.BEAMHUB_APP;
    const key = input.string("key") ?? io.env.BEAMHUB_APP_KEY;
    if (app === undefined)
      throw usage(
        "give the application with --app ID and --key KEY (or BEAMHUB_APP, BEAMHUB_APP_KEY; no key: the hub maps your identity)",
      );
    const bodyOperand = action === "post" ? input.operands[1] : input.operands[2];
    const readBody = async (): Promise<unknown> => {
      const text = bodyOperand === "-" ? (await io.readStdin()).toString() : bodyOperand;
      if (text === undefined) throw usage(`${action} needs JSON (or - to read it from stdin)`);
      try {
        return JSON.parse(text);
      } catch (error) {
        throw new CliError(`task ${action}: not valid JSON: ${(error as Error).message}`, EXIT.usage, {
          cause: error,
        });
      }
    };
    const config = clientConfig(input);
    const { hub } = await connectToHubWithin(config, config.timeout);
    try {
      const client = new TaskClient(hub, key === undefined ? { app } : { app, key });
      return await RUNNERS[action]({ client, input, out: io.out, json: input.flag("json"), readBody });
    } catch (error) {
      if (error instanceof CliError) throw error;
      if (error instanceof ServiceNotFoundError) {
        throw new CliError("task: the hub serves no tasks service (is it an older beamhub?)", EXIT.notFound, {
          cause: error,
        });
      }
      if (error instanceof TaskError)
        throw new CliError(`task ${action}: ${error.code} (${error.status}): ${error.message}`, EXIT.failed, {
          cause: error,
        });
      throw error;
    } finally {
      await hub.close();
    }
  },
};
