/**
 * The invitation form of a card: one field (mobile number or e-mail address),
 * one button; Enter submits. The server only records the invitation for now,
 * and the confirmation says exactly that.
 * @module invite
 */

import { ApiError, createInvitation } from './api.js';
import { errorMessage } from './errors.js';
import { formatTime, t } from './i18n.js';

/** Drives one `<form class="invite">`. */
export class InvitationForm {
  /**
   * @param {HTMLFormElement} form
   * @param {string | null} callId the call the invitation belongs to (null: manual)
   */
  constructor(form, callId) {
    this.form = form;
    this.callId = callId;
    this.input = /** @type {HTMLInputElement} */ (form.querySelector('.invite-input'));
    this.button = /** @type {HTMLButtonElement} */ (form.querySelector('[data-field="submit"]'));
    this.result = /** @type {HTMLElement} */ (form.querySelector('[data-field="result"]'));
    this.error = /** @type {HTMLElement} */ (form.querySelector('[data-field="error"]'));
    /** Whether the regulator has typed in the field (a prefill must not overwrite it). */
    this.dirty = false;
    this.pending = false;
    this.prefilled = '';

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
      const outcome = await createInvitation(this.callId, destination);
      this.showRecorded(outcome);
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
   * @private
   * @param {import('./api.js').InvitationResult} outcome
   */
  showRecorded(outcome) {
    const invitation = outcome && outcome.invitations ? outcome.invitations[outcome.invitations.length - 1] : null;
    const shown = invitation ? invitation.destination : this.input.value.trim();
    const key = invitation && invitation.channel === 'email' ? 'invite.recorded.email' : 'invite.recorded.sms';
    const main = document.createElement('p');
    main.className = 'invite-result-main';
    main.textContent = t(key, { destination: shown, time: formatTime(new Date().toISOString()) });
    const note = document.createElement('p');
    note.className = 'invite-result-note';
    note.textContent = t('invite.recorded.note');
    this.result.replaceChildren(main, note);
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
    this.button.textContent = t(pending ? 'invite.pending' : 'invite.submit');
    this.form.setAttribute('aria-busy', String(pending));
  }
}
