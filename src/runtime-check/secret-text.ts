/**
 * A secret's text from Secrets Manager (GetSecretValue). Its own module, imported on demand by
 * ssh-key.ts, so that a check with an identity file or an inline key never loads the AWS SDK.
 * (Importing the SDK package itself dynamically loses its named exports in the bundled CLI.)
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

export async function secretText(client: Pick<SecretsManagerClient, 'send'>, arn: string): Promise<string> {
  const response = await client.send(new GetSecretValueCommand({ SecretId: arn }));
  return response.SecretString ?? (response.SecretBinary ? Buffer.from(response.SecretBinary).toString('utf8') : '');
}
