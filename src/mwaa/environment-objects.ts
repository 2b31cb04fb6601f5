/**
 * The S3 objects an MWAA environment reads by version, with their field names in CreateEnvironment,
 * UpdateEnvironment and GetEnvironment (MWAA API reference, UpdateEnvironment:
 * https://docs.aws.amazon.com/mwaa/latest/API/API_UpdateEnvironment.html). A `*S3ObjectVersion`
 * without its `*S3Path` means the path the environment already has.
 */
export const MWAA_VERSIONED_OBJECTS = {
  Plugins: { path: 'PluginsS3Path', version: 'PluginsS3ObjectVersion' },
  Requirements: { path: 'RequirementsS3Path', version: 'RequirementsS3ObjectVersion' },
  StartupScript: { path: 'StartupScriptS3Path', version: 'StartupScriptS3ObjectVersion' },
} as const;

export type MwaaVersionedObject = keyof typeof MWAA_VERSIONED_OBJECTS;
export type MwaaObjectField =
  (typeof MWAA_VERSIONED_OBJECTS)[MwaaVersionedObject][keyof (typeof MWAA_VERSIONED_OBJECTS)[MwaaVersionedObject]];
