/**
 * The room's documents and photos, both ways: "Envoyer un document" (an image
 * or a PDF for the patient, with its upload's progress), "Photo HD" (the
 * phone takes a full-resolution photo and sends it), and the list of what was
 * sent and received, newest first, each with its download link.
 *
 * The list reloads when the session's timeline counts another document or
 * photo (from this console, another one, or the patient).
 * @module documents
 */

import { ApiError, currentCsrfToken, request } from './api.js';
import { errorMessage } from './errors.js';
import { formatTime, t } from './i18n.js';

/**
 * A document as `GET /console/api/sessions/{id}/documents` lists it.
 * @typedef {object} SessionDocument
 * @property {string} id
 * @property {'document' | 'photo'} kind
 * @property {'to_patient' | 'from_patient'} direction
 * @property {string} name
 * @property {string} content_type
 * @property {number} size bytes
 * @property {string} sent_at
 * @property {string} sent_by
 * @property {string} url the file (an attachment)
 */

/** The session events of a document or photo, either way. */
export const DOCUMENT_EVENTS = ['document.sent', 'document.received', 'photo.taken'];

/** Images a browser shows as a thumbnail (HEIC is not one of them). */
const SHOWN_IMAGES = ['image/jpeg', 'image/png', 'image/webp'];

/** What the regulator may pick to send. */
export const SEND_ACCEPT = 'image/jpeg,image/png,image/webp,application/pdf';

/**
 * How many documents and photos the session's timeline says were exchanged.
 * @param {{timeline?: {type: string}[]}} session
 * @returns {number}
 */
export function documentsExchanged(session) {
  return (session.timeline || []).filter((event) => DOCUMENT_EVENTS.includes(event.type)).length;
}

/**
 * A size as people read it: "850 ko", "4,2 Mo".
 * @param {number} bytes
 * @param {string} [language]
 * @returns {string}
 */
export function formatSize(bytes, language = 'fr') {
  if (bytes < 1_000_000) {
    return t('documents.size.kb', { size: Math.max(1, Math.round(bytes / 1000)).toLocaleString(language) });
  }
  const megabytes = (Math.round(bytes / 100_000) / 10).toLocaleString(language);
  return t('documents.size.mb', { size: megabytes });
}

/**
 * The timeline's line of a document event; null for another event.
 * @param {{ type: string, details?: Record<string, any> }} event
 * @param {string} actor who sent it (display name)
 * @returns {{ text: string, tone: 'normal' | 'good' } | null}
 */
export function documentTimelineLine(event, actor) {
  const name = String((event.details || {}).name ?? '');
  switch (event.type) {
    case 'document.sent':
      return { text: t('timeline.document.sent', { actor, name }), tone: 'normal' };
    case 'document.received':
      return { text: t('timeline.document.received', { name }), tone: 'good' };
    case 'photo.taken':
      // A photo the phone sent by itself because its video could not pass is no "Photo HD".
      return {
        text: t((event.details || {}).photo_mode ? 'timeline.photo.photo_mode' : 'timeline.photo.taken', { name }),
        tone: 'good',
      };
    default:
      return null;
  }
}

/**
 * The photos the phone sent by itself because its video could not pass (their `photo.taken`
 * says `photo_mode`): no "Photo HD", which only the regulator's command takes.
 * @param {{timeline?: {type: string, details?: Record<string, any>}[]}} session
 * @returns {Set<string>} their document ids
 */
export function photoModeDocuments(session) {
  const ids = (session.timeline || [])
    .filter((event) => event.type === 'photo.taken' && (event.details || {}).photo_mode)
    .map((event) => String((event.details || {}).document_id));
  return new Set(ids);
}

/**
 * The caption of a document in the list: who sent it, when, its size.
 * @param {SessionDocument} document
 * @param {boolean} [photoMode] a photo sent in photo mode (`photoModeDocuments`)
 * @returns {string}
 */
export function documentCaption(document, photoMode = false) {
  const photo = photoMode ? 'documents.way.photo_mode' : 'documents.way.photo';
  const way =
    document.direction === 'to_patient'
      ? 'documents.way.sent'
      : document.kind === 'photo'
        ? photo
        : 'documents.way.received';
  return t(way, { time: formatTime(document.sent_at), size: formatSize(document.size) });
}

/**
 * @param {string} sessionId
 * @returns {string}
 */
function documentsPath(sessionId) {
  return `/console/api/sessions/${encodeURIComponent(sessionId)}/documents`;
}

/**
 * The session's documents and photos, newest first.
 * @param {string} sessionId
 * @returns {Promise<SessionDocument[]>}
 */
export async function fetchDocuments(sessionId) {
  const body = await request('GET', documentsPath(sessionId));
  return body && Array.isArray(body.documents) ? body.documents : [];
}

/**
 * Send one file to the patient, its body as is; `onProgress` hears the share sent (0 to 1).
 * @param {string} sessionId
 * @param {Blob & { name?: string }} file
 * @param {(share: number) => void} onProgress
 * @returns {Promise<SessionDocument>}
 */
export function sendDocument(sessionId, file, onProgress) {
  const url = `${documentsPath(sessionId)}?name=${encodeURIComponent(file.name || '')}`;
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    xhr.setRequestHeader('X-CSRF-Token', currentCsrfToken());
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.responseType = 'json';
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable && event.total > 0) {
        onProgress(event.loaded / event.total);
      }
    });
    xhr.addEventListener('load', () => {
      const body = xhr.response && typeof xhr.response === 'object' ? xhr.response : {};
      if (xhr.status === 201) {
        resolve(body);
      } else {
        reject(new ApiError(xhr.status, String(body.error_id || 'unknown'), String(body.message || ''), body.details || {}));
      }
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'network', '')));
    xhr.send(file);
  });
}

/** The documents block of one room (`[data-field="documents"]`). */
export class DocumentPanel {
  /**
   * @param {string} sessionId
   * @param {HTMLElement} element
   * @param {{ photo: () => Promise<import('./remote.js').CommandResult | null> }} hooks "Photo HD"
   *   (a command to the phone, its result)
   */
  constructor(sessionId, element, hooks) {
    this.sessionId = sessionId;
    this.element = element;
    this.hooks = hooks;
    this.input = /** @type {HTMLInputElement} */ (this.part('document-input'));
    this.input.accept = SEND_ACCEPT;
    this.sendLabel = this.part('document-send');
    this.photoButton = /** @type {HTMLButtonElement} */ (this.part('document-photo'));
    this.status = this.part('document-status');
    this.progress = /** @type {HTMLProgressElement} */ (this.part('document-progress'));
    this.list = /** @type {HTMLUListElement} */ (this.part('document-list'));
    this.empty = this.part('document-empty');
    /** The number of document events the list was loaded for; -1: never loaded. */
    this.loadedFor = -1;
    this.busy = false;
    /** Photos listed when "Photo HD" was answered (-1: none awaited): the next one is told. */
    this.photosBefore = -1;
    this.photos = 0;
    /** @type {Set<string>} the photos sent in photo mode, from the session's timeline */
    this.photoMode = new Set();
    this.input.addEventListener('change', () => {
      const files = Array.from(this.input.files || []);
      this.input.value = '';
      this.sendAll(files);
    });
    this.photoButton.addEventListener('click', () => this.photo());
  }

  /**
   * @private
   * @param {string} name
   * @returns {HTMLElement}
   */
  part(name) {
    return /** @type {HTMLElement} */ (this.element.querySelector(`[data-field="${name}"]`));
  }

  /**
   * Follow the session: sending only while it is open, the list reloaded when
   * another document or photo arrived.
   * @param {{state: string, timeline?: {type: string, details?: Record<string, any>}[]}} session
   * @param {boolean} closed
   */
  update(session, closed) {
    this.sendLabel.hidden = closed;
    this.photoButton.hidden = closed;
    this.photoMode = photoModeDocuments(session);
    const count = documentsExchanged(session);
    if (count !== this.loadedFor) {
      this.loadedFor = count;
      this.load();
    }
  }

  /** "Photo HD": the phone takes it and sends it; the list shows it once it arrived. */
  async photo() {
    this.photoButton.disabled = true;
    this.say(t('remote.sending'), 'normal');
    try {
      const result = await this.hooks.photo();
      if (result && result.ok) {
        this.photosBefore = this.photos;
        this.say(t('remote.done.photo'), 'good');
      } else if (result) {
        this.say(result.message || t(`error.${result.error_id || 'phone_no_answer'}`), 'failed');
      }
    } finally {
      this.photoButton.disabled = false;
    }
  }

  /**
   * Send the files one after the other, with the progress of each.
   * @param {File[]} files
   */
  async sendAll(files) {
    if (this.busy || files.length === 0) {
      return;
    }
    this.busy = true;
    this.input.disabled = true;
    try {
      for (const file of files) {
        this.say(t('documents.sending', { name: file.name }), 'normal');
        this.progress.value = 0;
        this.progress.hidden = false;
        try {
          const sent = await sendDocument(this.sessionId, file, (share) => {
            this.progress.value = share;
          });
          this.say(t('documents.sent', { name: sent.name }), 'good');
          await this.load();
        } catch (error) {
          this.say(`${file.name} : ${errorMessage(error)}`, 'failed');
          break;
        } finally {
          this.progress.hidden = true;
        }
      }
    } finally {
      this.busy = false;
      this.input.disabled = false;
    }
  }

  /** Load the list again and draw it. */
  async load() {
    try {
      this.render(await fetchDocuments(this.sessionId));
    } catch (error) {
      this.say(errorMessage(error), 'failed');
    }
  }

  /**
   * @param {SessionDocument[]} documents newest first
   */
  render(documents) {
    const items = documents.map((document) => {
      const item = window.document.createElement('li');
      item.className = 'document';
      item.dataset.documentId = document.id;
      item.dataset.direction = document.direction;
      const link = window.document.createElement('a');
      link.className = 'document-link';
      link.href = document.url;
      link.download = document.name;
      link.title = t('documents.download', { name: document.name });
      if (SHOWN_IMAGES.includes(document.content_type)) {
        const image = window.document.createElement('img');
        image.className = 'document-image';
        image.src = document.url;
        image.alt = document.name;
        image.loading = 'lazy';
        link.append(image);
      } else {
        const badge = window.document.createElement('span');
        badge.className = 'document-badge';
        badge.textContent = document.content_type === 'application/pdf' ? 'PDF' : document.name.split('.').pop()?.toUpperCase() || '';
        link.append(badge);
      }
      const name = window.document.createElement('span');
      name.className = 'document-name';
      name.textContent = document.name;
      const caption = window.document.createElement('span');
      caption.className = 'document-caption';
      caption.textContent = documentCaption(document, this.photoMode.has(document.id));
      item.append(link, name, caption);
      return item;
    });
    this.list.replaceChildren(...items);
    const photos = documents.filter((document) => document.kind === 'photo');
    this.photos = photos.length;
    if (this.photosBefore >= 0 && this.photos > this.photosBefore) {
      this.photosBefore = -1;
      // In photo mode the phone answers "Photo HD" with a photo made small for its weak link.
      const hd = !this.photoMode.has(photos[0].id);
      this.say(t(hd ? 'documents.photo.received' : 'documents.photo.received_photo_mode'), 'good');
    }
    this.list.hidden = items.length === 0;
    this.empty.hidden = items.length > 0;
  }

  /**
   * @private
   * @param {string} text
   * @param {'normal' | 'good' | 'failed'} tone
   */
  say(text, tone) {
    this.status.textContent = text;
    this.status.dataset.tone = tone;
    this.status.hidden = !text;
  }
}
