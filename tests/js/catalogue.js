// Loads the console's real French catalogue into i18n.js, as the browser does, by answering its
// fetch of /console/locales/<lang>.json from the file the service serves.
import { readdir, readFile } from 'node:fs/promises';
import { loadCatalogue } from '../../integration/web/static/console/js/i18n.js';

const LOCALES = new URL('../../integration/locales/', import.meta.url);

/**
 * Load the catalogue of `lang` from `integration/locales/<lang>/`.
 * @param {string} lang
 */
export async function useCatalogue(lang) {
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (url) => {
    const name = /\/console\/locales\/(\w+)\.json$/.exec(String(url));
    if (!name) {
      return new Response('', { status: 404 });
    }
    const folder = new URL(`${name[1]}/`, LOCALES);
    const merged = {};
    for (const file of (await readdir(folder)).sort()) {
      if (file.endsWith('.json')) {
        Object.assign(merged, JSON.parse(await readFile(new URL(file, folder), 'utf8')));
      }
    }
    return new Response(JSON.stringify(merged), { status: 200 });
  };
  try {
    if (!(await loadCatalogue(lang))) {
      throw new Error(`catalogue ${lang} not loaded`);
    }
  } finally {
    globalThis.fetch = realFetch;
  }
}
