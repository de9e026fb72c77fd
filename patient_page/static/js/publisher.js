/**
 * The video's peer connection: one send-only video track, VP8 preferred (the
 * service relays frames as they are, and every browser decodes VP8), the
 * whole offer sent once ICE gathering is complete (no trickle).
 * @module publisher
 */

/** Longest wait for ICE candidates before the offer goes with what it has. */
const GATHERING_TIMEOUT_MS = 4000;

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
 * Resolve once the connection has gathered its candidates (or after a while).
 * @param {RTCPeerConnection} pc
 * @returns {Promise<void>}
 */
export function gatheringComplete(pc) {
  if (pc.iceGatheringState === 'complete') {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const timer = window.setTimeout(done, GATHERING_TIMEOUT_MS);
    function done() {
      window.clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    }
    function check() {
      if (pc.iceGatheringState === 'complete') {
        done();
      }
    }
    pc.addEventListener('icegatheringstatechange', check);
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
