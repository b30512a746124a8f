import { describe, expect, it } from 'vitest';
import { CONSOLE_CSP, consoleAssets, staticReply, versionOf } from '../../lib/console/static-reply';

const sources = {
  html: '<link href="/ops/console.css?v=__STYLE_VERSION__"><script type="module" src="/ops/console.js?v=__SCRIPT_VERSION__"></script>',
  scripts: {
    'console.js': "import { show } from './nav.js';\nshow();",
    'nav.js': 'import { $ } from "./dom.js";\nexport const show = () => $(\'x\');',
    'dom.js': 'export const $ = (id) => id;',
  },
  style: 'body{}',
};

describe('the console static files', () => {
  const assets = consoleAssets(sources);

  it('links the page to its script and style by content version, and caches those for good', () => {
    const page = staticReply(assets, '');
    const version = /\/ops\/console\.js\?v=([0-9a-f]{16})"/.exec(page.body)?.[1];
    expect(version).toBeDefined();
    expect(page.body).toContain(`/ops/console.css?v=${versionOf(sources.style)}`);
    expect(page.body).not.toContain('__');
    expect(page.headers).toMatchObject({ 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
    expect(staticReply(assets, 'console.js').headers).toMatchObject({
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': 'public, max-age=31536000, immutable',
    });
    expect(staticReply(assets, 'console.css').headers['content-type']).toBe('text/css; charset=utf-8');
  });

  it('pins the modules’ imports of each other to the version the page loads, so a deploy never mixes old and new', () => {
    const version = /\/ops\/console\.js\?v=([0-9a-f]{16})"/.exec(staticReply(assets, '').body)![1]!;
    expect(staticReply(assets, 'console.js').body).toContain(`from './nav.js?v=${version}'`);
    expect(staticReply(assets, 'nav.js').body).toContain(`from "./dom.js?v=${version}"`);
    expect(staticReply(assets, 'dom.js').headers['content-type']).toBe('text/javascript; charset=utf-8');

    const changed = consoleAssets({ ...sources, scripts: { ...sources.scripts, 'dom.js': 'export const $ = (id) => [id];' } });
    const newVersion = /\/ops\/console\.js\?v=([0-9a-f]{16})"/.exec(staticReply(changed, '').body)![1]!;
    expect(newVersion).not.toBe(version);
    expect(staticReply(changed, 'console.js').body).toContain(`./nav.js?v=${newVersion}`);
  });

  it('refuses a module that imports one the console does not serve', () => {
    expect(() => consoleAssets({ ...sources, scripts: { 'console.js': "import x from './missing.js';" } })).toThrow(/missing\.js/);
  });

  it('sends the strict policy with every reply, a 404 included', () => {
    for (const name of ['', 'console.js', 'console.css', '../serverless.yml']) {
      const reply = staticReply(assets, name);
      expect(reply.headers['content-security-policy'], name).toBe(CONSOLE_CSP);
      expect(reply.headers['x-content-type-options']).toBe('nosniff');
    }
    expect(CONSOLE_CSP).not.toMatch(/unsafe-inline|unsafe-eval|\*|https?:/);
    expect(staticReply(assets, '../serverless.yml').statusCode).toBe(404);
  });

  it('answers 304 when the browser holds the current version, and the file when it holds an old one', () => {
    const { etag } = staticReply(assets, '').headers;
    expect(staticReply(assets, '', `"old", ${etag}`)).toMatchObject({ statusCode: 304, body: '' });
    expect(staticReply(assets, '', '"old"').statusCode).toBe(200);
  });
});
