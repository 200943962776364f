/**
 * Defaults of the `hpc-batch:*` keys, exactly as Pulumi.yaml declares them (a test keeps the two
 * equal). An empty string or object means "unset": a name is then generated, the display name is
 * the id, the version is computed from the commits, the pool uses `BatchPool`'s defaults.
 * Re-exported by config.ts; on their own here so the CLI's commands name them in `--help`
 * without loading the config's validation at start-up.
 */
export const CONFIG_DEFAULTS = {
  resourceGroupName: "",
  applicationStorageAccountName: "",
  batchAccountName: "",
  batchAccountPoolName: "",
  pool: {},
  tags: {},
  publicNetworkAccess: "Enabled",
  deployerPrincipalType: "User",
  deployerObjectId: "",
  batchApplicationId: "ffmpeg",
  batchAccountApplicationName: "",
  batchApplicationVersion: "",
  applicationFolder: "hpc-application",
  retainVersions: 5,
  promote: "on-publish",
} as const;
