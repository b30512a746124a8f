'use strict';

/**
 * A local Serverless plugin that makes a cloud stage fail early and say why:
 * - on package, deploy and offline start: a required stage parameter left empty stops the
 *   command with the parameter's name and what it is for;
 * - on deploy: the stage's required secrets must already exist in SSM Parameter Store (their
 *   names are checked, their values are never read), or the deploy stops naming each one missing.
 *   It is checked before the package is built, and again before the stack is touched when
 *   `deploy --package` skips the build.
 * The `dev` stage declares no checks (deploy/local.yml), so it is never stopped by this.
 * Plain JavaScript: the framework loads plugins with `require`.
 */

/** GetParameters takes at most this many names per call. */
const NAMES_PER_CALL = 10;

class StageChecks {
  constructor(serverless, options = {}) {
    this.serverless = serverless;
    this.options = options;
    this.hooks = {
      'before:package:initialize': () => this.beforePackage(),
      'before:offline:start': () => this.checkParameters(),
      'before:offline:start:init': () => this.checkParameters(),
      'before:deploy:deploy': () => this.checkSecrets(),
    };
  }

  /** `custom.stageChecks` as resolved for this stage, or undefined for a stage without checks. */
  get checks() {
    return this.serverless.service.custom && this.serverless.service.custom.stageChecks;
  }

  /** Parameters on every package; on a deploy the secrets too, before minutes go into a build. */
  async beforePackage() {
    this.checkParameters();
    const commands = (this.serverless.processedInput && this.serverless.processedInput.commands) || [];
    if (commands[0] === 'deploy') await this.checkSecrets();
  }

  checkParameters() {
    const checks = this.checks;
    if (!checks) return;
    const missing = Object.entries(checks.requiredParams || {}).filter(
      ([, value]) => value === undefined || value === null || String(value).trim() === '',
    );
    if (missing.length === 0) return;
    const lines = missing.map(([name]) => `  --param="${name}=..."  ${(checks.paramHelp || {})[name] || ''}`.trimEnd());
    throw new this.serverless.classes.Error(
      `Stage "${this.stage()}" is missing required parameter(s): ${missing.map(([name]) => name).join(', ')}\n${lines.join('\n')}`,
    );
  }

  /** Once per command, however many hooks ask. */
  checkSecrets() {
    this.secretsChecked ??= this.findMissingSecrets();
    return this.secretsChecked;
  }

  async findMissingSecrets() {
    const checks = this.checks;
    if (!checks) return;
    const when = Object.entries(checks.requiredSecretsWhen || {}).filter(([, enabled]) => String(enabled) === 'true');
    const names = [...(checks.requiredSecrets || []), ...when.map(([name]) => name)].map((name) => `${checks.secretsPath}/${name}`);
    if (names.length === 0) return;
    const missing = await this.invalidParameterNames(names);
    if (missing.length > 0) {
      throw new this.serverless.classes.Error(
        `Stage "${this.stage()}" is missing secret parameter(s) in SSM: ${missing.join(', ')}\n` +
          `  create each as a SecureString, for example: aws ssm put-parameter --type SecureString --name ${missing[0]} --value '...'`,
      );
    }
  }

  /**
   * The names among `names` that do not exist in SSM: GetParameters with WithDecryption false,
   * so no value is decrypted, through an AWS SDK v3 client configured by the framework
   * (credentials, profile, region, proxy; `AWS_ENDPOINT_URL` where set).
   */
  async invalidParameterNames(names) {
    const { SSMClient, GetParametersCommand } = await import('@aws-sdk/client-ssm');
    const client = new SSMClient(await this.serverless.getProvider('aws').getAwsSdkV3Config());
    try {
      const missing = [];
      for (let i = 0; i < names.length; i += NAMES_PER_CALL) {
        const result = await client.send(new GetParametersCommand({ Names: names.slice(i, i + NAMES_PER_CALL), WithDecryption: false }));
        missing.push(...(result.InvalidParameters || []));
      }
      return missing;
    } finally {
      client.destroy();
    }
  }

  stage() {
    return this.serverless.service.provider.stage;
  }
}

module.exports = StageChecks;
