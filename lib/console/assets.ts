// The files are bundled into the function as text (esbuild's `with { type: 'text' }`): the
// console needs no file system, no second server and no download at build or run time.
import html from './assets/index.html' with { type: 'text' };
import style from './assets/console.css' with { type: 'text' };
import script from './assets/console.js' with { type: 'text' };
import { consoleAssets } from './static-reply';

/** The operator console's page, script and style, ready to serve. */
export const operatorConsole = consoleAssets({ html, script, style });
