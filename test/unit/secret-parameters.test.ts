import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SECRET_PARAMETERS } from '../../lib/secrets/secret-parameters';

interface Statement {
  Effect: string;
  Action: string[];
  Resource: string[];
}

/** deploy/cloud.yml, the cloud stages' part of serverless.yml; CloudFormation tags read as plain strings. */
const cloud = parse(readFileSync('deploy/cloud.yml', 'utf8'), { logLevel: 'silent' }) as {
  environment: Record<string, string>;
  secretStatements: Statement[];
};

describe('the cloud stages and the secret parameters the gateway reads', () => {
  it('point the Lambdas at SSM under /<service>/<stage>', () => {
    expect(cloud.environment).toMatchObject({ SECRETS_SOURCE: 'ssm', SECRETS_PATH: '/${self:service}/${sls:stage}' });
  });

  it('let the Lambdas read exactly the parameters the secrets provider asks for, optional ones included', () => {
    // One GetParameters call asks for all of them; AWS refuses the whole call if one name is not allowed.
    const granted = cloud.secretStatements
      .filter((s) => s.Effect === 'Allow' && s.Action.includes('ssm:GetParameters'))
      .flatMap((s) => s.Resource)
      .map((arn) => /:parameter\/\$\{self:service\}\/\$\{sls:stage\}\/([A-Z_]+)$/.exec(arn)?.[1]);
    expect(granted.sort()).toEqual(SECRET_PARAMETERS.map((p) => p.name).sort());
  });
});
