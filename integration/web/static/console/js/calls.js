/**
 * The calls known at this position, kept up to date from the WebSocket
 * messages, and which one the console shows as the main card.
 * @module calls
 */

/**
 * @typedef {object} Caller
 * @property {string} raw exactly what the switch presented
 * @property {string | null} e164
 * @property {string | null} display readable form, e.g. `06 12 34 56 78`
 * @property {'mobile' | 'landline' | 'special' | 'freephone' | 'premium' | 'short' | 'international' | 'withheld' | 'invalid'} kind
 * @property {boolean} sms_capable
 */

/**
 * @typedef {object} Call
 * @property {string} call_id
 * @property {string} line
 * @property {'ringing' | 'answered' | 'held' | 'waiting' | 'transferred_out' | 'ended'} state
 * @property {string} position where the call is now
 * @property {string[]} previous_positions
 * @property {Caller} caller
 * @property {'sms' | 'email' | 'ask_number'} suggested_channel
 * @property {string} started_at
 * @property {string | null} answered_at
 * @property {string | null} ended_at
 */

/** How many calls the console keeps (older ones are forgotten). */
export const MAX_CALLS = 12;

/**
 * Whether the call is still in progress somewhere.
 * @param {Call} call
 * @returns {boolean}
 */
export function isLive(call) {
  return call.state !== 'ended';
}

/** The calls of one position, oldest first. */
export class CallBoard {
  constructor() {
    /** @type {string | null} the session's position */
    this.position = null;
    /** @type {Call[]} oldest first */
    this.calls = [];
    /** @type {Set<string>} calls transferred away from this position */
    this.movedAway = new Set();
    /** @type {string | null} a call the regulator chose to show, until the next offer */
    this.pinned = null;
    /** @type {string | null} the last call offered, shown while it is in progress here */
    this.offered = null;
  }

  /**
   * Replace everything with the content of a `hello` message.
   * @param {string | null} position
   * @param {Call[]} calls oldest first
   */
  reset(position, calls) {
    this.position = position;
    this.calls = [];
    this.movedAway.clear();
    for (const call of calls) {
      this.upsert(call);
    }
    if (this.pinned && !this.find(this.pinned)) {
      this.pinned = null;
    }
    if (this.offered && !this.find(this.offered)) {
      this.offered = null;
    }
  }

  /**
   * A call was answered at, or transferred to, this position: it becomes the main card.
   * @param {Call} call
   */
  offer(call) {
    this.movedAway.delete(call.call_id);
    this.upsert(call);
    this.offered = call.call_id;
    this.pinned = null;
  }

  /**
   * A call changed state (held, resumed, ended).
   * @param {Call} call
   */
  update(call) {
    const known = this.find(call.call_id);
    // Taking a held call back is the regulator's own act: raise its card.
    if (known && known.state === 'held' && call.state === 'answered' && !this.isMovedAway(call)) {
      this.offered = call.call_id;
      this.pinned = null;
    }
    this.upsert(call);
  }

  /**
   * A call was transferred to `call.position`.
   * @param {Call} call
   */
  moved(call) {
    if (call.position !== this.position) {
      this.movedAway.add(call.call_id);
    }
    this.upsert(call);
  }

  /**
   * Show this call as the main card until the next offer.
   * @param {string} callId
   */
  pin(callId) {
    if (this.find(callId)) {
      this.pinned = callId;
    }
  }

  /**
   * @param {string} callId
   * @returns {Call | undefined}
   */
  find(callId) {
    return this.calls.find((call) => call.call_id === callId);
  }

  /**
   * Whether the call has left this position for another one.
   * @param {Call} call
   * @returns {boolean}
   */
  isMovedAway(call) {
    // A call no desk has (waiting for a regulator, out of the centre) did not move to another
    // desk: its card says where it is.
    return this.movedAway.has(call.call_id)
      || (this.position !== null && call.position !== null && call.position !== this.position);
  }

  /**
   * Whether the call is in progress at this very position.
   * @param {Call} call
   * @returns {boolean}
   */
  isLiveHere(call) {
    return isLive(call) && !this.isMovedAway(call);
  }

  /**
   * The main card: the call the regulator chose, else the last call offered
   * (it stays, marked ended or transferred, until the next offer: the video
   * may still be wanted and a card must not vanish under the regulator's
   * eyes), else the newest call in progress here, else the newest call
   * known, else null (empty state).
   * @returns {Call | null}
   */
  mainCall() {
    const chosen = this.find(this.pinned ?? '') ?? this.find(this.offered ?? '');
    if (chosen) {
      return chosen;
    }
    for (let i = this.calls.length - 1; i >= 0; i -= 1) {
      if (this.isLiveHere(this.calls[i])) {
        return this.calls[i];
      }
    }
    return this.calls.length ? this.calls[this.calls.length - 1] : null;
  }

  /**
   * Every other call, newest first.
   * @returns {Call[]}
   */
  recentCalls() {
    const main = this.mainCall();
    return this.calls.filter((call) => call !== main).reverse();
  }

  /**
   * @private
   * @param {Call} call
   */
  upsert(call) {
    if (!call || typeof call.call_id !== 'string') {
      return;
    }
    const index = this.calls.findIndex((known) => known.call_id === call.call_id);
    if (index >= 0) {
      this.calls[index] = call;
    } else {
      this.calls.push(call);
      this.calls.sort((a, b) => timeOf(a) - timeOf(b));
      while (this.calls.length > MAX_CALLS) {
        const dropped = this.calls.shift();
        if (dropped) {
          this.movedAway.delete(dropped.call_id);
          if (this.pinned === dropped.call_id) {
            this.pinned = null;
          }
          if (this.offered === dropped.call_id) {
            this.offered = null;
          }
        }
      }
    }
  }
}

/**
 * @param {Call} call
 * @returns {number}
 */
function timeOf(call) {
  const time = Date.parse(call.started_at);
  return Number.isNaN(time) ? Number.MAX_SAFE_INTEGER : time;
}
