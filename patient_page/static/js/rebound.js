/**
 * The picture sharp again soon after a dip. When the uplink collapses for a
 * while (a tunnel, a crowded cell) and comes back, the browser's estimate
 * climbs back from the bottom by itself only slowly (about 15 % a second,
 * at the lowest resolution): it does not probe the link again on its own.
 * It does probe when the transport's bitrate ceiling rises above its estimate
 * (Chromium's ProbeController: a probe at the new ceiling, up to twice what
 * the encoder may send), and the page can raise that ceiling itself: the
 * service's answer applied again, locally, with its `b=AS` ceiling lowered
 * then raised (`publisher.js`). So, once the readings show the link clean
 * again (no loss, the queue drained, the estimate no longer falling), the page
 * makes the browser probe. A probe is a burst of a few packets: on a link
 * still weak it fails without costing the picture, and the next attempt waits
 * longer and longer. One that finds the link back lifts the encoder's limits
 * from the dip at once (`linkadapt.js`).
 *
 * Pure: `reboundStep` takes a state and one reading and says what to do.
 * @module rebound
 */

/**
 * The estimate before a dip counts up to this (kbit/s): what the best step needs. A browser's
 * estimate may run far above what its encoder sends, and above the link itself.
 */
export const REFERENCE_CAP_KBPS = 2000;
/** A fall of the estimate below this fraction of its peak, with the link short, is a dip. */
export const DIP_FRACTION = 0.25;
/** Back above this fraction of the peak, the dip is over: nothing more to do. */
export const RECOVERED_FRACTION = 0.5;
/** Signs of a short link during a fall: loss, or a queue (ms above the base round trip). */
const DIP_LOSS = 0.05;
const DIP_QUEUE_MS = 200;
/** Clean readings (no loss, the queue drained, the estimate not falling) before trying. */
export const CLEAN_READINGS = 2;
const CLEAN_LOSS = 0.02;
const CLEAN_QUEUE_MS = 80;
/** How long a probe has to lift the estimate, and by how much. */
export const PROBE_MS = 1500;
export const PROBE_GAIN = 1.8;
/**
 * The estimate's own growth (from the dip's bottom, or since the last attempt) that a probe waits
 * for: the sign that Chromium's estimator lets it rise again, and would send a probe.
 */
export const RELEASED_GAIN = 1.25;
/**
 * Waits before the next attempt after one fails, at the least: doubled each time, up to the last.
 * A failed probe costs a burst of packets and a keyframe (the browser reconfigures its encoder);
 * the next one also waits for the estimate to grow by itself (see RELEASED_GAIN).
 */
export const BACKOFF_MS = [1000, 2000, 4000, 8000, 16000, 30000, 60000];

/**
 * @typedef {object} Reading
 * @property {number | null} kbps the browser's estimate of the uplink
 * @property {number | null} rttMs the round trip, the freshest of the connection's measures
 * @property {number | null} loss fraction lost, 0 to 1
 */

/**
 * @typedef {object} ReboundState
 * @property {'steady' | 'dipped' | 'probing'} phase
 * @property {number} peakKbps the highest estimate before the dip
 * @property {number | null} baseRttMs the lowest round trip seen
 * @property {number | null} lastKbps
 * @property {number} clean clean readings in a row while dipped
 * @property {number} since when the current phase began (ms)
 * @property {number} kickKbps the estimate when the probe was asked for
 * @property {number} floorKbps the lowest estimate since the dip began
 * @property {number} failures failed attempts in a row
 * @property {number} notBefore no attempt before this time (ms)
 */

/**
 * What the sender must do: `probe` the link (the estimate now), the probe `recovered` the link
 * (the estimate it found), or `failed` (the next attempt in `retryInMs`).
 * @typedef {{kind: 'probe', kbps: number} | {kind: 'recovered', kbps: number}
 *   | {kind: 'failed', retryInMs: number}} ReboundAction
 */

/** @returns {ReboundState} */
export function initialRebound() {
  return {
    phase: 'steady',
    peakKbps: 0,
    baseRttMs: null,
    lastKbps: null,
    clean: 0,
    since: 0,
    kickKbps: 0,
    floorKbps: Infinity,
    failures: 0,
    notBefore: 0,
  };
}

/**
 * The estimate a dip is measured against.
 * @param {ReboundState} state
 */
function reference(state) {
  return Math.min(state.peakKbps, REFERENCE_CAP_KBPS);
}

/**
 * @param {ReboundState} state
 * @param {Reading} reading
 */
function queueMs(state, reading) {
  return reading.rttMs !== null && state.baseRttMs !== null ? reading.rttMs - state.baseRttMs : 0;
}

/**
 * The next state after one reading at `now` (ms), and what the sender must do.
 * @param {ReboundState} state
 * @param {Reading} reading
 * @param {number} now
 * @returns {{state: ReboundState, action: ReboundAction | null}}
 */
export function reboundStep(state, reading, now) {
  /** @type {ReboundState} */
  const next = { ...state, lastKbps: reading.kbps };
  if (reading.rttMs !== null) {
    next.baseRttMs = state.baseRttMs === null ? reading.rttMs : Math.min(state.baseRttMs, reading.rttMs);
  }
  const kbps = reading.kbps;
  if (kbps === null) {
    return { state: next, action: null };
  }
  const loss = reading.loss ?? 0;
  const queue = queueMs(next, reading);
  switch (state.phase) {
    case 'steady': {
      next.peakKbps = Math.max(state.peakKbps, kbps);
      const short = loss >= DIP_LOSS || queue >= DIP_QUEUE_MS;
      if (kbps < reference(next) * DIP_FRACTION && short) {
        Object.assign(next, { phase: 'dipped', clean: 0, since: now, failures: 0, notBefore: 0, floorKbps: kbps });
      }
      return { state: next, action: null };
    }
    case 'dipped': {
      if (kbps >= reference(state) * RECOVERED_FRACTION) {
        Object.assign(next, { phase: 'steady', peakKbps: kbps, clean: 0 });
        return { state: next, action: null };
      }
      const falling = state.lastKbps !== null && kbps < state.lastKbps * 0.95;
      const clean = loss < CLEAN_LOSS && queue < CLEAN_QUEUE_MS && !falling;
      next.clean = clean ? state.clean + 1 : 0;
      // A probe only once the estimate grew by itself, from the dip's bottom or since the last
      // attempt: until then Chromium sends none (its loss-based estimate remembers the dip's
      // losses for a few seconds, and it does not probe while that estimate holds it back).
      next.floorKbps = Math.min(state.floorKbps, kbps);
      const grown = kbps >= (state.failures > 0 ? state.kickKbps : next.floorKbps) * RELEASED_GAIN;
      if (next.clean >= CLEAN_READINGS && grown && now >= state.notBefore) {
        Object.assign(next, { phase: 'probing', since: now, kickKbps: kbps, clean: 0 });
        return { state: next, action: { kind: 'probe', kbps } };
      }
      return { state: next, action: null };
    }
    case 'probing': {
      if (kbps >= state.kickKbps * PROBE_GAIN && loss < DIP_LOSS) {
        const over = kbps >= reference(state) * RECOVERED_FRACTION;
        Object.assign(next, {
          phase: over ? 'steady' : 'dipped',
          peakKbps: over ? kbps : state.peakKbps,
          failures: 0,
          notBefore: now,
          clean: 0,
        });
        return { state: next, action: { kind: 'recovered', kbps } };
      }
      if (now - state.since >= PROBE_MS) {
        const retryInMs = BACKOFF_MS[Math.min(state.failures, BACKOFF_MS.length - 1)];
        Object.assign(next, { phase: 'dipped', failures: state.failures + 1, notBefore: now + retryInMs, clean: 0 });
        return { state: next, action: { kind: 'failed', retryInMs } };
      }
      return { state: next, action: null };
    }
  }
  return { state: next, action: null };
}
