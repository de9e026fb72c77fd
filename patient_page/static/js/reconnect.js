/**
 * When to build the next video connection: at once after a connection that
 * held, then later and later while new ones keep failing (no loop that
 * drains the battery or floods the service).
 * @module reconnect
 */

/** Wait before each new attempt in a row. */
export const DELAYS_MS = [0, 1000, 2000, 4000, 8000, 15000];
/** A connection that held this long was a success: the count starts again. */
export const STABLE_MS = 10000;
/** A new network starts the count again, unless networks change faster than this. */
export const NETWORK_SETTLE_MS = 3000;

/** Counts the attempts since the last connection that held. */
export class ReconnectPolicy {
  constructor() {
    this.failures = 0;
    /** @type {number | null} */
    this.connectedAt = null;
    this.networkAt = -Infinity;
  }

  /**
   * The connection is up.
   * @param {number} now milliseconds
   */
  connected(now) {
    this.connectedAt = now;
  }

  /**
   * The wait before the attempt on a new network: at once, even after failures on the old
   * one (they said nothing of this one), unless the network keeps changing.
   * @param {number} now milliseconds
   * @returns {number}
   */
  onNewNetwork(now) {
    if (now - this.networkAt >= NETWORK_SETTLE_MS) {
      this.failures = 0;
    }
    this.networkAt = now;
    return this.nextDelay(now);
  }

  /**
   * The wait before the next attempt, which this call counts.
   * @param {number} now milliseconds
   * @returns {number}
   */
  nextDelay(now) {
    if (this.connectedAt !== null && now - this.connectedAt >= STABLE_MS) {
      this.failures = 0;
    }
    this.connectedAt = null;
    const delay = DELAYS_MS[Math.min(this.failures, DELAYS_MS.length - 1)];
    this.failures += 1;
    return delay;
  }
}

/**
 * Whether a `navigator.connection` change is a new network (Wi-Fi to mobile
 * data) rather than a new estimate of the same one. Browsers that do not say
 * the network's type (desktops) never count.
 * @param {string | undefined} before the type at the last reading
 * @param {string | undefined} after
 */
export function networkChanged(before, after) {
  return after !== undefined && before !== undefined && after !== before;
}
