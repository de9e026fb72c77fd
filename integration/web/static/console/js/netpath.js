/**
 * The network path of the patient's video in the room and the timeline: direct
 * or through the TURN relay (UDP, TCP/TLS) with its round trip, or no path at
 * all (the relay unreachable, or refusing its credentials) with the next step.
 * @module netpath
 */

import { t } from './i18n.js';

/** @typedef {import('./api.js').Session} Session */
/** @typedef {import('./api.js').SessionEvent} SessionEvent */

/** Names of the network paths the service reports. */
export const PATHS = ['direct', 'turn-udp', 'turn-tcp', 'turn-tls'];
const REASONS = ['turn_unreachable', 'turn_refused', 'no_candidates'];

/**
 * "Vidéo directe", "Vidéo par relais TURN (UDP)"... with the round trip when known.
 * @param {Record<string, any>} details a `video.path` event's
 * @returns {string}
 */
export function pathText(details) {
  const path = PATHS.includes(details.path) ? details.path : 'direct';
  const name = t(`path.${path}`);
  const rtt = details.rtt_ms;
  return typeof rtt === 'number' ? t('path.with_rtt', { path: name, rtt: String(rtt) }) : name;
}

/**
 * "Aucun chemin réseau : le relais TURN est injoignable"...
 * @param {Record<string, any>} details a `video.no_path` event's
 * @returns {string}
 */
export function noPathText(details) {
  return t(`path.none.${REASONS.includes(details.reason) ? details.reason : 'no_candidates'}`);
}

/**
 * The timeline's line for a path event, or null for another event: the one place that words
 * `video.path` and `video.no_path` (the outcome reads them but leaves their words here).
 * @param {SessionEvent} event
 * @returns {{text: string, tone: 'normal' | 'good' | 'failed' | 'muted'} | null}
 */
export function pathTimelineLine(event) {
  const details = event.details || {};
  const third = String(details.participant_id || '').startsWith('third_party:');
  /** @param {string} text */
  const whose = (text) => (third ? t('path.third_party', { line: text }) : text);
  switch (event.type) {
    case 'video.path':
      return { text: whose(t('timeline.video.path', { path: pathText(details) })), tone: 'normal' };
    case 'video.no_path':
      return { text: whose(noPathText(details)), tone: 'failed' };
    default:
      return null;
  }
}

/**
 * What the room says of the patient's path: the path while the video is live, or the lack of
 * one since the last attempt; null when there is nothing to say.
 * @param {Session} session
 * @returns {{kind: 'path' | 'no_path', text: string, step: string, reason: string} | null}
 */
export function patientPath(session) {
  if (session.state === 'ended' || session.state === 'expired') {
    return null;
  }
  const events = (session.timeline || []).filter((event) => {
    const participant = (event.details || {}).participant_id;
    return participant === undefined || participant === 'patient';
  });
  const last = [...events].reverse().find((event) =>
    ['video.path', 'video.no_path', 'video.lost', 'patient.left'].includes(event.type),
  );
  if (!last) {
    return null;
  }
  const details = last.details || {};
  if (last.type === 'video.no_path') {
    const reason = REASONS.includes(details.reason) ? details.reason : 'no_candidates';
    return { kind: 'no_path', text: noPathText(details), step: t(`path.step.${reason}`), reason };
  }
  if (last.type === 'video.path' && session.state === 'video_live') {
    return { kind: 'path', text: pathText(details), step: '', reason: '' };
  }
  return null;
}

/** The room's line about the patient's network path (the outcome says when there is none). */
export class PathPanel {
  /**
   * @param {HTMLElement} element the panel (`[data-field="path"]`)
   */
  constructor(element) {
    this.element = element;
    this.text = /** @type {HTMLElement} */ (element.querySelector('[data-path="text"]'));
    this.step = /** @type {HTMLElement} */ (element.querySelector('[data-path="step"]'));
  }

  /**
   * @param {Session} session
   * @returns {ReturnType<typeof patientPath>} what it shows
   */
  update(session) {
    const shown = patientPath(session);
    // No path is the room's outcome (see room.js): this panel only names a working path.
    this.element.hidden = !shown || shown.kind === 'no_path';
    if (shown) {
      this.element.dataset.kind = shown.kind;
      this.element.dataset.path = shown.kind === 'path' ? String(lastPath(session)) : shown.reason;
      this.text.textContent = shown.text;
      this.step.textContent = shown.step;
      this.step.hidden = !shown.step;
    }
    return shown;
  }
}

/**
 * @param {Session} session
 * @returns {string} the patient's last path
 */
function lastPath(session) {
  const event = [...(session.timeline || [])]
    .reverse()
    .find((e) => e.type === 'video.path' && ((e.details || {}).participant_id ?? 'patient') === 'patient');
  return event ? String((event.details || {}).path) : '';
}
