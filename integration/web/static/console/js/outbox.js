/**
 * "Messages simulés (développement)": with the local outbox no SMS or e-mail
 * leaves the machine; this panel lists what would have been sent, with the
 * links clickable, so that anyone can play the patient in a demo. In
 * production `GET /console/api/outbox` answers 404 and the panel stays hidden.
 * @module outbox
 */

import { ApiError, fetchOutbox } from './api.js';
import { formatTime, t } from './i18n.js';
import { channelName } from './sessions.js';

/** @typedef {import('./api.js').OutboxMessage} OutboxMessage */

/** How many messages the panel lists. */
export const MAX_MESSAGES = 8;

/** Links in a message's text. */
const LINK = /https?:\/\/[^\s<>"]+/g;

/**
 * A message's text as nodes, each link a clickable `<a>` that opens a new tab.
 * @param {string} text
 * @returns {Node[]}
 */
export function linkify(text) {
  /** @type {Node[]} */
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(LINK)) {
    const start = match.index ?? 0;
    if (start > last) {
      nodes.push(document.createTextNode(text.slice(last, start)));
    }
    const link = document.createElement('a');
    link.href = match[0];
    link.textContent = match[0];
    link.target = '_blank';
    link.rel = 'noopener noreferrer';
    link.className = 'outbox-link';
    nodes.push(link);
    last = start + match[0].length;
  }
  if (last < text.length) {
    nodes.push(document.createTextNode(text.slice(last)));
  }
  return nodes;
}

/** The panel (`<details id="outbox">`). */
export class OutboxPanel {
  constructor() {
    this.panel = /** @type {HTMLDetailsElement} */ (document.getElementById('outbox'));
    this.list = /** @type {HTMLOListElement} */ (document.getElementById('outbox-list'));
    this.count = /** @type {HTMLElement} */ (document.getElementById('outbox-count'));
    this.empty = /** @type {HTMLElement} */ (document.getElementById('outbox-empty'));
    /** False once the service said it sends real messages. */
    this.available = true;
    this.timer = 0;
    /** @type {Promise<void> | null} */
    this.loading = null;
    this.loadAgain = false;
    this.shown = '';
  }

  /** Fetch the messages again, soon (several updates in a row make one request). */
  refreshSoon() {
    if (!this.available) {
      return;
    }
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.refresh(), 250);
  }

  /**
   * Fetch and show the messages; hide the panel for good on 404.
   * @returns {Promise<void>}
   */
  refresh() {
    if (!this.available) {
      return Promise.resolve();
    }
    if (this.loading) {
      this.loadAgain = true;
      return this.loading;
    }
    this.loading = (async () => {
      do {
        this.loadAgain = false;
        try {
          const messages = await fetchOutbox();
          if (messages === null) {
            this.available = false;
            this.panel.hidden = true;
            return;
          }
          this.render(messages);
        } catch (error) {
          if (!(error instanceof ApiError)) {
            console.warn('Outbox could not be shown', error);
          }
        }
      } while (this.loadAgain);
    })().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  /**
   * @private
   * @param {OutboxMessage[]} messages newest first
   */
  render(messages) {
    const shown = messages.slice(0, MAX_MESSAGES);
    const key = shown.map((message) => message.id).join(',');
    this.panel.hidden = false;
    this.count.textContent = String(messages.length);
    this.empty.hidden = shown.length > 0;
    if (key === this.shown) {
      return;
    }
    this.shown = key;
    this.list.replaceChildren(...shown.map((message) => this.item(message)));
  }

  /**
   * @private
   * @param {OutboxMessage} message
   * @returns {HTMLLIElement}
   */
  item(message) {
    const item = document.createElement('li');
    item.className = 'outbox-item';
    const head = document.createElement('p');
    head.className = 'outbox-head';
    head.textContent = t('outbox.to', {
      channel: channelName(message.channel),
      to: message.to,
      time: formatTime(message.created_at),
    });
    item.append(head);
    if (message.subject) {
      const subject = document.createElement('p');
      subject.className = 'outbox-subject';
      subject.textContent = message.subject;
      item.append(subject);
    }
    const text = document.createElement('p');
    text.className = 'outbox-text';
    text.append(...linkify(message.text));
    item.append(text);
    return item;
  }
}
