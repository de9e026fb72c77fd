/**
 * Sharing the regulator's screen with the patient: a screen or a window from
 * `getDisplayMedia` (video only: the regulator's camera and microphone are
 * never asked for), published over the console's WebSocket into the session's
 * screen room. One share at a time per session; the share stops with the
 * button, with the browser's own "stop sharing", when the room closes, or when
 * the service says so.
 * @module screenshare
 */

import { t } from './i18n.js';
import { gatheringComplete } from './video.js';

/** Longest wait for the service to confirm a stop before the connection is closed anyway. */
const STOP_CONFIRM_MS = 3000;

/** @typedef {'idle' | 'choosing' | 'connecting' | 'live'} ShareState */

/**
 * The catalogue key of what the regulator reads when a share ended.
 * @param {string} reason the service's `screen.stopped` reason, or the page's own
 * @returns {string}
 */
export function stoppedKey(reason) {
  switch (reason) {
    case 'connection_lost':
      return 'screen.stopped.connection_lost';
    case 'session_ended':
      return 'screen.stopped.session_ended';
    default:
      return 'screen.stopped';
  }
}

/**
 * The catalogue key of why a share could not start, from the browser's error.
 * @param {unknown} error what `getDisplayMedia` threw
 * @returns {string}
 */
export function captureFailureKey(error) {
  const name = error && typeof error === 'object' && 'name' in error ? String(error.name) : '';
  // The regulator closed the browser's picker: nothing to fix, only to say.
  if (name === 'NotAllowedError' || name === 'AbortError') {
    return 'screen.cancelled';
  }
  if (name === 'NotSupportedError' || name === 'TypeError') {
    return 'screen.unsupported';
  }
  return 'screen.failed';
}

/**
 * The timeline's line of a screen-share event; null for another event.
 * @param {{ type: string, details?: Record<string, any> }} event
 * @param {string} actor who shared (display name)
 * @returns {{ text: string, tone: 'normal' | 'good' | 'failed' | 'muted' } | null}
 */
export function screenTimelineLine(event, actor) {
  const details = event.details || {};
  if (event.type === 'screen.started') {
    return { text: t('timeline.screen.started', { actor }), tone: 'normal' };
  }
  if (event.type === 'screen.stopped') {
    switch (details.reason) {
      case 'replaced':
      case 'console_left':
        return { text: t(`timeline.screen.stopped.${details.reason}`, { actor }), tone: 'muted' };
      case 'connection_lost':
        return { text: t('timeline.screen.stopped.connection_lost', { actor }), tone: 'failed' };
      default:
        return { text: t('timeline.screen.stopped', { actor }), tone: 'normal' };
    }
  }
  return null;
}

/**
 * Whether this browser can share a screen.
 * @param {Navigator} [nav]
 * @returns {boolean}
 */
export function canShareScreen(nav = globalThis.navigator) {
  return Boolean(nav && nav.mediaDevices && typeof nav.mediaDevices.getDisplayMedia === 'function');
}

/**
 * Put VP8 first (the relay forwards frames as they are; every phone decodes VP8).
 * @param {RTCRtpTransceiver} transceiver
 */
function preferVp8(transceiver) {
  const capabilities = RTCRtpSender.getCapabilities ? RTCRtpSender.getCapabilities('video') : null;
  if (!capabilities || typeof transceiver.setCodecPreferences !== 'function') {
    return;
  }
  const isVp8 = (/** @type {RTCRtpCodec} */ codec) => codec.mimeType.toLowerCase() === 'video/vp8';
  try {
    transceiver.setCodecPreferences([
      ...capabilities.codecs.filter(isVp8),
      ...capabilities.codecs.filter((codec) => !isVp8(codec)),
    ]);
  } catch (error) {
    console.warn('codec preferences refused', error);
  }
}

/**
 * Close a connection: its transceivers, then itself.
 * @param {RTCPeerConnection} pc
 */
function closePeer(pc) {
  pc.getTransceivers().forEach((transceiver) => {
    try {
      transceiver.stop();
    } catch {
      // closed already
    }
  });
  pc.close();
}

/** The screen-share part of one room's tools bar. */
export class ScreenShare {
  /**
   * @param {string} sessionId
   * @param {HTMLElement} bar the room's tools bar (`[data-screen=...]` inside)
   * @param {(message: object) => boolean} send a message on the console's socket
   */
  constructor(sessionId, bar, send) {
    this.sessionId = sessionId;
    this.bar = bar;
    this.sendMessage = send;
    /** @type {ShareState} */
    this.state = 'idle';
    /** @type {MediaStream | null} */
    this.stream = null;
    /** @type {RTCPeerConnection | null} */
    this.pc = null;
    /** @type {RTCPeerConnection | null} a stopped share's connection, until the service confirms */
    this.stopping = null;
    this.stopTimer = 0;
    this.ended = false;
    this.button = /** @type {HTMLButtonElement} */ (this.part('toggle'));
    this.status = this.part('status');
    this.preview = /** @type {HTMLVideoElement} */ (this.part('preview'));
    this.preview.muted = true;
    this.preview.playsInline = true;
    if (!canShareScreen()) {
      this.button.disabled = true;
      this.say(t('screen.unsupported'), 'error');
    }
    this.button.addEventListener('click', () => {
      if (this.state === 'idle') {
        this.start();
      } else {
        this.stop();
      }
    });
    this.render();
  }

  /**
   * Ask for a screen, then publish it. `getDisplayMedia` is called first, in
   * the click's own turn: browsers want a user gesture for it.
   */
  async start() {
    if (this.state !== 'idle' || this.ended || !canShareScreen()) {
      return;
    }
    this.setState('choosing');
    this.say(t('screen.choosing'), 'wait');
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    } catch (error) {
      this.setState('idle');
      this.say(t(captureFailureKey(error)), 'error');
      return;
    }
    // The room may have closed, or the regulator clicked again, while the picker was open.
    const state = /** @type {ShareState} */ (this.state);
    if (state !== 'choosing' || this.ended) {
      stream.getTracks().forEach((track) => track.stop());
      return;
    }
    // Never more than the screen: a browser that added a sound track keeps it to itself.
    stream.getAudioTracks().forEach((track) => track.stop());
    this.stream = stream;
    const track = stream.getVideoTracks()[0];
    // The browser's own "stop sharing" ends the track: the share stops with it.
    track.addEventListener('ended', () => {
      if (this.stream === stream) {
        this.stop();
      }
    });
    this.preview.srcObject = new MediaStream([track]);
    this.preview.play().catch(() => {});
    this.setState('connecting');
    this.say(t('screen.connecting'), 'wait');
    if (!this.sendMessage({ type: 'screen.prepare', session_id: this.sessionId })) {
      this.teardown();
      this.say(t('screen.failed'), 'error');
    }
  }

  /** "Arrêter le partage" (or the browser's own button): the patient's page goes back to normal. */
  stop() {
    if (this.state === 'idle') {
      return;
    }
    // The connection closes once the service confirms (or after a while): closed first, it
    // would reach the service as a lost connection before the stop was read.
    const sent = this.sendMessage({ type: 'screen.stop', session_id: this.sessionId });
    this.teardown(sent);
    this.say(t('screen.stopped'), 'done');
  }

  /** The console's socket dropped: the service ended the share with it. */
  lost() {
    if (this.state !== 'idle') {
      this.teardown();
      this.say(t('screen.stopped.connection_lost'), 'error');
    }
  }

  /** The session ended: no more sharing in this room. */
  end() {
    this.ended = true;
    if (this.state !== 'idle') {
      this.teardown();
    }
  }

  /** The room closes (the regulator leaves it): a share in progress stops. */
  close() {
    this.stop();
  }

  /**
   * A `screen.*` message for this session.
   * @param {any} message
   */
  async onMessage(message) {
    switch (message.type) {
      case 'screen.ready':
        if (this.state === 'connecting') {
          await this.offer(Array.isArray(message.ice_servers) ? message.ice_servers : []);
        }
        break;
      case 'screen.answer':
        if (this.pc && this.state === 'connecting') {
          try {
            await this.pc.setRemoteDescription({ type: 'answer', sdp: String(message.sdp) });
            this.setState('live');
            this.say(t('screen.live'), 'live');
          } catch (error) {
            console.warn('screen answer refused', error);
            this.stop();
            this.say(t('screen.failed'), 'error');
          }
        }
        break;
      case 'screen.stopped':
        this.closeStopped();
        if (this.state !== 'idle') {
          this.teardown();
          this.say(t(stoppedKey(String(message.reason))), message.reason === 'connection_lost' ? 'error' : 'done');
        }
        break;
      case 'screen.error':
        this.teardown();
        this.say(String(message.message || t('screen.failed')), 'error');
        break;
      default:
        break;
    }
  }

  /**
   * @private
   * @param {RTCIceServer[]} iceServers
   */
  async offer(iceServers) {
    const track = this.stream && this.stream.getVideoTracks()[0];
    if (!track) {
      return;
    }
    const pc = new RTCPeerConnection({ iceServers });
    this.pc = pc;
    preferVp8(pc.addTransceiver(track, { direction: 'sendonly' }));
    pc.addEventListener('connectionstatechange', () => {
      if (this.pc === pc && (pc.connectionState === 'failed' || pc.connectionState === 'closed')) {
        this.stop();
        this.say(t('screen.stopped.connection_lost'), 'error');
      }
    });
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await gatheringComplete(pc);
      if (this.pc !== pc) {
        return;
      }
      const sdp = /** @type {RTCSessionDescription} */ (pc.localDescription).sdp;
      if (!this.sendMessage({ type: 'screen.start', session_id: this.sessionId, sdp })) {
        throw new Error('socket down');
      }
    } catch (error) {
      console.warn('screen offer failed', error);
      this.teardown();
      this.say(t('screen.failed'), 'error');
    }
  }

  /**
   * Tear down in order: the connection, then the capture.
   * @private
   * @param {boolean} [confirm] keep the connection until the service confirms the stop
   */
  teardown(confirm = false) {
    const pc = this.pc;
    this.pc = null;
    this.closeStopped();
    if (pc && confirm) {
      this.stopping = pc;
      this.stopTimer = window.setTimeout(() => this.closeStopped(), STOP_CONFIRM_MS);
    } else if (pc) {
      closePeer(pc);
    }
    if (this.stream) {
      this.stream.getTracks().forEach((track) => track.stop());
      this.stream = null;
    }
    this.preview.srcObject = null;
    this.setState('idle');
  }

  /** @private The stopped share's connection, kept until the service confirmed. */
  closeStopped() {
    window.clearTimeout(this.stopTimer);
    const pc = this.stopping;
    this.stopping = null;
    if (pc) {
      closePeer(pc);
    }
  }

  /**
   * @private
   * @param {ShareState} state
   */
  setState(state) {
    this.state = state;
    this.render();
  }

  /** @private */
  render() {
    const sharing = this.state !== 'idle';
    this.bar.dataset.sharing = String(this.state === 'live');
    this.button.textContent = t(sharing ? 'screen.stop' : 'screen.share');
    this.button.setAttribute('aria-pressed', String(sharing));
    this.part('preview-box').hidden = !this.stream;
  }

  /**
   * @private
   * @param {string} text
   * @param {'wait' | 'live' | 'done' | 'error'} tone
   */
  say(text, tone) {
    this.status.textContent = text;
    this.status.dataset.tone = tone;
    this.status.hidden = !text;
  }

  /**
   * @private
   * @param {string} name
   * @returns {HTMLElement}
   */
  part(name) {
    return /** @type {HTMLElement} */ (this.bar.querySelector(`[data-screen="${name}"]`));
  }
}
