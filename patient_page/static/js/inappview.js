/**
 * The screen shown instead of the camera in an app's in-app view or a browser
 * without camera access: why, a link that opens the phone's own browser where
 * one works (Chrome by an Android intent, Safari by its iOS scheme), the steps
 * of the app's menu, and « Copier le lien ». Loaded only on such a browser.
 * @module inappview
 */

import { browserLink, platform } from './inapp.js';

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
function byId(id) {
  return /** @type {HTMLElement} */ (document.getElementById(id));
}

/**
 * Fill the `browser` view for `problem`.
 * @param {{reason: 'in_app_view' | 'no_camera_api', app: string | null}} problem
 */
export function showBrowserHelp(problem) {
  const why = problem.reason === 'no_camera_api' ? 'no_camera_api' : problem.app ? 'app' : 'view';
  for (const element of document.querySelectorAll('[data-why]')) {
    /** @type {HTMLElement} */ (element).hidden = element.getAttribute('data-why') !== why;
  }
  const app = document.querySelector('[data-why="app"]');
  if (app && problem.app) {
    app.textContent = (app.textContent || '').replace('{app}', problem.app);
  }
  const where = platform(navigator.userAgent);
  const href = window.location.href;
  for (const element of document.querySelectorAll('[data-view-name="browser"] [data-platform]')) {
    /** @type {HTMLElement} */ (element).hidden = element.getAttribute('data-platform') !== where;
  }
  const open = /** @type {HTMLAnchorElement | null} */ (document.getElementById(`browser-${where}`));
  if (open) {
    open.href = browserLink(href, where);
  }
  // An app's view may still grant the camera (some do): the patient may try. Without the
  // camera API there is nothing to try.
  byId('browser-anyway').hidden = problem.reason !== 'in_app_view';
  byId('browser-copy').addEventListener('click', () => copy(href));
}

/**
 * Copy the link; where the app forbids it, show it selected for the patient to copy.
 * @param {string} href
 */
async function copy(href) {
  try {
    await navigator.clipboard.writeText(href);
    byId('browser-copied').hidden = false;
    return;
  } catch {
    // No clipboard here (not a secure context, or the app's view refuses it).
  }
  const field = /** @type {HTMLInputElement} */ (byId('browser-url'));
  field.value = href;
  field.hidden = false;
  byId('browser-by-hand').hidden = false;
  field.focus();
  field.select();
  try {
    // Older in-app views still copy the selection this way.
    if (document.execCommand('copy')) {
      byId('browser-copied').hidden = false;
    }
  } catch {
    // The selected link stays for the patient to copy.
  }
}
