/**
 * The video's peer connection: one send-only video track, VP8 preferred (the
 * service relays frames as they are, and every browser decodes VP8), the
 * whole offer sent once ICE gathering has what it needs (no trickle: the service does not
 * take late candidates).
 * @module publisher
 */

/** Longest wait for ICE candidates before the offer goes with what it has. */
const GATHERING_TIMEOUT_MS = 4000;
/** Wait for more relay candidates once one came (the other TURN transports, if quick). */
const RELAY_SETTLE_MS = 300;
/** Wait for a relay candidate after the first candidate: a TURN allocation over TLS on a
 * 300 ms link takes about five round trips. */
const RELAY_WAIT_MS = 2500;

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
 * GATHERING_TIMEOUT_MS.
 * @param {{complete: boolean, firstCandidateAt: number | null, firstRelayAt: number | null}} gathered
 * @returns {number}
 */
export function offerDeadline({ complete, firstCandidateAt, firstRelayAt }) {
  if (complete) {
    return 0;
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
 * @returns {Promise<void>}
 */
export function gatheringComplete(pc) {
  if (pc.iceGatheringState === 'complete') {
    return Promise.resolve();
  }
  const started = performance.now();
  /** @type {{complete: boolean, firstCandidateAt: number | null, firstRelayAt: number | null}} */
  const gathered = { complete: false, firstCandidateAt: null, firstRelayAt: null };
  return new Promise((resolve) => {
    let timer = window.setTimeout(done, GATHERING_TIMEOUT_MS);
    function done() {
      window.clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      pc.removeEventListener('icecandidate', onCandidate);
      resolve();
    }
    function reschedule() {
      window.clearTimeout(timer);
      timer = window.setTimeout(done, Math.max(0, offerDeadline(gathered) - (performance.now() - started)));
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

/**
 * @typedef {object} PublisherOptions
 * @property {RTCIceServer[]} iceServers from the service's welcome
 * @property {(state: RTCPeerConnectionState) => void} onState the connection's state
 */

/** One attempt at sending the camera; a reconnection makes a new one. */
export class Publisher {
  /**
   * @param {MediaStreamTrack} track
   * @param {PublisherOptions} options
   */
  constructor(track, options) {
    this.pc = new RTCPeerConnection({ iceServers: options.iceServers });
    this.transceiver = this.pc.addTransceiver(track, { direction: 'sendonly' });
    preferVp8(this.transceiver);
    this.pc.addEventListener('connectionstatechange', () => {
      options.onState(this.pc.connectionState);
    });
  }

  /**
   * The complete offer, to send to the service.
   * @returns {Promise<string>}
   */
  async offer() {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await gatheringComplete(this.pc);
    return /** @type {RTCSessionDescription} */ (this.pc.localDescription).sdp;
  }

  /**
   * Apply the service's answer.
   * @param {string} sdp
   */
  async accept(sdp) {
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
  }

  /**
   * Send another camera's track, without a new negotiation.
   * @param {MediaStreamTrack} track
   */
  async replaceTrack(track) {
    await this.transceiver.sender.replaceTrack(track);
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
