/**
 * Written messages with the regulator, for a caller who cannot speak: the
 * regulator's newest message shown large over the page (dismissable, the next
 * one shows again), and, once the regulator has written, a small field to
 * answer in writing. Text is only ever
 * set as `textContent`: what the other side typed is never interpreted.
 * @module texts
 */

/** The most characters of one answer (the service refuses more). */
export const MAX_TEXT = 500;

/** Error ids the service gives for an answer (other errors are the video's). */
export const TEXT_ERRORS = new Set(['invalid_text', 'text_too_long', 'too_many_texts']);

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
function byId(id) {
  return /** @type {HTMLElement} */ (document.getElementById(id));
}

/** The regulator's messages and the patient's answers on the page. */
export class Texts {
  /**
   * @param {(message: object) => boolean} send sends on the page's socket; false when it is down
   * @param {(key: string) => string} text a translated text the page carries
   */
  constructor(send, text) {
    this.send = send;
    this.text = text;
    this.shown = byId('text-shown');
    this.body = byId('text-shown-body');
    this.form = /** @type {HTMLFormElement} */ (byId('text-answer'));
    this.input = /** @type {HTMLInputElement} */ (byId('text-input'));
    this.note = byId('text-note');
    this.input.maxLength = MAX_TEXT;
    /** The last answer sent: back in the field if the service refuses it. */
    this.lastSent = '';
    /** When the regulator's message shown was written (the service may repeat it). */
    this.lastAt = '';
    this.closed = false;
    byId('text-close').addEventListener('click', () => {
      this.shown.hidden = true;
    });
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      const answer = this.input.value.trim();
      if (!answer) {
        return;
      }
      if (this.send({ type: 'text', text: answer })) {
        this.lastSent = answer;
        this.input.value = '';
        this.say(this.text('text_sent'), 'sent');
      } else {
        this.say(this.text('reconnecting'), 'error');
      }
    });
  }

  /**
   * A message of the session, either way (`{"type": "text", "from", "text"}`).
   * @param {{from?: string, text?: unknown, at?: string}} message
   */
  onText(message) {
    if (message.from !== 'regulator') {
      return; // the patient's own answer, already confirmed under the field
    }
    // The same message again (a new socket repeats the newest one): shown once, not reopened.
    if (message.at && message.at === this.lastAt) {
      return;
    }
    this.lastAt = message.at || '';
    this.body.textContent = String(message.text ?? '');
    this.shown.hidden = false;
    // The field to answer appears once the regulator has written: a caller who talks on the
    // phone keeps the page as it was, the camera and "Terminer" in view.
    this.form.hidden = this.closed;
    this.shown.scrollIntoView?.({ block: 'nearest' });
  }

  /**
   * The service refused an answer: say why, in its words.
   * @param {{message?: unknown, error_id?: unknown}} message
   */
  onError(message) {
    this.say(String(message.message || message.error_id || ''), 'error');
    if (!this.input.value) {
      this.input.value = this.lastSent;
    }
  }

  /** Nothing more to write: the video is over. */
  close() {
    this.closed = true;
    this.form.hidden = true;
  }

  /**
   * @private
   * @param {string} words
   * @param {'sent' | 'error'} tone
   */
  say(words, tone) {
    this.note.textContent = words;
    this.note.dataset.tone = tone;
    this.note.hidden = false;
  }
}
