import type { OptionGroup } from "./option-spec.js";

/** Which registrations `ls` and `watch` show, and how. */
export const FILTER_OPTIONS: OptionGroup = {
  title: "filter options",
  inline: true,
  options: {
    prefix: { type: "string", value: "P", help: "only services whose name starts with P" },
    label: {
      type: "string",
      multiple: true,
      value: "KEY=VALUE",
      help: "only instances carrying this label (all of them, when repeated)",
    },
    json: { type: "boolean", help: "JSON for scripts instead of text" },
  },
};
