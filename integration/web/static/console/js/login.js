/**
 * The login page: translates the labels (the HTML carries French as a
 * fallback, the form works without JavaScript), shows the error the server
 * redirected with (`?error=<error_id>`). The position is chosen once signed in,
 * among the account's.
 * @module login
 */

import { setUpProSanteConnect } from './framing.js';
import { applyTranslations, has, loadCatalogue, t } from './i18n.js';

/** Error ids the server may redirect with; anything else gets a generic message. */
const KNOWN_ERRORS = [
  'invalid_credentials',
  'rate_limited',
  'invalid_position',
  'position_not_allowed',
  'csrf',
];

async function main() {
  setUpProSanteConnect(window);
  await loadCatalogue();
  applyTranslations();
  document.title = t('login.page_title', {}, document.title);

  const params = new URLSearchParams(window.location.search);
  const errorId = params.get('error');
  if (errorId) {
    const alert = /** @type {HTMLElement} */ (document.getElementById('login-error'));
    // The alert's HTML text is the generic message (French fallback, translated
    // by applyTranslations); a known error gets its own message.
    const key = `login.error.${errorId}`;
    if (KNOWN_ERRORS.includes(errorId) && has(key)) {
      alert.textContent = t(key);
    }
    alert.hidden = false;
  }
}

main();
