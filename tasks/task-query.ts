import type { TaskResult } from "./messages.js";

/** Which tasks `GET /v1/tasks` lists. */
export interface TaskQuery {
  from?: string;
  to?: string;
  /** Only tasks the requester has not claimed or finished (a `tempfailed` keeps a task to do). */
  todo?: boolean;
}

/** An event of a task's result stream (Samply's SSE events). */
export type ResultEvent =
  { event: "new_result"; data: TaskResult } | { event: "wait_expired"; data: null | "Task expired" };
