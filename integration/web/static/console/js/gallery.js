/**
 * The room's screenshots: the "Capture d'écran" button and the gallery of the
 * session's stills (thumbnails, newest first, each with its download link).
 *
 * The service takes the still from the patient's video at the click; the
 * gallery reloads its list when the session's timeline counts another
 * `still.taken` (taken from this console or another one).
 * @module gallery
 */

import { request } from './api.js';
import { errorMessage } from './errors.js';
import { formatTime, t } from './i18n.js';

/**
 * A still as `GET /console/api/sessions/{id}/stills` lists it.
 * @typedef {object} Still
 * @property {string} id
 * @property {number} number its rank in the session, from 1
 * @property {string} taken_at
 * @property {string} taken_by
 * @property {string} content_type
 * @property {number} size bytes
 * @property {string} url the JPEG (an attachment)
 * @property {string} filename the download's name, `visio-<date>-<n>.jpg`
 */

/**
 * @param {string} sessionId
 * @returns {string}
 */
function stillsPath(sessionId) {
  return `/console/api/sessions/${encodeURIComponent(sessionId)}/stills`;
}

/**
 * "Capture d'écran": a still of the patient's video, now.
 * @param {string} sessionId
 * @returns {Promise<Still>}
 */
export async function takeStill(sessionId) {
  return request('POST', stillsPath(sessionId));
}

/**
 * The session's stills, newest first.
 * @param {string} sessionId
 * @returns {Promise<Still[]>}
 */
export async function fetchStills(sessionId) {
  const body = await request('GET', stillsPath(sessionId));
  return body && Array.isArray(body.stills) ? body.stills : [];
}

/**
 * How many stills the session's timeline says were taken.
 * @param {{timeline?: {type: string}[]}} session
 * @returns {number}
 */
export function stillsTaken(session) {
  return (session.timeline || []).filter((event) => event.type === 'still.taken').length;
}

/**
 * A still's caption under its thumbnail: its number and the time it was taken.
 * @param {Still} still
 * @returns {string}
 */
export function stillCaption(still) {
  return t('stills.caption', { number: String(still.number), time: formatTime(still.taken_at) });
}

/** The gallery of one room, in the room's `[data-field="stills"]` block. */
export class StillGallery {
  /**
   * @param {string} sessionId
   * @param {HTMLElement} element the block (`[data-field="stills"]`)
   */
  constructor(sessionId, element) {
    this.sessionId = sessionId;
    this.element = element;
    this.button = /** @type {HTMLButtonElement} */ (this.part('still-take'));
    this.status = this.part('still-status');
    this.list = /** @type {HTMLUListElement} */ (this.part('still-list'));
    this.empty = this.part('still-empty');
    /** The number of `still.taken` events the list was loaded for; -1: never loaded. */
    this.loadedFor = -1;
    this.button.addEventListener('click', () => this.take());
  }

  /**
   * Follow the session: the button only while it is open, the list reloaded
   * when another still was taken.
   * @param {{state: string, timeline?: {type: string}[]}} session
   * @param {boolean} closed
   */
  update(session, closed) {
    this.button.hidden = closed;
    const taken = stillsTaken(session);
    if (taken !== this.loadedFor) {
      this.loadedFor = taken;
      this.load();
    }
  }

  /** Ask the service for a still of the patient's video. */
  async take() {
    if (this.button.disabled) {
      return;
    }
    this.button.disabled = true;
    this.showStatus(t('stills.taking'), 'normal');
    try {
      const still = await takeStill(this.sessionId);
      this.showStatus(t('stills.taken', { time: formatTime(still.taken_at) }), 'good');
      await this.load();
    } catch (error) {
      this.showStatus(errorMessage(error), 'failed');
    } finally {
      this.button.disabled = false;
    }
  }

  /** Load the list again and draw it. */
  async load() {
    try {
      this.render(await fetchStills(this.sessionId));
    } catch (error) {
      this.showStatus(errorMessage(error), 'failed');
    }
  }

  /**
   * @param {Still[]} stills newest first
   */
  render(stills) {
    const items = stills.map((still) => {
      const item = document.createElement('li');
      item.className = 'still';
      item.dataset.stillId = still.id;
      const caption = stillCaption(still);
      const link = document.createElement('a');
      link.className = 'still-link';
      link.href = still.url;
      link.download = still.filename;
      link.title = t('stills.download', { filename: still.filename });
      const image = document.createElement('img');
      image.className = 'still-image';
      image.src = still.url;
      image.alt = caption;
      image.loading = 'lazy';
      link.append(image);
      const text = document.createElement('span');
      text.className = 'still-caption';
      text.textContent = caption;
      const download = document.createElement('a');
      download.className = 'still-download';
      download.href = still.url;
      download.download = still.filename;
      download.textContent = t('stills.download.short');
      item.append(link, text, download);
      return item;
    });
    this.list.replaceChildren(...items);
    this.list.hidden = items.length === 0;
    this.empty.hidden = items.length > 0;
  }

  /**
   * @private
   * @param {string} text
   * @param {'normal' | 'good' | 'failed'} tone
   */
  showStatus(text, tone) {
    this.status.textContent = text;
    this.status.dataset.tone = tone;
    this.status.hidden = !text;
  }

  /**
   * @private
   * @param {string} name
   * @returns {HTMLElement}
   */
  part(name) {
    return /** @type {HTMLElement} */ (this.element.querySelector(`[data-field="${name}"]`));
  }
}
