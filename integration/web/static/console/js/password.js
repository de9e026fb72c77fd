/**
 * The regulator's own password change: the current password, the new one
 * twice; the service checks the rules and closes the account's other
 * console sign-ins.
 * @module password
 */

import { fetchMe, request } from './api.js';
import { errorMessage } from './errors.js';
import { applyTranslations, loadCatalogue, t } from './i18n.js';

/**
 * @param {string} id
 * @returns {HTMLInputElement}
 */
function field(id) {
  return /** @type {HTMLInputElement} */ (document.getElementById(id));
}

async function main() {
  await loadCatalogue();
  applyTranslations();
  document.title = t('password.page_title', {}, document.title);
  const me = await fetchMe();
  // A temporary password set by an administrator: nothing else until the account has its own.
  const required = Boolean(me.must_change_password);
  /** @type {HTMLElement} */ (document.getElementById('password-required')).hidden = !required;
  /** @type {HTMLElement} */ (document.getElementById('password-back')).hidden = required;
  const form = /** @type {HTMLFormElement} */ (document.getElementById('password-form'));
  const error = /** @type {HTMLElement} */ (document.getElementById('password-error'));
  const done = /** @type {HTMLElement} */ (document.getElementById('password-done'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    done.hidden = true;
    const current = field('current-password');
    const fresh = field('new-password');
    const confirm = field('confirm-password');
    if (fresh.value !== confirm.value) {
      error.textContent = t('password.mismatch');
      error.hidden = false;
      confirm.focus();
      return;
    }
    const button = /** @type {HTMLButtonElement} */ (form.querySelector('button[type=submit]'));
    button.disabled = true;
    try {
      await request('POST', '/console/api/password', {
        current_password: current.value,
        new_password: fresh.value,
      });
      form.reset();
      done.hidden = false;
      if (required) {
        window.location.assign('/console');
        return;
      }
    } catch (failure) {
      error.textContent = errorMessage(failure);
      error.hidden = false;
      current.focus();
    } finally {
      button.disabled = false;
    }
  });
}

main();
