// The files are bundled into the function as text (esbuild's `with { type: 'text' }`): the
// console needs no file system, no second server and no download at build or run time.
import html from './assets/index.html' with { type: 'text' };
import style from './assets/console.css' with { type: 'text' };
import api from './assets/api.js' with { type: 'text' };
import audit from './assets/audit.js' with { type: 'text' };
import main from './assets/console.js' with { type: 'text' };
import deadLetters from './assets/dead-letters.js' with { type: 'text' };
import dom from './assets/dom.js' with { type: 'text' };
import event from './assets/event.js' with { type: 'text' };
import events from './assets/events.js' with { type: 'text' };
import nav from './assets/nav.js' with { type: 'text' };
import overview from './assets/overview.js' with { type: 'text' };
import paging from './assets/paging.js' with { type: 'text' };
import pauses from './assets/pauses.js' with { type: 'text' };
import reroute from './assets/reroute.js' with { type: 'text' };
import { consoleAssets } from './static-reply';

/** The operator console's page, modules and style, ready to serve. */
export const operatorConsole = consoleAssets({
  html,
  style,
  scripts: {
    'console.js': main,
    'api.js': api,
    'audit.js': audit,
    'dead-letters.js': deadLetters,
    'dom.js': dom,
    'event.js': event,
    'events.js': events,
    'nav.js': nav,
    'overview.js': overview,
    'paging.js': paging,
    'pauses.js': pauses,
    'reroute.js': reroute,
  },
});
