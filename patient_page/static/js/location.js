/**
 * The regulator asks where the caller is: the page says why, asks the
 * browser for the position and answers the service with it (or with why
 * there is none). When the regulator asks to follow, the patient may agree:
 * the page then sends the position as it changes, at most once every few
 * seconds, until the patient or the regulator stops it.
 * @module location
 */

/**
 * @typedef {{ latitude: number, longitude: number, accuracy: number }} Fix
 * @typedef {'denied' | 'timeout' | 'unavailable' | 'unsupported'} LocationError
 */

/** How long the browser may look for a first fix. */
export const FIX_TIMEOUT_MS = 20000;
/** While followed: at most one position sent per this many ms... */
export const FOLLOW_INTERVAL_MS = 10000;
/** ...unless the phone moved at least this many metres. */
export const FOLLOW_DISTANCE_M = 20;

/**
 * The fix the service takes, from a browser position.
 * @param {{ coords: { latitude: number, longitude: number, accuracy: number } }} position
 * @returns {Fix}
 */
export function fixFrom(position) {
  const { latitude, longitude, accuracy } = position.coords;
  return { latitude, longitude, accuracy };
}

/**
 * Why there is no position, from a `GeolocationPositionError` (or anything thrown).
 * @param {unknown} error
 * @returns {LocationError}
 */
export function locationError(error) {
  const code = error && typeof error === 'object' && 'code' in error ? /** @type {any} */ (error).code : 0;
  if (code === 1) {
    return 'denied';
  }
  if (code === 3) {
    return 'timeout';
  }
  return 'unavailable';
}

/**
 * Metres between two fixes (haversine).
 * @param {Fix} a
 * @param {Fix} b
 * @returns {number}
 */
export function distanceMetres(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.latitude - a.latitude) * rad;
  const dLon = (b.longitude - a.longitude) * rad;
  const h =
    Math.sin(dLat / 2) ** 2 +
    Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * Whether a new fix is worth sending while followed.
 * @param {Fix | null} last the last fix sent
 * @param {number} lastAt when it was sent (ms)
 * @param {Fix} next
 * @param {number} now (ms)
 * @returns {boolean}
 */
export function worthSending(last, lastAt, next, now) {
  if (!last) {
    return true;
  }
  return now - lastAt >= FOLLOW_INTERVAL_MS || distanceMetres(last, next) >= FOLLOW_DISTANCE_M;
}

/**
 * @typedef {object} LocationHooks
 * @property {(message: object) => void} send to the service
 * @property {(key: string) => string} text a translated text
 * @property {Geolocation | undefined} geolocation the browser's (absent: unsupported)
 */

export class PatientLocation {
  /** @param {LocationHooks} hooks */
  constructor(hooks) {
    this.hooks = hooks;
    this.panel = /** @type {HTMLElement} */ (document.getElementById('location'));
    this.status = /** @type {HTMLElement} */ (document.getElementById('location-status'));
    this.followBox = /** @type {HTMLElement} */ (document.getElementById('location-follow'));
    this.followButton = /** @type {HTMLButtonElement} */ (document.getElementById('location-follow-yes'));
    this.noFollowButton = /** @type {HTMLButtonElement} */ (document.getElementById('location-follow-no'));
    this.stopButton = /** @type {HTMLButtonElement} */ (document.getElementById('location-stop'));
    this.closeButton = /** @type {HTMLButtonElement} */ (document.getElementById('location-close'));
    /** @type {number | null} */
    this.watchId = null;
    /** @type {Fix | null} */
    this.lastSent = null;
    this.lastSentAt = 0;
  }

  start() {
    this.followButton.addEventListener('click', () => this.follow());
    this.noFollowButton.addEventListener('click', () => {
      this.followBox.hidden = true;
    });
    this.stopButton.addEventListener('click', () => {
      this.stopFollowing();
      this.hooks.send({ type: 'location.stopped' });
      this.say('location-stopped');
    });
    this.closeButton.addEventListener('click', () => {
      this.panel.hidden = true;
    });
  }

  /**
   * The regulator asks for the position: say why, ask the browser, answer.
   * @param {{ id: string, follow?: boolean }} request
   */
  onAsk(request) {
    const id = String(request.id);
    this.panel.hidden = false;
    this.followBox.hidden = true;
    this.say('location-asking');
    const geolocation = this.hooks.geolocation;
    if (!geolocation) {
      this.hooks.send({ type: 'location.result', id, fix: null, error: 'unsupported' });
      this.say('location-unsupported');
      return;
    }
    geolocation.getCurrentPosition(
      (position) => {
        const fix = fixFrom(position);
        this.hooks.send({ type: 'location.result', id, fix, error: '', follow: this.watchId !== null });
        this.say('location-sent');
        if (request.follow && this.watchId === null) {
          this.followBox.hidden = false;
        }
      },
      (error) => {
        const why = locationError(error);
        this.hooks.send({ type: 'location.result', id, fix: null, error: why });
        this.say(`location-${why}`);
      },
      { enableHighAccuracy: true, timeout: FIX_TIMEOUT_MS, maximumAge: 0 },
    );
  }

  /** The patient agreed to be followed. */
  follow() {
    const geolocation = this.hooks.geolocation;
    this.followBox.hidden = true;
    if (!geolocation || this.watchId !== null) {
      return;
    }
    this.lastSent = null;
    this.watchId = geolocation.watchPosition(
      (position) => {
        const fix = fixFrom(position);
        const now = Date.now();
        if (worthSending(this.lastSent, this.lastSentAt, fix, now)) {
          this.lastSent = fix;
          this.lastSentAt = now;
          this.hooks.send({ type: 'location.update', fix });
        }
      },
      () => {
        // A lost fix while following: the next one goes when it comes.
      },
      { enableHighAccuracy: true, maximumAge: 5000 },
    );
    this.stopButton.hidden = false;
    // While followed the panel stays, with its way to stop.
    this.closeButton.hidden = true;
    this.say('location-following');
  }

  /** The regulator stopped following. */
  onStop() {
    if (this.watchId !== null) {
      this.stopFollowing();
      this.say('location-stopped');
    }
  }

  /** Stop sending (the session ended, or someone stopped it). */
  stopFollowing() {
    if (this.watchId !== null && this.hooks.geolocation) {
      this.hooks.geolocation.clearWatch(this.watchId);
    }
    this.watchId = null;
    this.stopButton.hidden = true;
    this.closeButton.hidden = false;
    this.followBox.hidden = true;
  }

  /**
   * @private
   * @param {string} key
   */
  say(key) {
    this.status.textContent = this.hooks.text(key);
  }
}
