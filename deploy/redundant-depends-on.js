'use strict';

/**
 * A local Serverless plugin: before the compiled template is saved, drops each `DependsOn`
 * entry that a `Ref` or `Fn::GetAtt` in the same resource already enforces. The framework's
 * HTTP API compiler adds such entries (every route on its integration, the stage on its log
 * group); CloudFormation orders resources by the reference alone, so the deployed stack is the
 * same, and the template lints clean (cfn-lint W3005), which a validating emulator requires.
 * Plain JavaScript: the framework loads plugins with `require`.
 */

/** Logical ids a resource's properties reference, by `Ref`, `Fn::GetAtt` or `Fn::Sub`'s `${Id}` / `${Id.Attr}`. */
function referencedIds(node, found = new Set()) {
  if (Array.isArray(node)) {
    for (const item of node) referencedIds(item, found);
  } else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'Ref' && typeof value === 'string') found.add(value);
      else if (key === 'Fn::GetAtt') found.add(Array.isArray(value) ? value[0] : String(value).split('.')[0]);
      else if (key === 'Fn::Sub') {
        const text = Array.isArray(value) ? value[0] : value;
        for (const match of String(text).matchAll(/\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}/g)) found.add(match[1]);
        if (Array.isArray(value)) referencedIds(value[1], found);
      } else referencedIds(value, found);
    }
  }
  return found;
}

/** Removes from every resource the `DependsOn` entries its own references enforce; returns how many. */
function dropRedundantDependsOn(template) {
  let dropped = 0;
  for (const resource of Object.values(template.Resources || {})) {
    if (resource.DependsOn === undefined) continue;
    const references = referencedIds({ Properties: resource.Properties, Condition: undefined });
    const dependsOn = [].concat(resource.DependsOn);
    const kept = dependsOn.filter((id) => !references.has(id));
    dropped += dependsOn.length - kept.length;
    if (kept.length === 0) delete resource.DependsOn;
    else resource.DependsOn = kept;
  }
  return dropped;
}

class RedundantDependsOn {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      'before:aws:package:finalize:saveServiceState': () => {
        dropRedundantDependsOn(this.serverless.service.provider.compiledCloudFormationTemplate);
      },
    };
  }
}

module.exports = RedundantDependsOn;
module.exports.dropRedundantDependsOn = dropRedundantDependsOn;
