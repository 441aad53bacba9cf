/**
 * Runs `start` and settles with it, or rejects with `onTimeout()` after `ms`; `cleanup` runs
 * either way. Every wait of a connection attempt goes through here, so none can hang.
 */
export function withDeadline<T>(
  ms: number,
  onTimeout: () => Error,
  start: (resolve: (value: T) => void, reject: (error: unknown) => void) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    const settle =
      <A>(fn: (value: A) => void) =>
      (value: A): void => {
        clearTimeout(timer);
        fn(value);
      };
    try {
      start(settle(resolve), settle(reject));
    } catch (error) {
      settle(reject)(error);
    }
  });
}
