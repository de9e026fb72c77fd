/**
 * The sender's quality on a weak link: a readable lower resolution and frame
 * rate rather than a frozen high one. Every few seconds the connection's
 * statistics (the browser's estimate of the uplink, why the encoder is
 * limited, the round trip, the losses the service reports) choose a step, with
 * hysteresis: down after two weak readings, up one step after three good ones.
 * A reading is weak only when the link shows it is short (loss, a queue
 * building up, the estimate falling from its peak): a receiver whose estimate
 * starts low and grows slowly must not cost the picture on a good network.
 * The same readings judge video itself: too weak for any step once the
 * estimate stays clearly low (the page then sends photos instead), able to
 * carry it again once it stays well above that (`videoVerdict`).
 * After a dip, the link's return is helped along (`rebound.js`): the browser
 * is made to probe the link again, and a probe that finds it back brings the
 * picture back up at once rather than one step every few seconds.
 * @module linkadapt
 */

import { initialRebound, reboundStep } from './rebound.js';

/**
 * @typedef {object} Step
 * @property {string} name
 * @property {number} minKbps the uplink this step needs
 * @property {number} height the picture's short side
 * @property {number} fps
 * @property {number} maxKbps the encoder's ceiling (0: the browser's own)
 */

/** @type {Step[]} best first */
export const STEPS = [
  { name: 'high', minKbps: 1200, height: 720, fps: 30, maxKbps: 0 },
  { name: 'medium', minKbps: 500, height: 480, fps: 20, maxKbps: 1500 },
  { name: 'low', minKbps: 150, height: 360, fps: 15, maxKbps: 800 },
  { name: 'minimal', minKbps: 0, height: 240, fps: 10, maxKbps: 250 },
];
/** Index of the first step where the page tells the patient the network is weak. */
export const WEAK_STEP = 2;
/** Going up needs this much more than the step's own need (no flapping at a threshold). */
const UP_MARGIN = 1.2;
/** Readings in a row before going down, and before going up. */
const DOWN_AFTER = 2;
const UP_AFTER = 3;
/** A loss rate that costs one step whatever the estimate. */
const HEAVY_LOSS = 0.08;
/** How often the statistics are read, and the steps decided. */
const INTERVAL_MS = 2000;
/** How often they are read besides while a dip's return is watched. */
const READ_MS = 500;
/** After a probe found the link back, the steps follow the estimate up this long, at once. */
const FOLLOW_PROBE_MS = 10000;
/** Below this uplink (kbit/s) no step carries a readable video: photos fit better. */
export const TOO_WEAK_KBPS = 50;
/** How long the estimate stays below it before video gives way to photos. */
export const TOO_WEAK_MS = 5000;
/** Readings in a row below the bound that make `TOO_WEAK_MS` (a few seconds, not one dip). */
export const TOO_WEAK_READINGS = Math.ceil(TOO_WEAK_MS / INTERVAL_MS);
/** Readings in a row at twice the bound before the link carries video again (a borderline one does not). */
export const CARRIES_READINGS = 2;
/** An estimate growing this much per reading is still ramping up, not a weak link. */
const RAMPING = 1.04;
/** Signs that the link itself is short: some loss, a queue building up, the estimate falling. */
const SOME_LOSS = 0.02;
const QUEUE_MS = 200;
const FALLEN = 0.7;

/**
 * @typedef {object} Sample
 * @property {number | null} kbps the uplink the browser estimates (availableOutgoingBitrate)
 * @property {string} limitation the encoder's qualityLimitationReason
 * @property {number | null} rttMs the ICE pair's round trip (its checks: every few seconds)
 * @property {number | null} [reportRttMs] the round trip from the service's receiver reports
 *   (every second or so: the first to show a queue drained)
 * @property {number | null} loss fraction lost, 0 to 1, as the service reports it
 */

/**
 * @typedef {object} AdaptState
 * @property {number} step index in STEPS
 * @property {number} down weak readings in a row
 * @property {number} up good readings in a row
 * @property {number} starved readings in a row below TOO_WEAK_KBPS
 * @property {number} carried readings in a row at twice TOO_WEAK_KBPS or more
 * @property {boolean} blind the latest reading had no estimate (a browser that gives none)
 * @property {number | null} lastKbps
 * @property {number} peakKbps the highest estimate of this connection
 * @property {number | null} baseRttMs the lowest round trip of this connection
 */

/** @returns {AdaptState} */
export function initialState() {
  return {
    step: 0,
    down: 0,
    up: 0,
    starved: 0,
    carried: 0,
    blind: false,
    lastKbps: null,
    peakKbps: 0,
    baseRttMs: null,
  };
}

/**
 * Whether the readings show the link itself running short, rather than a receiver whose
 * estimate starts low and grows slowly (the estimate alone says nothing then).
 * @param {AdaptState} state
 * @param {Sample} sample
 * @param {number} kbps
 */
function congested(state, sample, kbps) {
  const queue = sample.rttMs !== null && state.baseRttMs !== null && sample.rttMs >= state.baseRttMs + QUEUE_MS;
  return (sample.loss ?? 0) >= SOME_LOSS || queue || kbps < state.peakKbps * FALLEN;
}

/**
 * The step an uplink of `kbps` carries.
 * @param {number} kbps
 * @returns {number}
 */
export function stepFor(kbps) {
  const index = STEPS.findIndex((step) => kbps >= step.minKbps);
  return index < 0 ? STEPS.length - 1 : index;
}

/**
 * The next state after one reading (pure: the unit tests drive it).
 * @param {AdaptState} state
 * @param {Sample} sample
 * @returns {AdaptState}
 */
export function decide(state, sample) {
  const next = { ...state, lastKbps: sample.kbps, blind: sample.kbps === null };
  if (sample.rttMs !== null) {
    next.baseRttMs = state.baseRttMs === null ? sample.rttMs : Math.min(state.baseRttMs, sample.rttMs);
  }
  if (sample.kbps === null) {
    return next; // no estimate says nothing either way
  }
  next.starved = sample.kbps < TOO_WEAK_KBPS ? state.starved + 1 : 0;
  next.carried = sample.kbps >= 2 * TOO_WEAK_KBPS ? state.carried + 1 : 0;
  next.peakKbps = Math.max(state.peakKbps, sample.kbps);
  const lossy = (sample.loss ?? 0) >= HEAVY_LOSS;
  const ramping = state.lastKbps !== null && sample.kbps >= state.lastKbps * RAMPING;
  // The estimate says little while the encoder is not held back by the link, while it grows
  // (the first seconds), or when nothing shows the link short (a cautious receiver's estimate).
  const linkBound = sample.limitation === 'bandwidth' && !ramping && congested(state, sample, sample.kbps);
  let wanted = linkBound ? Math.max(state.step, stepFor(sample.kbps)) : state.step;
  if (lossy) {
    wanted = Math.max(wanted, Math.min(state.step + 1, STEPS.length - 1));
  }
  if (wanted > state.step) {
    next.up = 0;
    next.down = state.down + 1;
    if (next.down >= DOWN_AFTER) {
      next.step = wanted;
      next.down = 0;
    }
  } else if (state.step > 0 && !lossy && sample.kbps >= STEPS[state.step - 1].minKbps * UP_MARGIN) {
    next.down = 0;
    next.up = state.up + 1;
    if (next.up >= UP_AFTER) {
      next.step = state.step - 1;
      next.up = 0;
    }
  } else {
    next.down = 0;
    next.up = 0;
  }
  return next;
}

/** @typedef {'too_weak' | 'carries'} VideoVerdict */

/**
 * What the readings say of video itself, once they say it: too weak for any
 * step after `TOO_WEAK_MS` clearly below the bound; able to carry it after a
 * few readings well above, or at once on a browser that gives no estimate
 * (the frames arriving are then the only proof); null meanwhile.
 * @param {AdaptState} state
 * @returns {VideoVerdict | null}
 */
export function videoVerdict(state) {
  if (state.starved >= TOO_WEAK_READINGS) {
    return 'too_weak';
  }
  return state.carried >= CARRIES_READINGS || state.blind ? 'carries' : null;
}

/**
 * The sender's encoding for a step, for a camera whose picture's short side is `shortSide`.
 * @param {number} step
 * @param {number} shortSide
 * @returns {{maxFramerate: number, scaleResolutionDownBy: number, maxBitrate?: number}}
 */
export function encodingFor(step, shortSide) {
  const { height, fps, maxKbps } = STEPS[step];
  /** @type {{maxFramerate: number, scaleResolutionDownBy: number, maxBitrate?: number}} */
  const encoding = {
    maxFramerate: fps,
    scaleResolutionDownBy: Math.max(1, Math.round((shortSide / height) * 100) / 100),
  };
  if (maxKbps) {
    encoding.maxBitrate = maxKbps * 1000;
  }
  return encoding;
}

/**
 * The sender's encoding for a camera that gives more than the best step (a 4K camera, a browser
 * that ignored the page's ideal 720p): its picture scaled down to the best step's short side
 * before it is encoded, so that a mobile link never carries more than 720p. Null when the
 * camera's picture is no larger (nothing to cap).
 * @param {{width?: number, height?: number}} settings the camera track's settings
 * @returns {{maxFramerate: number, scaleResolutionDownBy: number} | null}
 */
export function capFor(settings) {
  if (!settings.width || !settings.height) {
    return null;
  }
  const shortSide = Math.min(settings.width, settings.height);
  if (shortSide <= STEPS[0].height) {
    return null;
  }
  const { maxFramerate, scaleResolutionDownBy } = encodingFor(0, shortSide);
  return { maxFramerate, scaleResolutionDownBy };
}

/**
 * One reading from the connection's statistics.
 * @param {RTCStatsReport | Map<string, any>} report
 * @returns {Sample}
 */
export function readSample(report) {
  /** @type {Sample} */
  const sample = { kbps: null, limitation: 'none', rttMs: null, loss: null };
  /** @type {any[]} */
  const stats = [];
  report.forEach((/** @type {any} */ stat) => stats.push(stat));
  // The pair the transport uses, else the nominated one that works (the first may be missing).
  const transport = stats.find((stat) => stat.type === 'transport' && stat.selectedCandidatePairId);
  const pair =
    (transport && stats.find((stat) => stat.id === transport.selectedCandidatePairId)) ||
    stats.find((stat) => stat.type === 'candidate-pair' && stat.nominated && stat.state === 'succeeded');
  if (pair && Number.isFinite(pair.availableOutgoingBitrate)) {
    sample.kbps = pair.availableOutgoingBitrate / 1000;
  }
  if (pair && Number.isFinite(pair.currentRoundTripTime)) {
    sample.rttMs = pair.currentRoundTripTime * 1000;
  }
  for (const stat of stats) {
    if (stat.type === 'outbound-rtp' && stat.kind === 'video') {
      sample.limitation = stat.qualityLimitationReason || 'none';
    } else if (stat.type === 'remote-inbound-rtp') {
      if (typeof stat.fractionLost === 'number') {
        sample.loss = stat.fractionLost;
      }
      if (typeof stat.roundTripTime === 'number') {
        sample.reportRttMs = stat.roundTripTime * 1000;
      }
    }
  }
  return sample;
}

/**
 * @typedef {object} AdapterOptions
 * @property {(step: number) => void} onStep the step the sender now uses
 * @property {(verdict: VideoVerdict) => void} onVerdict the readings' verdict on video, each time
 *   it changes (`videoVerdict`)
 * @property {() => Promise<boolean>} [probe] make the browser probe the link now (see
 *   `Publisher.probeLink`); without it, the return after a dip is left to the browser
 * @property {(action: import('./rebound.js').ReboundAction) => void} [onRebound] each step of
 *   the return after a dip (probe, recovered, failed)
 */

/** Reads one connection's statistics and sets its video sender's parameters. */
export class LinkAdapter {
  /**
   * @param {RTCPeerConnection} pc
   * @param {RTCRtpSender} sender
   * @param {AdapterOptions} options
   */
  constructor(pc, sender, options) {
    this.pc = pc;
    this.sender = sender;
    this.options = options;
    this.state = initialState();
    this.rebound = initialRebound();
    this.followUntil = 0;
    /** @type {Promise<void>} the readings in turn */
    this.queue = Promise.resolve();
    this.pending = 0;
    this.timer = 0;
    this.watchTimer = 0;
    /** @type {VideoVerdict | null} the verdict last told */
    this.told = null;
  }

  start() {
    this.timer = window.setInterval(() => this.read(), INTERVAL_MS);
    this.watchTimer = window.setInterval(() => this.watch(), READ_MS);
  }

  stop() {
    window.clearInterval(this.timer);
    window.clearInterval(this.watchTimer);
  }

  /** One reading and one step decision (every INTERVAL_MS). */
  async read() {
    await this.inTurn(() => this.readOnce(true));
  }

  /**
   * A reading between decisions, while a dip's return is watched and while the steps follow a
   * probe's estimate (every READ_MS): the sooner a probe goes, the sooner the picture is back.
   * Skipped while another reading runs.
   * @private
   */
  async watch() {
    const watched = this.rebound.phase !== 'steady' || Date.now() < this.followUntil;
    if (this.pending > 0 || !this.options.probe || !watched) {
      return;
    }
    await this.inTurn(() => this.readOnce(false));
  }

  /**
   * Run `work` after the readings before it: their sender parameters never interleave.
   * @private
   * @param {() => Promise<void>} work
   */
  async inTurn(work) {
    const before = this.queue;
    /** @type {() => void} */
    let done = () => {};
    this.queue = new Promise((resolve) => {
      done = resolve;
    });
    this.pending += 1;
    try {
      await before;
      await work();
    } finally {
      this.pending -= 1;
      done();
    }
  }

  /**
   * @private
   * @param {boolean} decision whether the steps are decided on this reading
   */
  async readOnce(decision) {
    let report;
    try {
      report = await this.pc.getStats();
    } catch {
      return; // closed meanwhile
    }
    const sample = readSample(report);
    const before = this.state.step;
    const phase = await this.reboundOn(sample, Date.now());
    if (decision && phase !== 'probing') {
      // While a probe runs, the probe decides.
      this.state = decide(this.state, sample);
      if (this.state.step !== before) {
        await this.apply(this.state.step);
      }
    }
    if (this.state.step !== before) {
      this.options.onStep(this.state.step);
    }
    const verdict = videoVerdict(this.state);
    if (decision && verdict !== null && verdict !== this.told) {
      this.told = verdict;
      this.options.onVerdict(verdict);
    }
  }

  /**
   * The return after a dip (`rebound.js`), from one reading: a probe, the step a probe found,
   * the steps following the estimate up for a while after it.
   * @private
   * @param {Sample} sample
   * @param {number} now
   * @returns {Promise<import('./rebound.js').ReboundState['phase']>}
   */
  async reboundOn(sample, now) {
    if (!this.options.probe) {
      return this.rebound.phase; // no way to make the browser probe: left to it
    }
    const rtts = [sample.rttMs, sample.reportRttMs ?? null].filter((rtt) => rtt !== null);
    const reading = { ...sample, rttMs: rtts.length ? Math.min(...rtts) : null };
    const { state, action } = reboundStep(this.rebound, reading, now);
    this.rebound = state;
    if (action) {
      this.options.onRebound?.(action);
    }
    if (action?.kind === 'probe') {
      // The sender's encoding stays as it is: a probe that fails costs the picture nothing.
      await this.options.probe();
    } else if (action?.kind === 'recovered') {
      // The probe found the link back: the step it carries now, and the encoder's own
      // resolution limits from the dip dropped (it would climb back one notch at a time).
      const step = Math.min(this.state.step, stepFor(action.kbps / UP_MARGIN));
      this.state = { ...this.state, step, up: 0, down: 0 };
      this.followUntil = now + FOLLOW_PROBE_MS;
      await this.apply(step, true);
    } else if (now < this.followUntil && sample.kbps !== null && (sample.loss ?? 0) < SOME_LOSS) {
      // The probe vouched for the link: a higher estimate since is taken at once, and the
      // encoder's own limits, set while the estimate was still low, are dropped again.
      const step = stepFor(sample.kbps / UP_MARGIN);
      if (step < this.state.step) {
        this.state = { ...this.state, step, up: 0, down: 0 };
        await this.apply(step, true);
      }
    }
    return state.phase;
  }

  /**
   * @private
   * @param {number} step
   * @param {boolean} [fresh] drop the encoder's own resolution limits (switching the
   *   degradation preference clears them in Chromium)
   */
  async apply(step, fresh = false) {
    const track = this.sender.track;
    const settings = track ? track.getSettings() : {};
    const shortSide = Math.min(settings.width || 720, settings.height || 720);
    let parameters = this.sender.getParameters();
    if (!parameters.encodings || !parameters.encodings.length) {
      return;
    }
    const encoding = parameters.encodings[0];
    delete encoding.maxBitrate;
    Object.assign(encoding, encodingFor(step, shortSide));
    try {
      if (fresh) {
        /** @type {any} */ (parameters).degradationPreference = 'maintain-framerate';
        await this.sender.setParameters(parameters);
        parameters = this.sender.getParameters();
      }
      // Lower both rather than keep one at any cost (not every browser knows this member).
      /** @type {any} */ (parameters).degradationPreference = 'balanced';
      await this.sender.setParameters(parameters);
    } catch (error) {
      console.warn('sender parameters refused', error);
    }
  }
}
