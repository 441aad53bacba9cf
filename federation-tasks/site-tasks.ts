import type { FederationSite } from "../federation/site.js";
import { SignatureError } from "../federation/seal/errors.js";
import { seal } from "../federation/seal/seal.js";
import { TASKS_SERVICE } from "../federation/names.js";
import { classifyId, parseHubId } from "../tasks/beam-id.js";
import { TaskError } from "../tasks/errors.js";
import { MAX_WAIT_MS, type PollAnswer, type WaitCondition } from "../tasks/long-poll.js";
import type { Task, TaskResult } from "../tasks/messages.js";
import { reviveTaskError } from "../tasks/task-client.js";
import type { TaskFederation } from "../tasks/task-federation.js";
import type { TaskQuery } from "../tasks/task-query.js";
import { BrokerUnavailableError, UntrustedMessageError } from "./errors.js";
import { resultContext, taskContext } from "./message-context.js";
import { sealedFromText, sealedToText } from "./sealed-text.js";
import { SiteDirectory, type SiteDirectoryOptions } from "./site-directory.js";
import type { FederatedTaskRequest } from "./broker-tasks.js";

/** Options of {@link SiteTasks}. */
export interface SiteTasksOptions extends SiteDirectoryOptions {
  /** Told about each task or result left out of an answer because it could not be trusted. */
  onRejected?: (error: UntrustedMessageError) => void;
}

/**
 * A site's tasks, kept at the federation's broker (give it to `TaskBroker.federate`). Before a
 * body leaves the site it is sealed (`federation/seal/`) for the hubs of its recipients and this
 * hub, signed by this hub, and bound to the clear fields (id, from, to, metadata, ...) that the
 * broker reads to route and filter, as Samply separates `body` from `metadata`. What comes back
 * is opened here: a body whose signature fails, whose sender's certificate is expired or
 * revoked, or whose sender hub is not the hub of its `from`, is refused.
 */
export class SiteTasks implements TaskFederation {
  readonly #site: FederationSite;
  readonly #broker: string;
  readonly #directory: SiteDirectory;
  readonly #onRejected: (error: UntrustedMessageError) => void;

  constructor(site: FederationSite, options: SiteTasksOptions = {}) {
    this.#site = site;
    this.#broker = parseHubId(site.id).broker;
    this.#directory = new SiteDirectory(site.broker, site.keys, options);
    this.#onRejected = options.onRejected ?? (() => undefined);
  }

  async post(app: string, task: Task): Promise<Task> {
    const sealed = seal(Buffer.from(task.body), {
      from: this.#site.id,
      signingKey: this.#site.keys.self.key,
      recipients: await this.#directory.recipients(this.#hubsOf(task.to)),
      context: taskContext(task),
    });
    const stored = await this.#call<Task>({ op: "post", app, task: { ...task, body: sealedToText(sealed) } });
    return { ...stored, body: task.body };
  }

  async tasks(
    app: string,
    query: TaskQuery,
    wait: WaitCondition,
    signal?: AbortSignal,
  ): Promise<PollAnswer<Task>> {
    const answer = await this.#call<PollAnswer<Task>>({ op: "tasks", app, query, wait }, signal);
    return {
      items: await this.#trusted(answer.items, (task) => this.#openTask(task)),
      partial: answer.partial,
    };
  }

  async task(app: string, id: string, wait: WaitCondition, signal?: AbortSignal): Promise<Task> {
    return this.#openTask(await this.#call<Task>({ op: "task", app, id, wait }, signal));
  }

  async results(
    app: string,
    id: string,
    wait: WaitCondition,
    signal?: AbortSignal,
  ): Promise<PollAnswer<TaskResult>> {
    const answer = await this.#call<PollAnswer<TaskResult>>({ op: "results", app, id, wait }, signal);
    return {
      items: await this.#trusted(answer.items, (result) => this.#openResult(result)),
      partial: answer.partial,
    };
  }

  async putResult(app: string, id: string, result: TaskResult): Promise<"created" | "updated"> {
    const { body, ...clear } = result;
    // An absent body is sealed too, so that the status and metadata are signed all the same.
    const plain = body === undefined ? "0" : `1${body}`;
    const sealed = seal(Buffer.from(plain), {
      from: this.#site.id,
      signingKey: this.#site.keys.self.key,
      recipients: await this.#directory.recipients(this.#hubsOf(result.to)),
      context: resultContext(clear),
    });
    return this.#call({ op: "put", app, id, result: { ...clear, body: sealedToText(sealed) } });
  }

  /** The recipients' hubs and this one (a sender reads its own task back). */
  #hubsOf(to: readonly string[]): string[] {
    return [...new Set([this.#site.id, ...to.map((id) => classifyId(id, this.#broker).hub)])];
  }

  async #openTask(task: Task): Promise<Task> {
    const body = await this.#open(task.body, task.from, taskContext(task), `task ${task.id}`);
    return { ...task, body: body.toString("utf8") };
  }

  async #openResult(result: TaskResult): Promise<TaskResult> {
    const { body: text, ...clear } = result;
    const plain = (
      await this.#open(text, result.from, resultContext(clear), `result of ${result.from}`)
    ).toString("utf8");
    return plain.startsWith("1") ? { ...clear, body: plain.slice(1) } : clear;
  }

  async #open(text: unknown, from: string, context: Buffer, what: string): Promise<Buffer> {
    try {
      const sealed = sealedFromText(text);
      const hub = classifyId(from, this.#broker).hub;
      if (sealed.from !== hub) throw new UntrustedMessageError(`sealed by ${sealed.from}, not by ${hub}`);
      const opening = async (fresh: boolean): Promise<Buffer> =>
        this.#site.keys.sealing.open(sealed, {
          hub: this.#site.id,
          senderKey: await this.#directory.senderKey(sealed.from, fresh),
          context,
        });
      try {
        return await opening(false);
      } catch (error) {
        // The sender may have renewed its certificate since its chain was cached: ask once more.
        if (!(error instanceof SignatureError)) throw error;
        return await opening(true);
      }
    } catch (error) {
      throw new UntrustedMessageError(`${what} from ${from} is refused: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /** The items that open; the others are reported and left out. */
  async #trusted<T>(items: readonly T[], opener: (item: T) => Promise<T>): Promise<T[]> {
    const opened = await Promise.allSettled(items.map(opener));
    const kept: T[] = [];
    for (const outcome of opened) {
      if (outcome.status === "fulfilled") kept.push(outcome.value);
      else if (outcome.reason instanceof UntrustedMessageError) this.#onRejected(outcome.reason);
      else throw outcome.reason;
    }
    return kept;
  }

  async #call<T>(request: FederatedTaskRequest, signal?: AbortSignal): Promise<T> {
    const wait = "wait" in request ? request.wait : undefined;
    const waited = wait?.timeMs ?? (wait?.count === undefined ? 0 : MAX_WAIT_MS);
    try {
      return await this.#site.broker.call<T>(TASKS_SERVICE, request, {
        timeout: waited + 30_000,
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (error) {
      const revived = reviveTaskError(error);
      if (revived instanceof TaskError || signal?.aborted === true) throw revived;
      throw new BrokerUnavailableError(
        `the federation's broker did not answer: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }
}
