'use strict';

/**
 * A local Serverless plugin that makes a cloud stage fail early and say why:
 * - on package, deploy and offline start: a required stage parameter left empty stops the
 *   command with the parameter's name and what it is for;
 * - on deploy: the stage's required secrets must already exist in SSM Parameter Store (their
 *   names are checked, their values are never read), or the deploy stops naming each one missing.
 * The `dev` stage declares no checks (deploy/local.yml), so it is never stopped by this.
 * Plain JavaScript: the framework loads plugins with `require`.
 */
class StageChecks {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      'before:package:initialize': () => this.checkParameters(),
      'before:offline:start': () => this.checkParameters(),
      'before:offline:start:init': () => this.checkParameters(),
      'before:deploy:deploy': () => this.checkSecrets(),
    };
  }

  /** `custom.stageChecks` as resolved for this stage, or undefined for a stage without checks. */
  get checks() {
    return this.serverless.service.custom && this.serverless.service.custom.stageChecks;
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

  async checkSecrets() {
    const checks = this.checks;
    if (!checks) return;
    const names = (checks.requiredSecrets || []).map((name) => `${checks.secretsPath}/${name}`);
    if (names.length === 0) return;
    const provider = this.serverless.getProvider('aws');
    // Names only: WithDecryption false, and the values are not looked at.
    const result = await provider.request('SSM', 'getParameters', { Names: names, WithDecryption: false });
    const missing = result.InvalidParameters || [];
    if (missing.length > 0) {
      throw new this.serverless.classes.Error(
        `Stage "${this.stage()}" is missing secret parameter(s) in SSM: ${missing.join(', ')}\n` +
          `  create each as a SecureString, for example: aws ssm put-parameter --type SecureString --name ${missing[0]} --value '...'`,
      );
    }
  }

  stage() {
    return this.serverless.service.provider.stage;
  }
}

module.exports = StageChecks;
