/**
 * The technical test's figures and verdict, with no DOM: what `getStats()`
 * says about the connection, and what that means for a visio with the SAMU.
 * @module testpage-verdict
 */

/**
 * @typedef {object} Figures
 * @property {'ok' | 'denied' | 'unavailable'} camera
 * @property {boolean} connected the test connection reached the service
 * @property {number | null} rtt_ms round trip
 * @property {number | null} bitrate_kbps upload bitrate reached
 * @property {number | null} loss_percent packets lost on the way
 * @property {boolean} relay the connection went through a TURN relay
 */

/**
 * Below this upload (kbit/s) the video is poor; below PHOTOS_KBPS it does not carry. The figure is
 * the bitrate reached in the first seconds, a floor: browsers start around 300 kbit/s and ramp up
 * with the receiver's feedback, so a good network shows 200 to 300 kbit/s here.
 */
export const FRAGILE_KBPS = 150;
export const PHOTOS_KBPS = 60;
/** A round trip above this (ms) makes the regulator's commands lag. */
export const FRAGILE_RTT_MS = 400;
/** Loss above this (%) breaks the picture up. */
export const FRAGILE_LOSS_PERCENT = 5;

/**
 * The verdict and the advice keys (catalogue `advice-*`) for the figures.
 * @param {Figures} figures
 * @returns {{ verdict: 'ready' | 'fragile' | 'photos', advice: string[] }}
 */
export function verdict(figures) {
  if (figures.camera !== 'ok') {
    return { verdict: 'photos', advice: ['advice-camera', 'advice-photos'] };
  }
  if (!figures.connected || (figures.bitrate_kbps !== null && figures.bitrate_kbps < PHOTOS_KBPS)) {
    return { verdict: 'photos', advice: ['advice-network', 'advice-photos'] };
  }
  const advice = [];
  const slow =
    (figures.bitrate_kbps !== null && figures.bitrate_kbps < FRAGILE_KBPS) ||
    (figures.rtt_ms !== null && figures.rtt_ms > FRAGILE_RTT_MS) ||
    (figures.loss_percent !== null && figures.loss_percent > FRAGILE_LOSS_PERCENT);
  if (slow) {
    advice.push('advice-slow');
  }
  if (figures.relay) {
    advice.push('advice-relay');
  }
  return slow ? { verdict: 'fragile', advice } : { verdict: 'ready', advice: ['advice-ready', ...advice] };
}

/**
 * @typedef {object} Sample what one `getStats()` gave
 * @property {number} at ms
 * @property {number | null} bytesSent outbound-rtp
 * @property {number | null} packetsSent outbound-rtp
 * @property {number | null} rtt seconds: the selected pair's, else the remote-inbound-rtp's
 * @property {number | null} fractionLost remote-inbound-rtp (0..1)
 * @property {number | null} packetsLost remote-inbound-rtp
 * @property {boolean} relay the selected pair's local candidate is a relay
 */

/**
 * Read one sample from a `getStats()` report (an `RTCStatsReport`, or a list of stats objects).
 * @param {{ values: () => Iterable<any> } | any[]} report
 * @param {number} at
 * @returns {Sample}
 */
export function sample(report, at) {
  /** @type {Map<string, any>} */
  const byId = new Map();
  for (const stat of Array.isArray(report) ? report : report.values()) {
    byId.set(stat.id, stat);
  }
  let outbound = null;
  let remote = null;
  let transport = null;
  for (const stat of byId.values()) {
    if (stat.type === 'outbound-rtp' && stat.kind === 'video') {
      outbound = stat;
    } else if (stat.type === 'remote-inbound-rtp' && stat.kind === 'video') {
      remote = stat;
    } else if (stat.type === 'transport') {
      transport = stat;
    }
  }
  let pair = transport && transport.selectedCandidatePairId ? byId.get(transport.selectedCandidatePairId) : null;
  if (!pair) {
    pair = [...byId.values()].find((stat) => stat.type === 'candidate-pair' && stat.nominated && stat.state === 'succeeded') || null;
  }
  const local = pair ? byId.get(pair.localCandidateId) : null;
  const number = (/** @type {unknown} */ value) => (typeof value === 'number' && Number.isFinite(value) ? value : null);
  return {
    at,
    bytesSent: number(outbound && outbound.bytesSent),
    packetsSent: number(outbound && outbound.packetsSent),
    rtt: number(pair && pair.currentRoundTripTime) ?? number(remote && remote.roundTripTime),
    fractionLost: number(remote && remote.fractionLost),
    packetsLost: number(remote && remote.packetsLost),
    relay: Boolean(local && local.candidateType === 'relay'),
  };
}

/**
 * The network figures between two samples taken a few seconds apart.
 * @param {Sample} first
 * @param {Sample} last
 * @returns {{ rtt_ms: number | null, bitrate_kbps: number | null, loss_percent: number | null, relay: boolean }}
 */
export function network(first, last) {
  const seconds = (last.at - first.at) / 1000;
  const bitrate =
    first.bytesSent !== null && last.bytesSent !== null && seconds > 0
      ? Math.round(((last.bytesSent - first.bytesSent) * 8) / seconds / 1000)
      : null;
  let loss = null;
  if (last.fractionLost !== null) {
    loss = last.fractionLost * 100;
  } else if (last.packetsLost !== null && last.packetsSent) {
    loss = (100 * last.packetsLost) / (last.packetsSent + last.packetsLost);
  }
  return {
    rtt_ms: last.rtt !== null ? Math.round(last.rtt * 1000) : null,
    bitrate_kbps: bitrate !== null ? Math.max(0, bitrate) : null,
    loss_percent: loss !== null ? Math.round(Math.max(0, Math.min(100, loss)) * 10) / 10 : null,
    relay: last.relay,
  };
}
