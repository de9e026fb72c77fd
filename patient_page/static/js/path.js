/**
 * Which network path the video took (direct, or through the TURN relay by UDP,
 * TCP or TLS) and its round trip, read from the connection's statistics; and,
 * when no path was found, why: the TURN relay refused its credentials or could
 * not be reached.
 * @module path
 */

import { recordGathering } from './publisher.js';

/** How often the path is read again while connected (a change is reported once). */
const SAMPLE_MS = 5000;
/** How often, and how many times, a path without its round trip yet is read again first. */
const EARLY_MS = 500;
const EARLY_TRIES = 6;

/**
 * @typedef {object} PathReport
 * @property {'path'} type
 * @property {'direct' | 'turn-udp' | 'turn-tcp' | 'turn-tls'} path
 * @property {number | null} rtt_ms
 * @property {string} local_type
 * @property {string | null} relay_protocol
 * @property {string | null} remote_type
 */

/** @typedef {'turn_refused' | 'turn_unreachable' | 'no_candidates'} NoPathReason */

const CANDIDATE_TYPES = ['host', 'srflx', 'prflx', 'relay'];
const RELAY_PROTOCOLS = ['udp', 'tcp', 'tls'];

/**
 * The selected candidate pair's path, from a `getStats()` report.
 * @param {Map<string, any> | {forEach: (callback: (value: any) => void) => void}} report
 * @returns {PathReport | null} null while no pair is selected
 */
export function describePath(report) {
  /** @type {Map<string, any>} */
  const byId = new Map();
  report.forEach((stat) => byId.set(stat.id, stat));
  let pair = null;
  for (const stat of byId.values()) {
    if (stat.type === 'transport' && stat.selectedCandidatePairId) {
      pair = byId.get(stat.selectedCandidatePairId) || null;
    }
  }
  if (!pair) {
    // Browsers without the transport's selected pair mark it on the pair itself.
    pair = [...byId.values()].find((s) => s.type === 'candidate-pair' && (s.selected || (s.nominated && s.state === 'succeeded'))) || null;
  }
  const local = pair ? byId.get(pair.localCandidateId) : undefined;
  if (!pair || !local || !CANDIDATE_TYPES.includes(local.candidateType)) {
    return null;
  }
  const remote = byId.get(pair.remoteCandidateId);
  const remoteType = remote && CANDIDATE_TYPES.includes(remote.candidateType) ? remote.candidateType : null;
  let protocol = null;
  if (local.candidateType === 'relay') {
    protocol = RELAY_PROTOCOLS.includes(local.relayProtocol) ? local.relayProtocol : null;
    if (!protocol) {
      return null; // a relay whose protocol is unknown: say nothing rather than something wrong
    }
  } else if (remoteType === 'relay') {
    // The service's own relay: the phone reaches the TURN server's relayed address (always UDP).
    protocol = 'udp';
  }
  const rtt = typeof pair.currentRoundTripTime === 'number' ? Math.round(pair.currentRoundTripTime * 1000) : null;
  return {
    type: 'path',
    path: protocol ? /** @type {PathReport['path']} */ (`turn-${protocol}`) : 'direct',
    rtt_ms: rtt,
    local_type: local.candidateType,
    relay_protocol: protocol,
    remote_type: remoteType,
  };
}

/**
 * Why the connection found no path, or null when it is not the relay's fault.
 * @param {{turnGiven: boolean, relayGathered: boolean, errorCodes: number[]}} facts
 * @returns {NoPathReason | null}
 */
export function noPathReason({ turnGiven, relayGathered, errorCodes }) {
  if (!turnGiven) {
    return 'no_candidates';
  }
  if (relayGathered) {
    return null; // the relay answered: the failure is elsewhere (the page reconnects)
  }
  // 401: the relay refused the credentials; 701 and the rest: it could not be reached.
  return errorCodes.includes(401) ? 'turn_refused' : 'turn_unreachable';
}

/**
 * @param {RTCIceServer[]} servers
 * @returns {boolean} whether any of them is a TURN server
 */
export function hasTurn(servers) {
  return servers.some((server) => {
    const urls = Array.isArray(server.urls) ? server.urls : [server.urls];
    return urls.some((url) => /^turns?:/.test(String(url)));
  });
}

/**
 * Follows one peer connection: its candidates and TURN errors as they come, its path once
 * connected and at each change, and no path at all when it gathered no candidate (the
 * browser then never says "failed": it waits for ever).
 */
export class PathWatch {
  /**
   * @param {RTCPeerConnection} pc
   * @param {RTCIceServer[]} servers the ICE servers it was made with
   * @param {(report: PathReport) => void} onPath called once per new path
   * @param {(reason: NoPathReason) => void} onNoPath called when gathering ends with nothing
   * @param {import('./publisher.js').GatheringFacts} [facts] what gathering found since the
   *   connection was made (recorded from now on without it)
   */
  constructor(pc, servers, onPath, onNoPath, facts = recordGathering(pc)) {
    this.pc = pc;
    this.turnGiven = hasTurn(servers);
    this.onPath = onPath;
    this.facts = facts;
    /** @type {string} the last path reported */
    this.last = '';
    /** The connection was up once: a later failure is a lost connection, not a missing path. */
    this.connected = false;
    /** Early reads waiting for the round trip. */
    this.early = 0;
    this.timer = 0;
    const gatheringEnded = () => {
      const reason = this.reason();
      if (pc.iceGatheringState === 'complete' && this.facts.gathered === 0 && reason) {
        onNoPath(reason);
      }
    };
    pc.addEventListener('icegatheringstatechange', gatheringEnded);
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'connected') {
        this.connected = true;
        this.sample();
      } else {
        globalThis.clearTimeout(this.timer);
      }
    });
    // Made once the connection had started (this code loads lazily): catch up.
    if (pc.connectionState === 'connected') {
      this.connected = true;
      this.sample();
    } else if (pc.iceGatheringState === 'complete') {
      gatheringEnded();
    }
  }

  /** Whether a relay candidate was gathered. */
  get relayGathered() {
    return this.facts.relayGathered;
  }

  /** The ICE servers' error codes (701: unreachable, 401: credentials refused...). */
  get errorCodes() {
    return this.facts.errorCodes;
  }

  /** Why no path was found (call once the connection failed), or null. */
  reason() {
    return this.connected ? null : noPathReason(this);
  }

  /** @private Read the path; report it when it changed; read again later. */
  async sample() {
    globalThis.clearTimeout(this.timer);
    if (this.pc.connectionState !== 'connected') {
      return;
    }
    try {
      const report = describePath(await this.pc.getStats());
      if (report && report.rtt_ms === null && this.early < EARLY_TRIES) {
        // The first check's answer is not measured yet: the round trip comes within a second.
        this.early += 1;
        this.timer = globalThis.setTimeout(() => this.sample(), EARLY_MS);
        return;
      }
      if (report && report.path !== this.last) {
        this.last = report.path;
        this.onPath(report);
      }
    } catch {
      // Closed meanwhile: nothing to report.
    }
    this.timer = globalThis.setTimeout(() => this.sample(), SAMPLE_MS);
  }

  /** Stop reading (the connection is replaced or closed). */
  stop() {
    globalThis.clearTimeout(this.timer);
  }
}
