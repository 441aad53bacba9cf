/**
 * A small parser of the Prometheus text format (version 0.0.4), written from the format's
 * description rather than from prom-client, to read what a scrape really returned: every
 * sample line must parse, every sample belong to a declared family.
 */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromText {
  types: Map<string, string>;
  samples: PromSample[];
  /** The value of `name` with exactly these labels (among others), or undefined. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** The sum over every sample of `name` matching `labels`. */
  sum(name: string, labels?: Record<string, string>): number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/gy;

export function parsePrometheusText(text: string): PromText {
  const types = new Map<string, string>();
  const samples: PromSample[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    if (line.startsWith("# TYPE ")) {
      const [name, type] = line.slice(7).split(" ");
      types.set(name!, type!);
      continue;
    }
    if (line.startsWith("#")) continue;
    const match = SAMPLE.exec(line);
    if (match === null) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    const [, name, labelText = "", rawValue] = match;
    const labels: Record<string, string> = {};
    LABEL.lastIndex = 0;
    let consumed = 0;
    for (let label = LABEL.exec(labelText); label !== null; label = LABEL.exec(labelText)) {
      labels[label[1]!] = label[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
      consumed = LABEL.lastIndex;
    }
    if (consumed !== labelText.length) throw new Error(`bad labels in ${JSON.stringify(line)}`);
    // Values are Go floats: NaN and Inf in any case (prom-client writes "Nan" before the first sample).
    const lower = rawValue!.toLowerCase();
    const value =
      lower === "+inf" || lower === "inf"
        ? Infinity
        : lower === "-inf"
          ? -Infinity
          : lower === "nan"
            ? NaN
            : Number(rawValue);
    if (Number.isNaN(value) && lower !== "nan") throw new Error(`bad value in ${JSON.stringify(line)}`);
    const family = name!.replace(/_(bucket|sum|count|total)$/, "");
    if (!types.has(name!) && !types.has(family)) throw new Error(`sample ${name} of no declared family`);
    samples.push({ name: name!, labels, value });
  }
  const matching = (name: string, labels: Record<string, string>): PromSample[] =>
    samples.filter(
      (sample) => sample.name === name && Object.entries(labels).every(([k, v]) => sample.labels[k] === v),
    );
  return {
    types,
    samples,
    value: (name, labels = {}) => matching(name, labels)[0]?.value,
    sum: (name, labels = {}) => matching(name, labels).reduce((total, sample) => total + sample.value, 0),
  };
}
