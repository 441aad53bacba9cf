import type { AnswerTarget } from "./channel.js";

type Settle = [(value: unknown) => void, (error: unknown) => void];

/**
 * The answer to a request passed on to another channel (`Channel.requestTo`), as the handler
 * that passed it on returns it: a thenable that the far side's answer settles at once, from the
 * frame or call that carries it. It stands for `channel.request(...)`'s promise, whose resolving
 * costs a promise and turns of the microtask queue on every request that only passes through (a
 * spliced channel, a call the hub routes to another session: issue 19, the hub hop).
 *
 * Like a promise it settles once and calls back every `then` it got; unlike one, `then` returns
 * nothing to chain (whoever awaits it — `Channel`'s handler dispatch, a call, `await` — does not).
 */
export class ForwardedAnswer implements AnswerTarget {
  /** 0 pending, 1 answered, 2 failed. */
  #state = 0;
  #outcome: unknown;
  #first: Settle | undefined;
  #more: Settle[] | undefined;

  answered(value: unknown): void {
    this.#settle(1, value);
  }

  failed(error: unknown): void {
    this.#settle(2, error);
  }

  then(onAnswered: (value: unknown) => void, onFailed: (error: unknown) => void): void {
    const settle: Settle = [onAnswered, onFailed];
    if (this.#state !== 0) {
      // Settled before anyone listened (the channel was closed): called back later, as a
      // promise would.
      queueMicrotask(() => this.#call(settle));
    } else if (this.#first === undefined) this.#first = settle;
    else (this.#more ??= []).push(settle);
  }

  #settle(state: 1 | 2, outcome: unknown): void {
    if (this.#state !== 0) return;
    this.#state = state;
    this.#outcome = outcome;
    const first = this.#first;
    const more = this.#more;
    this.#first = this.#more = undefined;
    if (first !== undefined) this.#call(first);
    if (more !== undefined) for (const settle of more) this.#call(settle);
  }

  #call(settle: Settle): void {
    if (this.#state === 1) settle[0](this.#outcome);
    else settle[1](this.#outcome);
  }
}
