import { lengthPrefixed } from "../federation/length-prefixed.js";
import type { Task, TaskResult } from "../tasks/messages.js";

/**
 * The clear fields a sealed body is bound to (its signature and AEAD cover them): everything a
 * broker may read but must not change. A task's `ttl` is left out on purpose: the broker
 * rewrites it to the time left, as Samply's does.
 */
export function taskContext(task: Omit<Task, "body" | "ttl">): Buffer {
  return lengthPrefixed([
    "beamhub-task-v1",
    task.id,
    task.from,
    task.to.join("\n"),
    JSON.stringify(task.failure_strategy),
    JSON.stringify(task.metadata ?? null),
  ]);
}

/** A result's clear fields. */
export function resultContext(result: Omit<TaskResult, "body">): Buffer {
  return lengthPrefixed([
    "beamhub-result-v1",
    result.task,
    result.from,
    result.to.join("\n"),
    result.status,
    JSON.stringify(result.metadata ?? null),
  ]);
}
