/** JSON for humans and scripts: binary data shows as `{"$bytes": base64}`, bigints as strings. */
export function toJson(value: unknown, pretty: boolean): string {
  return JSON.stringify(
    value,
    (_key, item: unknown) => {
      if (item instanceof Uint8Array) return { $bytes: Buffer.from(item).toString("base64") };
      if (typeof item === "bigint") return item.toString();
      if (item !== null && typeof item === "object" && "refKind" in item) {
        return { $attachment: (item as { refKind: string }).refKind };
      }
      return item;
    },
    pretty ? 2 : undefined,
  );
}

/** A plain text table: columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/**
 * A table of the first `limit` rows (at least one) and, when some of `total` were left out, a
 * line counting them (`… and 3 more channels`): what a live view shows in a terminal's height.
 */
export function firstRowsTable<Row>(
  header: string[],
  rows: readonly Row[],
  limit: number,
  cells: (row: Row) => string[],
  options: { total?: number; noun?: string } = {},
): string {
  const shown = rows.slice(0, Math.max(1, limit));
  const body = table(header, shown.map(cells));
  const left = (options.total ?? rows.length) - shown.length;
  return left > 0
    ? `${body}\n… and ${left} more${options.noun === undefined ? "" : ` ${options.noun}`}`
    : body;
}

export function formatLabels(labels: Readonly<Record<string, string>>): string {
  const entries = Object.entries(labels);
  return entries.length === 0 ? "-" : entries.map(([key, value]) => `${key}=${value}`).join(",");
}
