export { checkMlesAuth, mlesAuth, mlesAuthHash, parseMlesAuth } from "./auth.js";
export {
  MlesAuthError,
  MlesChannelFullError,
  MlesConfigError,
  MlesDuplicateError,
  MlesError,
  MlesForbiddenError,
  MlesHeaderError,
  MlesHeaderTimeoutError,
  MlesLaggedError,
} from "./errors.js";
export { parseMlesHeader, type MlesHeader } from "./header.js";
export { mlesIdentity, mlesJoinIdentity } from "./identity.js";
export { MLES_PROTOCOL, MlesFace, type MlesHubLike } from "./mles-face.js";
export { MLES_DEFAULTS, type MlesOptions } from "./options.js";
