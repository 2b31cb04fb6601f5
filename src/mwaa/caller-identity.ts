/**
 * Who the AWS credentials are: STS GetCallerIdentity's ARN (a user, an assumed role's session),
 * which deploy records keep. The call needs no IAM permission (AWS: "No permissions are required to
 * perform this operation"), and it goes through the bounded client of clients.ts.
 */
import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';

export async function callerArn(sts: Pick<STSClient, 'send'>): Promise<string> {
  const out = await sts.send(new GetCallerIdentityCommand({}));
  if (!out.Arn) throw new Error('STS GetCallerIdentity answered without an Arn');
  return out.Arn;
}
