/**
 * The room in photo mode: when the patient's phone cannot get video through
 * (no frame reached the service, or its link is too weak), it sends photos
 * instead and says so (`video.photo_mode` in the session's log). The video
 * panel then shows the latest photo in the video's place, says why in plain
 * words and when it arrived, and offers "Nouvelle photo"; every photo is also
 * in "Documents et photos". Once video passes again (`video.photo_mode_ended`)
 * the panel gives the video its place back.
 * @module photomode
 */

import { formatTime, t } from './i18n.js';

/** Photos the browser shows (HEIC is not one). */
const SHOWN = ['image/jpeg', 'image/png', 'image/webp'];

/**
 * @typedef {object} PhotoModeState
 * @property {'no_frames' | 'weak_link'} reason
 * @property {string} since when photo mode began
 * @property {{ id: string, at: string } | null} photo the latest photo from the patient since then
 */

/**
 * Whether the session's patient is in photo mode now, and its latest photo.
 * @param {{ state: string, timeline?: { type: string, at: string, details?: Record<string, any> }[] }} session
 * @returns {PhotoModeState | null}
 */
export function photoModeOf(session) {
  if (session.state === 'ended' || session.state === 'expired') {
    return null;
  }
  const timeline = session.timeline || [];
  let start = -1;
  for (let i = timeline.length - 1; i >= 0; i -= 1) {
    const type = timeline[i].type;
    if (type === 'video.photo_mode_ended' || type === 'patient.left') {
      return null; // video again, or the patient stopped the camera
    }
    if (type === 'video.photo_mode') {
      start = i;
      break;
    }
  }
  if (start < 0) {
    return null;
  }
  const details = timeline[start].details || {};
  /** @type {PhotoModeState} */
  const state = {
    reason: details.reason === 'weak_link' ? 'weak_link' : 'no_frames',
    since: timeline[start].at,
    photo: null,
  };
  // The latest photo the patient sent since photo mode began.
  for (let i = timeline.length - 1; i > start; i -= 1) {
    const event = timeline[i];
    const info = event.details || {};
    if (
      (event.type === 'photo.taken' || event.type === 'document.received') &&
      info.direction === 'from_patient' &&
      SHOWN.includes(String(info.content_type)) &&
      typeof info.document_id === 'string'
    ) {
      state.photo = { id: info.document_id, at: event.at };
      break;
    }
  }
  return state;
}

/**
 * @typedef {object} PhotoModeHooks
 * @property {() => Promise<{ ok: boolean, error_id?: string, message?: string } | null>} photo
 *   ask the phone for a new photo (the « Photo HD » command)
 */

/** The photo-mode layer of the room's video panel. */
export class PhotoModePanel {
  /**
   * @param {string} sessionId
   * @param {HTMLElement} video the room's video panel
   * @param {PhotoModeHooks} hooks
   */
  constructor(sessionId, video, hooks) {
    this.sessionId = sessionId;
    this.video = video;
    this.hooks = hooks;
    this.element = document.createElement('div');
    this.element.className = 'room-photo-mode';
    this.element.hidden = true;
    this.image = document.createElement('img');
    this.image.className = 'room-photo-mode-image';
    this.image.hidden = true;
    const banner = document.createElement('div');
    banner.className = 'room-photo-mode-banner';
    banner.setAttribute('role', 'status');
    this.title = document.createElement('p');
    this.title.className = 'room-photo-mode-title';
    this.when = document.createElement('p');
    this.when.className = 'room-photo-mode-when';
    this.button = document.createElement('button');
    this.button.type = 'button';
    this.button.className = 'button room-photo-mode-ask';
    this.button.textContent = t('photo_mode.ask');
    this.button.addEventListener('click', () => this.ask());
    this.result = document.createElement('p');
    this.result.className = 'room-photo-mode-result';
    this.result.setAttribute('aria-live', 'polite');
    banner.append(this.title, this.when, this.button, this.result);
    this.element.append(this.image, banner);
    video.append(this.element);
    /** @type {string} the photo shown */
    this.shown = '';
  }

  /**
   * Follow the session: photo mode on or off, its latest photo.
   * @param {Parameters<typeof photoModeOf>[0]} session
   * @param {boolean} closed
   */
  update(session, closed) {
    const state = closed ? null : photoModeOf(session);
    this.element.hidden = state === null;
    this.video.dataset.photoMode = String(state !== null);
    if (state === null) {
      return;
    }
    this.title.textContent = t(`photo_mode.${state.reason}`);
    if (state.photo) {
      if (state.photo.id !== this.shown) {
        this.shown = state.photo.id;
        this.image.src = `/console/api/sessions/${encodeURIComponent(this.sessionId)}/documents/${encodeURIComponent(state.photo.id)}?inline=1`;
        this.image.alt = t('photo_mode.alt', { time: formatTime(state.photo.at) });
      }
      this.image.hidden = false;
      this.when.textContent = t('photo_mode.received', { time: formatTime(state.photo.at) });
    } else {
      this.image.hidden = true;
      this.when.textContent = t('photo_mode.waiting', { time: formatTime(state.since) });
    }
  }

  /** @private « Nouvelle photo »: the phone takes one at once and sends it after the one in flight. */
  async ask() {
    this.button.disabled = true;
    this.result.textContent = t('photo_mode.asking');
    try {
      const result = await this.hooks.photo();
      // null: another command to the phone is on its way; its answer shows in the remote bar.
      this.result.textContent = !result
        ? ''
        : result.ok
          ? t('photo_mode.asked')
          : result.message || t(`error.${result.error_id || 'phone_no_answer'}`);
    } finally {
      this.button.disabled = false;
    }
  }
}
