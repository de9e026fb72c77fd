/**
 * The room's written messages, for a caller who cannot speak: the
 * conversation (both ways), a field to write to the patient and the
 * ready-made instructions (sent in the patient's language). Messages go over
 * the console's socket (`text.send`); they come back as the session's events
 * (`text.sent`, `text.received`). Text is only ever set as `textContent`.
 * @module text
 */

import { applyTranslations, formatTime, t } from './i18n.js';
import { actorName } from './sessions.js';

/** Ready-made instructions, by key (their text is the catalogue's `patient.text.preset.<key>`). */
export const PRESETS = ['show_person', 'come_closer', 'light_on', 'stay_on_line'];

/** The most characters of one message (the service refuses more). */
export const MAX_TEXT = 500;

/** Session event types that are written messages. */
export const TEXT_EVENTS = new Set(['text.sent', 'text.received']);

/**
 * @typedef {object} TextEvent
 * @property {string} at
 * @property {string} actor
 * @property {string} type
 * @property {{text?: string, preset?: string}} details
 */

/**
 * A stable key of one message, to show it once whichever way it arrived.
 * @param {TextEvent} event
 * @returns {string}
 */
export function textKey(event) {
  return `${event.at}|${event.type}|${(event.details || {}).text || ''}`;
}

/** The written messages of one session's room. */
export class TextPanel {
  /**
   * @param {string} sessionId
   * @param {(message: object) => boolean} send sends on the console's socket; false when it is down
   */
  constructor(sessionId, send) {
    this.sessionId = sessionId;
    this.send = send;
    /** @type {Set<string>} */
    this.shown = new Set();
    const template = /** @type {HTMLTemplateElement} */ (document.getElementById('text-panel-template'));
    this.element = /** @type {HTMLElement} */ (
      /** @type {HTMLElement} */ (template.content.firstElementChild).cloneNode(true)
    );
    applyTranslations(this.element);
    this.list = /** @type {HTMLOListElement} */ (this.element.querySelector('[data-field="text-list"]'));
    this.empty = /** @type {HTMLElement} */ (this.element.querySelector('[data-field="text-empty"]'));
    this.form = /** @type {HTMLFormElement} */ (this.element.querySelector('[data-field="text-form"]'));
    this.input = /** @type {HTMLTextAreaElement} */ (this.element.querySelector('[data-field="text-input"]'));
    this.error = /** @type {HTMLElement} */ (this.element.querySelector('[data-field="text-error"]'));
    const presets = /** @type {HTMLElement} */ (this.element.querySelector('[data-field="text-presets"]'));
    /** What writes to the patient: hidden once the visio has ended (nothing would reach them). */
    this.writing = [this.form, presets, /** @type {HTMLElement} */ (this.element.querySelector('.text-presets-title'))];
    this.input.maxLength = MAX_TEXT;
    presets.replaceChildren(
      ...PRESETS.map((preset) => {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'button button-secondary text-preset';
        button.dataset.preset = preset;
        button.textContent = t(`patient.text.preset.${preset}`);
        button.addEventListener('click', () => this.submit({ preset }));
        return button;
      }),
    );
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      const text = this.input.value.trim();
      if (text) {
        this.submit({ text });
      }
    });
    this.input.addEventListener('keydown', (event) => {
      // Enter sends, Shift+Enter goes to the next line, as in messaging apps.
      if (event.key === 'Enter' && !event.shiftKey) {
        event.preventDefault();
        this.form.requestSubmit();
      }
    });
  }

  /**
   * Show the messages of the session's log (the room's latest read of the session).
   * @param {{id?: string, state?: string, timeline?: any[]} | null} session
   */
  fromSession(session) {
    if (!session || session.id !== this.sessionId) {
      return;
    }
    const closed = session.state === 'ended' || session.state === 'expired';
    for (const element of this.writing) {
      element.hidden = closed;
    }
    for (const event of session.timeline || []) {
      this.add(/** @type {TextEvent} */ (event));
    }
  }

  /**
   * A message from the socket about this panel's session.
   * @param {any} message
   */
  onMessage(message) {
    if (message.session_id !== this.sessionId && !(message.session && message.session.id === this.sessionId)) {
      return;
    }
    if (message.type === 'text.accepted') {
      this.input.value = '';
      this.error.hidden = true;
      this.add(message.event);
    } else if (message.type === 'text.error') {
      this.error.textContent = String(message.message || message.error_id || '');
      this.error.hidden = false;
    } else if (message.type === 'session.updated' && message.event) {
      this.add(message.event);
    }
  }

  /**
   * @private
   * @param {{text?: string, preset?: string}} content
   */
  submit(content) {
    this.error.hidden = true;
    if (!this.send({ type: 'text.send', session_id: this.sessionId, ...content })) {
      this.error.textContent = t('connection.reconnecting');
      this.error.hidden = false;
    }
  }

  /**
   * @private
   * @param {TextEvent} event
   */
  add(event) {
    if (!event || !TEXT_EVENTS.has(event.type) || this.shown.has(textKey(event))) {
      return;
    }
    this.shown.add(textKey(event));
    const fromPatient = event.type === 'text.received';
    const item = document.createElement('li');
    item.className = 'text-message';
    item.dataset.from = fromPatient ? 'patient' : 'regulator';
    const meta = document.createElement('span');
    meta.className = 'text-meta';
    const who = fromPatient ? t('text.from.patient') : actorName(event.actor || '');
    meta.textContent = `${who} · ${formatTime(event.at)}`;
    const body = document.createElement('span');
    body.className = 'text-body';
    body.textContent = String((event.details || {}).text || '');
    item.append(meta, body);
    item.dataset.at = String(event.at || '');
    // In the log's order, whichever way each arrived first (ISO times sort as text).
    const later = [...this.list.children].find((other) => (/** @type {HTMLElement} */ (other).dataset.at || '') > item.dataset.at);
    this.list.insertBefore(item, later || null);
    this.empty.hidden = true;
    item.scrollIntoView({ block: 'nearest' });
  }
}
