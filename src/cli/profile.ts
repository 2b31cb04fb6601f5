/** `--profile <name>`: the AWS profile for this run, as the AWS CLI's flag of the same name. */
export function useProfile(profile: string | undefined, env: NodeJS.ProcessEnv = process.env): void {
  // The SDK reads AWS_PROFILE when it builds its credential chain; with a profile named, it skips
  // AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, so the named profile wins as it does for the AWS CLI.
  if (profile !== undefined) env.AWS_PROFILE = profile;
}
