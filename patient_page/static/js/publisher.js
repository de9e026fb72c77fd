/**
 * The video's peer connection: one send-only video track, VP8 preferred (the
 * service relays frames as they are, and every browser decodes VP8). With a service that takes
 * late candidates (trickle ICE, said in its welcome) the offer goes with the first candidate and
 * the others follow it; otherwise it goes once gathering has what it needs.
 * @module publisher
 */

import { capFor } from './linkadapt.js';

/** Longest wait for ICE candidates before the offer goes with what it has. */
const GATHERING_TIMEOUT_MS = 4000;
/** Wait for more relay candidates once one came (the other TURN transports, if quick). */
const RELAY_SETTLE_MS = 300;
/** Wait for a relay candidate after the first candidate: a TURN allocation over TLS on a
 * 300 ms link takes about five round trips. */
const RELAY_WAIT_MS = 2500;
/** Trickle ICE: the longest wait for a first candidate (a browser's host candidates come in
 * milliseconds; the later ones follow the offer). */
const TRICKLE_FIRST_MS = 200;

/**
 * Put VP8 first among the transceiver's codecs, when the browser lets us.
 * @param {RTCRtpTransceiver} transceiver
 */
function preferVp8(transceiver) {
  if (typeof transceiver.setCodecPreferences !== 'function' || !RTCRtpSender.getCapabilities) {
    return;
  }
  const capabilities = RTCRtpSender.getCapabilities('video');
  if (!capabilities) {
    return;
  }
  const isVp8 = (/** @type {RTCRtpCodec} */ codec) => codec.mimeType.toLowerCase() === 'video/vp8';
  const codecs = [...capabilities.codecs.filter(isVp8), ...capabilities.codecs.filter((codec) => !isVp8(codec))];
  try {
    transceiver.setCodecPreferences(codecs);
  } catch (error) {
    console.warn('codec preferences refused', error);
  }
}

/**
 * When the offer may go, in ms since gathering started, from what has been gathered so far:
 * at once when gathering is complete; shortly after the first relay candidate (a path that
 * passes any firewall is in hand, and a TURN transport that never answers must not hold the
 * video back); a while after the first candidate when no relay comes; at the latest after
 * GATHERING_TIMEOUT_MS. With trickle ICE: at the first candidate, or after TRICKLE_FIRST_MS
 * without one, since every later candidate follows the offer.
 * @param {{complete: boolean, firstCandidateAt: number | null, firstRelayAt: number | null}} gathered
 * @param {boolean} [trickle] the service takes candidates after the offer
 * @returns {number}
 */
export function offerDeadline({ complete, firstCandidateAt, firstRelayAt }, trickle = false) {
  if (complete) {
    return 0;
  }
  if (trickle) {
    return firstCandidateAt === null ? TRICKLE_FIRST_MS : firstCandidateAt;
  }
  const deadlines = [GATHERING_TIMEOUT_MS];
  if (firstRelayAt !== null) {
    deadlines.push(firstRelayAt + RELAY_SETTLE_MS);
  }
  if (firstCandidateAt !== null) {
    deadlines.push(firstCandidateAt + RELAY_WAIT_MS);
  }
  return Math.min(...deadlines);
}

/**
 * Resolve once the connection has gathered enough candidates (see offerDeadline).
 * @param {RTCPeerConnection} pc
 * @param {boolean} [trickle] the service takes candidates after the offer
 * @returns {Promise<void>}
 */
export function gatheringComplete(pc, trickle = false) {
  if (pc.iceGatheringState === 'complete') {
    return Promise.resolve();
  }
  const started = performance.now();
  /** @type {{complete: boolean, firstCandidateAt: number | null, firstRelayAt: number | null}} */
  const gathered = { complete: false, firstCandidateAt: null, firstRelayAt: null };
  return new Promise((resolve) => {
    let timer = window.setTimeout(done, offerDeadline(gathered, trickle));
    function done() {
      window.clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      pc.removeEventListener('icecandidate', onCandidate);
      resolve();
    }
    function reschedule() {
      window.clearTimeout(timer);
      timer = window.setTimeout(done, Math.max(0, offerDeadline(gathered, trickle) - (performance.now() - started)));
    }
    function check() {
      if (pc.iceGatheringState === 'complete') {
        gathered.complete = true;
        done();
      }
    }
    /** @param {RTCPeerConnectionIceEvent} event */
    function onCandidate(event) {
      const candidate = event.candidate;
      if (!candidate || !candidate.candidate) {
        return;
      }
      const now = performance.now() - started;
      if (gathered.firstCandidateAt === null) {
        gathered.firstCandidateAt = now;
      }
      if (candidate.type === 'relay' && gathered.firstRelayAt === null) {
        gathered.firstRelayAt = now;
      }
      reschedule();
    }
    pc.addEventListener('icegatheringstatechange', check);
    pc.addEventListener('icecandidate', onCandidate);
  });
}

/** The transport's bitrate ceiling (kbit/s) a probe goes up to: above the best step's need. */
export const PROBE_CEILING_KBPS = 3000;

/**
 * The service's answer with the video's bitrate ceiling (`b=AS`, kbit/s) set, when the answer
 * takes transport-wide congestion control feedback (the browser's own estimator decides); the
 * answer unchanged otherwise. A ceiling on the section, not on the codec: a codec's parameters
 * changed would make the browser rebuild its video stream (a keyframe).
 * @param {string} sdp
 * @param {number} kbps
 * @returns {string}
 */
export function withMaxBitrate(sdp, kbps) {
  if (!/^a=rtcp-fb:\d+ transport-cc\r?$/m.test(sdp)) {
    return sdp;
  }
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const lines = sdp.split(eol).filter((line) => !line.startsWith('b=AS:'));
  const video = lines.findIndex((line) => line.startsWith('m=video'));
  if (video < 0) {
    return sdp;
  }
  // In a media section, `b=` comes after `m=`, `i=` and `c=`.
  let at = video + 1;
  while (at < lines.length && /^[ic]=/.test(lines[at])) {
    at += 1;
  }
  lines.splice(at, 0, `b=AS:${Math.round(kbps)}`);
  return lines.join(eol);
}

/**
 * @typedef {{type: 'candidate', ufrag: string, candidate: string | null, mid: string | null}} CandidateMessage
 */

/**
 * What a connection's gathering found, kept as it comes: the code that explains a missing path
 * loads lazily, and must not miss what happened before.
 * @typedef {{gathered: number, relayGathered: boolean, errorCodes: number[]}} GatheringFacts
 */

/**
 * Record a connection's gathered candidates and ICE server errors from now on.
 * @param {RTCPeerConnection} pc
 * @returns {GatheringFacts} updated as events come
 */
export function recordGathering(pc) {
  /** @type {GatheringFacts} */
  const facts = { gathered: 0, relayGathered: false, errorCodes: [] };
  pc.addEventListener('icecandidate', (event) => {
    const candidate = /** @type {RTCPeerConnectionIceEvent} */ (event).candidate;
    if (candidate && candidate.candidate) {
      facts.gathered += 1;
      if (candidate.type === 'relay' || / typ relay /.test(candidate.candidate)) {
        facts.relayGathered = true;
      }
    }
  });
  pc.addEventListener('icecandidateerror', (event) => {
    const code = /** @type {RTCPeerConnectionIceErrorEvent} */ (event).errorCode;
    if (typeof code === 'number') {
      facts.errorCodes.push(code);
    }
  });
  return facts;
}

/**
 * @typedef {object} PublisherOptions
 * @property {RTCIceServer[]} iceServers from the service's welcome
 * @property {(state: RTCPeerConnectionState) => void} onState the connection's state
 * @property {boolean} [trickle] the service takes candidates after the offer
 */

/**
 * The ICE username fragment of a description (its first: bundled media share it).
 * @param {string} sdp
 * @returns {string}
 */
export function iceUfrag(sdp) {
  const found = /^a=ice-ufrag:(\S+)/m.exec(sdp);
  return found ? found[1] : '';
}

/**
 * The candidates to send after an offer: those it does not carry, and the end of gathering.
 * @param {string} sdp the offer as it went
 * @param {(RTCIceCandidate | null)[]} gathered candidates seen so far (null: gathering ended)
 * @returns {CandidateMessage[]}
 */
export function candidatesAfter(sdp, gathered) {
  const ufrag = iceUfrag(sdp);
  /** @type {CandidateMessage[]} */
  const messages = [];
  for (const candidate of gathered) {
    if (candidate === null) {
      messages.push({ type: 'candidate', ufrag, candidate: null, mid: null });
    } else if (candidate.candidate && !sdp.includes(candidate.candidate)) {
      messages.push({ type: 'candidate', ufrag, candidate: candidate.candidate, mid: candidate.sdpMid });
    }
  }
  return messages;
}

/** One attempt at sending the camera; a reconnection makes a new one. */
export class Publisher {
  /**
   * @param {MediaStreamTrack} track
   * @param {PublisherOptions} options
   */
  constructor(track, options) {
    /** @type {string | null} the service's answer, as it came */
    this.answer = null;
    this.pc = new RTCPeerConnection({ iceServers: options.iceServers });
    this.gathering = recordGathering(this.pc);
    this.trickle = options.trickle === true;
    /** @type {(RTCIceCandidate | null)[]} candidates gathered before the offer went */
    this.gathered = [];
    /** @type {((message: CandidateMessage) => void) | null} where candidates go once it went */
    this.sendCandidate = null;
    /** The offer as it went. */
    this.offered = '';
    // A camera larger than 720p is scaled down before the encoder, from the first frame.
    const cap = capFor(track.getSettings ? track.getSettings() : {});
    this.transceiver = this.pc.addTransceiver(track, {
      direction: 'sendonly',
      ...(cap ? { sendEncodings: [cap] } : {}),
    });
    preferVp8(this.transceiver);
    this.pc.addEventListener('connectionstatechange', () => {
      options.onState(this.pc.connectionState);
    });
    if (this.trickle) {
      this.pc.addEventListener('icecandidate', (event) => this.onCandidate(event.candidate));
    }
  }

  /**
   * The offer, to send to the service: with every candidate, or with the first ones when the
   * service takes the others after it (see trickle).
   * @returns {Promise<string>}
   */
  async offer() {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await gatheringComplete(this.pc, this.trickle);
    this.offered = /** @type {RTCSessionDescription} */ (this.pc.localDescription).sdp;
    return this.offered;
  }

  /**
   * The offer went: the candidates it does not carry follow it, now and as they come.
   * @param {(message: CandidateMessage) => void} send
   */
  trickleTo(send) {
    if (!this.trickle) {
      return;
    }
    this.sendCandidate = send;
    for (const message of candidatesAfter(this.offered, this.gathered)) {
      send(message);
    }
    this.gathered = [];
  }

  /**
   * @private
   * @param {RTCIceCandidate | null} candidate null: gathering ended
   */
  onCandidate(candidate) {
    if (candidate !== null && !candidate.candidate) {
      return; // the end of one generation's candidates, in some browsers
    }
    if (this.sendCandidate) {
      for (const message of candidatesAfter(this.offered, [candidate])) {
        this.sendCandidate(message);
      }
    } else {
      this.gathered.push(candidate);
    }
  }

  /**
   * Apply the service's answer.
   * @param {string} sdp
   */
  async accept(sdp) {
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
    this.answer = sdp;
  }

  /**
   * Make the browser probe the link now: a new local offer, and the service's answer applied
   * again with a bitrate ceiling, twice: one under the other.
   * Chromium probes at the new ceiling when it rises above its estimate. Nothing changes on the
   * wire or for the service: same transport, same streams.
   * @returns {Promise<boolean>} whether it could (an answer with transport-wide feedback, a
   *   stable connection)
   */
  async probeLink() {
    const answer = this.answer;
    if (!answer || withMaxBitrate(answer, 0) === answer || this.pc.signalingState !== 'stable') {
      return false;
    }
    try {
      // Without a ceiling, Chromium's is higher: the first one set lowers it.
      for (const kbps of [PROBE_CEILING_KBPS - 1, PROBE_CEILING_KBPS]) {
        await this.pc.setLocalDescription(await this.pc.createOffer());
        await this.pc.setRemoteDescription({ type: 'answer', sdp: withMaxBitrate(answer, kbps) });
      }
      return true;
    } catch (error) {
      console.warn('probe refused', error);
      return false;
    }
  }

  /**
   * Send another camera's track, without a new negotiation.
   * @param {MediaStreamTrack} track
   */
  async replaceTrack(track) {
    await this.transceiver.sender.replaceTrack(track);
    // The other camera may be larger: scaled down at least to 720p (a weak link's step, set
    // by the link's adapter, may scale it further).
    const cap = capFor(track.getSettings ? track.getSettings() : {});
    const parameters = this.transceiver.sender.getParameters();
    const encoding = parameters.encodings && parameters.encodings[0];
    if (cap && encoding && (encoding.scaleResolutionDownBy || 1) < cap.scaleResolutionDownBy) {
      encoding.scaleResolutionDownBy = cap.scaleResolutionDownBy;
      await this.transceiver.sender.setParameters(parameters);
    }
  }

  /** Close the connection (the camera's track is the page's to stop). */
  close() {
    try {
      this.transceiver.stop();
    } catch {
      // Already stopped, or closed.
    }
    this.pc.close();
  }
}
