/**
 * The console's slim header: position (with its change dialog), account,
 * telephony status pill, server connection indicator, sign-out.
 * @module header
 */

import { ApiError, LOGIN_URL, changePosition, logout } from './api.js';
import { errorMessage } from './errors.js';
import { has, t } from './i18n.js';
import { rememberedPosition } from './position.js';

/** Telephony states the pill knows; anything else is shown as unknown. */
const TELEPHONY_STATES = ['up', 'connecting', 'down', 'refused', 'disabled'];

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
function byId(id) {
  const element = document.getElementById(id);
  if (!element) {
    throw new Error(`Missing element #${id}`);
  }
  return element;
}

/**
 * Show the session's position in the header.
 * @param {string | null} position
 */
export function renderPosition(position) {
  byId('position-label').textContent = position
    ? t('header.position', { position })
    : t('header.position.none');
  byId('position-notice').hidden = Boolean(position);
}

/**
 * Show who is signed in.
 * @param {import('./api.js').Account} account
 */
export function renderAccount(account) {
  const role = has(`role.${account.role}`) ? t(`role.${account.role}`) : account.role;
  const name = account.display_name || account.username;
  const element = byId('account-name');
  element.textContent = name;
  // The name leads to the account's own page: changing one's password.
  element.title = t('header.password', { name, role });
}

/**
 * Show the link to Asterisk: a pill in the header (detail as tooltip) and,
 * when calls cannot arrive by themselves, a notice above the card.
 * @param {string} state `up`, `connecting`, `down`, `refused` or `disabled`
 * @param {string} [detail]
 */
export function renderTelephony(state, detail = '') {
  const known = TELEPHONY_STATES.includes(state) ? state : 'unknown';
  const pill = byId('telephony-pill');
  pill.dataset.state = known;
  byId('telephony-text').textContent = t(`telephony.${known}`);
  if (detail) {
    pill.title = detail;
  } else {
    pill.removeAttribute('title');
  }
  const notice = byId('telephony-notice');
  const noticeKey =
    known === 'down' || known === 'refused'
      ? 'telephony.notice.down'
      : known === 'disabled'
        ? 'telephony.notice.disabled'
        : '';
  notice.hidden = !noticeKey;
  // A link that fails is a warning; a console deliberately run without one is information.
  notice.classList.toggle('notice-warning', known !== 'disabled');
  notice.classList.toggle('notice-info', known === 'disabled');
  if (noticeKey) {
    byId('telephony-notice-text').textContent = t(noticeKey);
  }
}

/**
 * Show the state of the console's own link to the server.
 * @param {import('./socket.js').SocketState} state
 */
export function renderConnection(state) {
  const indicator = byId('connection-indicator');
  indicator.hidden = state === 'open' || state === 'stopped';
  indicator.dataset.state = state;
  indicator.textContent = t(state === 'reconnecting' ? 'connection.reconnecting' : 'connection.connecting');
}

/**
 * Show a message the server pushed (`{"type": "error"}`) until dismissed.
 * @param {string} message
 */
export function showServerNotice(message) {
  byId('server-notice-text').textContent = message;
  byId('server-notice').hidden = false;
}

/** Wire the sign-out button. */
export function setUpLogout() {
  const button = /** @type {HTMLButtonElement} */ (byId('logout'));
  button.addEventListener('click', async () => {
    button.disabled = true;
    let providerLogout = null;
    try {
      providerLogout = await logout();
    } catch (error) {
      if (error instanceof ApiError && error.status !== 401) {
        console.warn('Sign-out failed', error);
      }
    }
    // Signed in with Pro Santé Connect: sign out there too; it comes back to the login page.
    window.location.assign(providerLogout ?? LOGIN_URL);
  });
  byId('server-notice-dismiss').addEventListener('click', () => {
    byId('server-notice').hidden = true;
  });
}

/**
 * Wire the position dialog (header button and the "no position" notice): a
 * select of the positions the account may take, never free text.
 * @param {() => string | null} currentPosition
 * @param {string[]} positions the account's positions
 * @param {(me: import('./api.js').Me) => void} onChanged called with the new session
 * @returns {() => void} opens the dialog
 */
export function setUpPositionDialog(currentPosition, positions, onChanged) {
  const dialog = /** @type {HTMLDialogElement} */ (byId('position-dialog'));
  const form = /** @type {HTMLFormElement} */ (byId('position-form'));
  const input = /** @type {HTMLSelectElement} */ (byId('position-input'));
  const error = byId('position-error');
  const submit = /** @type {HTMLButtonElement} */ (byId('position-submit'));

  input.replaceChildren(
    ...positions.map((position) => {
      const option = document.createElement('option');
      option.value = position;
      option.textContent = position;
      return option;
    }),
  );
  submit.disabled = positions.length === 0;

  const open = () => {
    const remembered = rememberedPosition();
    const current = currentPosition();
    input.value = current || (positions.includes(remembered) ? remembered : positions[0] || '');
    error.hidden = positions.length > 0;
    error.textContent = positions.length > 0 ? '' : t('position.dialog.empty');
    input.removeAttribute('aria-invalid');
    dialog.showModal();
    input.focus();
  };
  byId('position-change').addEventListener('click', open);
  byId('position-notice-button').addEventListener('click', open);
  byId('position-cancel').addEventListener('click', () => dialog.close());

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const position = input.value;
    if (!position) {
      showDialogError(error, input, t('position.dialog.empty'));
      return;
    }
    submit.disabled = true;
    submit.textContent = t('position.dialog.pending');
    try {
      const me = await changePosition(position);
      dialog.close();
      onChanged(me);
    } catch (failure) {
      showDialogError(error, input, errorMessage(failure));
    } finally {
      submit.disabled = false;
      submit.textContent = t('position.dialog.submit');
    }
  });
  return open;
}

/**
 * @param {HTMLElement} error
 * @param {HTMLSelectElement} input
 * @param {string} message
 */
function showDialogError(error, input, message) {
  error.textContent = message;
  error.hidden = false;
  input.setAttribute('aria-invalid', 'true');
  input.focus();
}
