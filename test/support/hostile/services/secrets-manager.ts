/** A minimal Secrets Manager (AWS JSON 1.1): GetSecretValue of the world's one secret, by ARN. */
import type { Reply, Service } from '../http-server.js';
import type { WorldState } from '../state.js';

function json(status: number, body: unknown): Reply {
  return { status, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify(body) };
}

export function secretsManagerService(state: WorldState): Service {
  return {
    display: 'Secrets Manager',
    aws: 'secretsManager',
    contentType: 'application/x-amz-json-1.1',
    bodyPrefix: '{"ARN":"',
    operation(request) {
      const target = String(request.headers['x-amz-target'] ?? '');
      return target.startsWith('secretsmanager.') ? target.slice('secretsmanager.'.length) : `unknown target ${target}`;
    },
    handle(request) {
      const input = JSON.parse(request.body.toString('utf8') || '{}') as { SecretId?: string };
      if (this.operation(request) !== 'GetSecretValue') {
        return json(400, { __type: 'UnknownOperationException', Message: `the harness does not serve ${this.operation(request)}` });
      }
      if (input.SecretId !== state.secret.arn) {
        return json(400, { __type: 'ResourceNotFoundException', Message: "Secrets Manager can't find the specified secret." });
      }
      return json(200, {
        ARN: state.secret.arn,
        Name: state.secret.arn.split(':').at(-1),
        SecretString: state.secret.value,
        VersionId: '00000000-0000-0000-0000-000000000001',
        VersionStages: ['AWSCURRENT'],
        CreatedDate: Date.now() / 1000,
      });
    },
  };
}
