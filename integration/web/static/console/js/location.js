/**
 * The caller's position in the room: « Localiser » asks the phone, « Suivre »
 * asks to follow it while the session lasts (if the patient agrees). The
 * panel shows the address (when the service could find it), the accuracy,
 * links to Google Maps and OpenStreetMap, and a refusal, a timeout or an
 * imprecise position as such. What it shows comes from the session's log
 * (`location.*` events), so every console watching sees the same; the asking
 * console also gets its request's `location.result` at once.
 * @module location
 */

import { formatTime, t } from './i18n.js';

/**
 * @typedef {{ latitude: number, longitude: number, accuracy: number,
 *   address?: string | null, imprecise?: boolean, source?: string }} LocationDetails
 * @typedef {{ type: string, at?: string, actor?: string, details?: Record<string, any> }} LogEvent
 * @typedef {{ fix: (LocationDetails & { at: string }) | null, following: boolean,
 *   failure: string, failureAt: string }} LocationView
 */

/** The service answers by itself after its own wait (60 s by default); the console waits a bit more. */
export const ASK_TIMEOUT_MS = 70000;

/**
 * Links to the position on the two maps.
 * @param {number} latitude
 * @param {number} longitude
 * @returns {{ google: string, osm: string }}
 */
export function mapLinks(latitude, longitude) {
  const lat = latitude.toFixed(6);
  const lon = longitude.toFixed(6);
  return {
    google: `https://www.google.com/maps/search/?api=1&query=${lat},${lon}`,
    osm: `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=18/${lat}/${lon}`,
  };
}

/**
 * Coordinates as the regulator reads them out (5 decimals: about a metre).
 * @param {number} latitude
 * @param {number} longitude
 * @returns {string}
 */
export function formatCoordinates(latitude, longitude) {
  return `${latitude.toFixed(5)}, ${longitude.toFixed(5)}`;
}

/**
 * The accuracy in whole metres (or kilometres past 10 km).
 * @param {number} metres
 * @returns {string}
 */
export function formatAccuracy(metres) {
  return metres >= 10000 ? `${Math.round(metres / 1000)} km` : `${Math.round(metres)} m`;
}

/**
 * What the panel shows, from the session's events (any order).
 * @param {LogEvent[]} events
 * @returns {LocationView}
 */
export function locationView(events) {
  const sorted = [...events].filter((event) => event.type.startsWith('location.'));
  sorted.sort((a, b) => String(a.at || '').localeCompare(String(b.at || '')));
  /** @type {LocationView} */
  const view = { fix: null, following: false, failure: '', failureAt: '' };
  for (const event of sorted) {
    const details = event.details || {};
    switch (event.type) {
      case 'location.received':
        if (Number.isFinite(details.latitude) && Number.isFinite(details.longitude)) {
          view.fix = { ...(/** @type {LocationDetails} */ (details)), at: String(event.at || '') };
          view.failure = '';
        }
        break;
      case 'location.failed':
        view.failure = String(details.error || 'unavailable');
        view.failureAt = String(event.at || '');
        break;
      case 'location.follow_started':
        view.following = true;
        break;
      case 'location.follow_stopped':
        view.following = false;
        break;
      default:
        break;
    }
  }
  return view;
}

/** The reasons the panel and the timeline know. */
const FAILURES = ['denied', 'timeout', 'unavailable', 'unsupported', 'absent', 'page_gone'];

/**
 * The catalogue key of a failure.
 * @param {string} error
 * @returns {string}
 */
export function failureKey(error) {
  return `location.error.${FAILURES.includes(error) ? error : 'unavailable'}`;
}

/**
 * The timeline's line of a location event; null for another event.
 * @param {LogEvent} event
 * @param {string} actor who asked (display name)
 * @returns {{ text: string, tone: 'normal' | 'good' | 'failed' | 'muted' } | null}
 */
export function locationTimelineLine(event, actor) {
  const details = event.details || {};
  switch (event.type) {
    case 'location.asked':
      return { text: t(details.follow ? 'timeline.location.asked_follow' : 'timeline.location.asked', { actor }), tone: 'normal' };
    case 'location.received': {
      const place = details.address || formatCoordinates(Number(details.latitude), Number(details.longitude));
      const accuracy = formatAccuracy(Number(details.accuracy));
      const key = details.imprecise ? 'timeline.location.received_imprecise' : 'timeline.location.received';
      return { text: t(key, { place, accuracy }), tone: details.imprecise ? 'normal' : 'good' };
    }
    case 'location.failed':
      return { text: t('timeline.location.failed', { reason: t(failureKey(String(details.error || ''))) }), tone: 'failed' };
    case 'location.follow_started':
      return { text: t('timeline.location.follow_started'), tone: 'good' };
    case 'location.follow_stopped':
      return { text: t(details.by === 'patient' ? 'timeline.location.follow_stopped_patient' : 'timeline.location.follow_stopped'), tone: 'muted' };
    default:
      return null;
  }
}

/** The location panel of one room. */
export class LocationPanel {
  /**
   * @param {string} sessionId
   * @param {HTMLElement} element the room's `[data-field="location"]` block
   * @param {(message: object) => boolean} send on the console's socket
   */
  constructor(sessionId, element, send) {
    this.sessionId = sessionId;
    this.element = element;
    this.send = send;
    this.counter = 0;
    /** @type {string | null} the request in flight */
    this.waiting = null;
    this.timer = 0;
    this.ended = false;
    /** @type {LocationView} */
    this.view = { fix: null, following: false, failure: '', failureAt: '' };
    this.askButton = /** @type {HTMLButtonElement} */ (this.part('ask'));
    this.followButton = /** @type {HTMLButtonElement} */ (this.part('follow'));
    this.stopButton = /** @type {HTMLButtonElement} */ (this.part('stop'));
    this.askButton.addEventListener('click', () => this.ask(false));
    this.followButton.addEventListener('click', () => this.ask(true));
    this.stopButton.addEventListener('click', () => {
      this.send({ type: 'location.stop', v: 1, session_id: this.sessionId });
    });
  }

  /**
   * @private
   * @param {string} name
   * @returns {HTMLElement}
   */
  part(name) {
    return /** @type {HTMLElement} */ (this.element.querySelector(`[data-location="${name}"]`));
  }

  /**
   * The session as the room fetched it: the panel follows its log.
   * @param {{ timeline?: LogEvent[] }} session
   * @param {boolean} closed
   */
  update(session, closed) {
    this.ended = closed;
    this.view = locationView(Array.isArray(session.timeline) ? session.timeline : []);
    this.render();
  }

  /**
   * A `location.result` or `location.stopped` message for this session.
   * @param {any} message
   */
  onMessage(message) {
    if (message.type === 'location.result' && message.id === this.waiting) {
      this.settle();
      if (message.ok && message.location) {
        this.view.fix = { ...message.location, at: new Date().toISOString() };
        this.view.failure = '';
        this.view.following = Boolean(message.following) || this.view.following;
        this.say('', 'ok');
      } else {
        const reason = /^location_(denied|timeout|unavailable|unsupported)$/.exec(String(message.error_id || ''));
        if (reason) {
          // The phone's own reason: the panel's failure line says it (as the log does).
          this.view.failure = reason[1];
          this.say('', 'ok');
        } else {
          this.say(String(message.message || t('location.error.unavailable')), 'error');
        }
      }
      this.render();
    } else if (message.type === 'location.stopped') {
      this.view.following = false;
      this.render();
    }
  }

  /** Leaving the room. */
  stop() {
    this.settle();
  }

  /**
   * Ask the phone for its position (and to follow it).
   * @param {boolean} follow
   */
  ask(follow) {
    if (this.waiting || this.ended) {
      return;
    }
    this.counter += 1;
    const id = `loc-${Date.now().toString(36)}-${this.counter}`;
    if (!this.send({ type: 'location.ask', v: 1, id, session_id: this.sessionId, follow })) {
      this.say(t('error.location_phone_gone'), 'error');
      return;
    }
    this.waiting = id;
    this.timer = window.setTimeout(() => {
      this.settle();
      this.say(t('error.location_no_answer'), 'error');
      this.render();
    }, ASK_TIMEOUT_MS);
    this.say(t(follow ? 'location.waiting_follow' : 'location.waiting'), 'wait');
    this.render();
  }

  /** @private */
  settle() {
    window.clearTimeout(this.timer);
    this.waiting = null;
  }

  /**
   * @private
   * @param {string} text
   * @param {'wait' | 'ok' | 'error'} tone
   */
  say(text, tone) {
    const status = this.part('status');
    status.textContent = text;
    status.dataset.tone = tone;
    status.hidden = !text;
  }

  /** @private */
  render() {
    const { fix, following, failure } = this.view;
    this.element.dataset.following = String(following);
    this.askButton.disabled = Boolean(this.waiting) || this.ended;
    this.followButton.disabled = Boolean(this.waiting) || this.ended;
    this.followButton.hidden = following;
    this.stopButton.hidden = !following || this.ended;
    const result = this.part('result');
    result.hidden = !fix;
    if (fix) {
      const links = mapLinks(fix.latitude, fix.longitude);
      this.part('address').textContent = fix.address || t('location.no_address');
      this.part('address').dataset.known = String(Boolean(fix.address));
      this.part('coordinates').textContent = t('location.coordinates', {
        coordinates: formatCoordinates(fix.latitude, fix.longitude),
        accuracy: formatAccuracy(fix.accuracy),
      });
      this.part('imprecise').hidden = !fix.imprecise;
      this.part('time').textContent = fix.at ? t('location.at', { time: formatTime(fix.at) }) : '';
      /** @type {HTMLAnchorElement} */ (this.part('google')).href = links.google;
      /** @type {HTMLAnchorElement} */ (this.part('osm')).href = links.osm;
    }
    const failureLine = this.part('failure');
    // An error of this console's own request (phone gone, flood) is said once, in the status.
    const statusShown = this.part('status').dataset.tone === 'error' && !this.part('status').hidden;
    failureLine.hidden = !failure || Boolean(this.waiting) || statusShown;
    failureLine.textContent = failure ? t(failureKey(failure)) : '';
    this.part('following').hidden = !following;
  }
}
