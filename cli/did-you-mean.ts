/**
 * The edit distance between two words where swapping two neighbouring letters counts as one
 * edit (optimal string alignment): `--lable` is one slip from `--label`, not two.
 */
export function editDistance(a: string, b: string): number {
  // Three rows of the dynamic-programming table are all the transposition step looks back at.
  let before = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, column) => column);
  for (let row = 1; row <= a.length; row++) {
    const current = [row];
    for (let column = 1; column <= b.length; column++) {
      const cost = a[row - 1] === b[column - 1] ? 0 : 1;
      let best = Math.min(previous[column]! + 1, current[column - 1]! + 1, previous[column - 1]! + cost);
      if (row > 1 && column > 1 && a[row - 1] === b[column - 2] && a[row - 2] === b[column - 1]) {
        best = Math.min(best, before[column - 2]! + 1);
      }
      current.push(best);
    }
    before = previous;
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The candidate `word` was most likely meant to be, or undefined when none is close: at most
 * one edit for words of up to 4 letters, two up to 8, three beyond; a candidate that `word` is
 * the start of (`--pre` for `--prefix`) counts as close too. Ties go to the first candidate.
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const allowed = word.length <= 4 ? 1 : word.length <= 8 ? 2 : 3;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance =
      word.length >= 3 && candidate.startsWith(word) ? 1 : editDistance(word.toLowerCase(), candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= allowed ? best : undefined;
}

/** ` (did you mean X?)` for the closest candidate, or nothing. */
export function didYouMean(
  word: string,
  candidates: Iterable<string>,
  show: (candidate: string) => string = (candidate) => candidate,
): string {
  const match = closest(word, candidates);
  return match === undefined ? "" : ` (did you mean ${show(match)}?)`;
}
