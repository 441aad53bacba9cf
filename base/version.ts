/**
 * The package version (package.json's `version`; test/package/pack-install.test.ts checks they
 * agree). Here, in the lowest layer, so that every layer can say which beamhub it is — the
 * cluster's `$SRV.INFO` answers, `beamhub --version`.
 */
export const VERSION = "0.1.0";
