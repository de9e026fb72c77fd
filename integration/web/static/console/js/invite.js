/**
 * The invitation form of a card: one field (mobile number or e-mail address),
 * one button; Enter submits. "Lancer l'invitation et entrer dans la salle":
 * once the session is open the console shows its room; back on the card, a
 * line says the visio is open and takes the regulator back into it.
 * @module invite
 */

import { ApiError, createInvitation } from './api.js';
import { errorMessage } from './errors.js';
import { formatTime, t } from './i18n.js';
import { displayDestination, isClosed, patientInvitation } from './sessions.js';

/**
 * @typedef {object} InvitationHandlers
 * @property {(session: import('./api.js').Session) => void} onOpened a session was opened: enter its room
 * @property {(sessionId: string) => void} onRejoin go back into the room of a session opened here
 */

/** Drives one `<form class="invite">`. */
export class InvitationForm {
  /**
   * @param {HTMLFormElement} form
   * @param {string | null} callId the call the invitation belongs to (null: manual)
   * @param {InvitationHandlers} handlers
   */
  constructor(form, callId, handlers) {
    this.form = form;
    this.callId = callId;
    this.handlers = handlers;
    this.input = /** @type {HTMLInputElement} */ (form.querySelector('.invite-input'));
    this.button = /** @type {HTMLButtonElement} */ (form.querySelector('[data-field="submit"]'));
    this.result = /** @type {HTMLElement} */ (form.querySelector('[data-field="result"]'));
    this.error = /** @type {HTMLElement} */ (form.querySelector('[data-field="error"]'));
    /** Whether the regulator has typed in the field (a prefill must not overwrite it). */
    this.dirty = false;
    this.pending = false;
    this.prefilled = '';
    /** The session opened from this form, whose line the card keeps. */
    this.sessionId = '';

    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener('input', () => {
      this.dirty = true;
      this.clearError();
    });
  }

  /**
   * Put a suggested destination in the field unless the regulator typed there.
   * @param {string} value
   */
  prefill(value) {
    if (this.dirty || value === this.prefilled) {
      return;
    }
    this.prefilled = value;
    this.input.value = value;
  }

  /** Move the keyboard focus to the field, caret at the end. */
  focus() {
    this.input.focus();
    const end = this.input.value.length;
    this.input.setSelectionRange(end, end);
  }

  /** Send the invitation request and show its outcome. */
  async submit() {
    if (this.pending) {
      return;
    }
    const destination = this.input.value.trim();
    this.clearError();
    this.result.replaceChildren();
    if (!destination) {
      this.showError(t('invite.missing'));
      this.input.focus();
      return;
    }
    this.setPending(true);
    try {
      const session = await createInvitation(this.callId, destination);
      this.showOpened(session);
      this.handlers.onOpened(session);
    } catch (error) {
      if (!(error instanceof ApiError)) {
        console.error(error);
      }
      if (!(error instanceof ApiError && error.status === 401)) {
        this.showError(errorMessage(error));
        this.input.focus();
      }
    } finally {
      this.setPending(false);
    }
  }

  /**
   * The line left on the card: the visio is open, and the way back into it.
   * @private
   * @param {import('./api.js').Session} session
   */
  showOpened(session) {
    this.sessionId = session.id;
    const invitation = patientInvitation(session);
    const destination = displayDestination(invitation ? invitation.destination : this.input.value.trim());
    const main = document.createElement('p');
    main.className = 'invite-result-main';
    main.textContent = t('invite.opened', { destination, time: formatTime(session.created_at) });
    const rejoin = document.createElement('button');
    rejoin.type = 'button';
    rejoin.className = 'button button-secondary button-small';
    rejoin.textContent = t('invite.rejoin');
    rejoin.addEventListener('click', () => this.handlers.onRejoin(session.id));
    this.result.replaceChildren(main, rejoin);
  }

  /**
   * A session moved: once the one opened here is over, the card says so and no longer
   * offers the way back into it.
   * @param {import('./api.js').Session} session
   */
  follow(session) {
    if (session.id !== this.sessionId || !isClosed(session)) {
      return;
    }
    const main = document.createElement('p');
    main.className = 'invite-result-main';
    main.dataset.closed = 'true';
    main.textContent = t('invite.ended', { time: formatTime(session.ended_at) });
    this.result.replaceChildren(main);
  }

  /**
   * @private
   * @param {string} message
   */
  showError(message) {
    const paragraph = document.createElement('p');
    paragraph.textContent = message;
    this.error.replaceChildren(paragraph);
    this.input.setAttribute('aria-invalid', 'true');
  }

  /** @private */
  clearError() {
    this.error.replaceChildren();
    this.input.removeAttribute('aria-invalid');
  }

  /**
   * @private
   * @param {boolean} pending
   */
  setPending(pending) {
    this.pending = pending;
    this.button.disabled = pending;
    // The key's hint, when the card shows one, comes back with the button's text.
    const key = this.button.querySelector('.invite-key');
    this.button.textContent = t(pending ? 'invite.pending' : 'invite.submit');
    if (key && !pending) {
      this.button.append(key);
    }
    this.form.setAttribute('aria-busy', String(pending));
  }
}
