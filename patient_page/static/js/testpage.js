/**
 * The technical test page: the camera (preview, resolution, torch and zoom),
 * then the network through a real connection to the service (connection
 * time, round trip, upload bitrate, loss, relay), then a verdict with advice.
 * Opened from a link (`/p/<token>/test`), the result goes to the session so
 * that the regulator sees it.
 * @module testpage
 */

import { failureKind, openCamera } from './camera.js';
import { Publisher } from './publisher.js';
import { network, sample, verdict } from './testpage-verdict.js';

/** How long the connection may take before the network is judged unusable. */
const CONNECT_TIMEOUT_MS = 8000;
/** How long the upload is measured once connected. */
const MEASURE_MS = 3000;

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
function byId(id) {
  return /** @type {HTMLElement} */ (document.getElementById(id));
}

/**
 * @param {string} key
 * @returns {string}
 */
function text(key) {
  const element = document.querySelector(`#texts [data-text="${key}"]`);
  return element ? element.textContent || '' : key;
}

/**
 * @param {number} ms
 * @returns {Promise<void>}
 */
function sleep(ms) {
  return new Promise((resolve) => window.setTimeout(resolve, ms));
}

/**
 * Resolve with whether `pc` connected within `ms`.
 * @param {RTCPeerConnection} pc
 * @param {number} ms
 * @returns {Promise<boolean>}
 */
function connected(pc, ms) {
  return new Promise((resolve) => {
    const timer = window.setTimeout(() => resolve(false), ms);
    const check = () => {
      if (pc.connectionState === 'connected') {
        window.clearTimeout(timer);
        resolve(true);
      } else if (pc.connectionState === 'failed' || pc.connectionState === 'closed') {
        window.clearTimeout(timer);
        resolve(false);
      }
    };
    pc.addEventListener('connectionstatechange', check);
    check();
  });
}

/** Where the result goes: the link's session when opened from one. */
function resultUrl() {
  return /^\/p\/[^/]+\/test$/.test(window.location.pathname) ? `${window.location.pathname}/result` : null;
}

class TestPage {
  constructor() {
    this.root = byId('test');
    this.startButton = /** @type {HTMLButtonElement} */ (byId('test-start'));
    this.preview = /** @type {HTMLVideoElement} */ (byId('test-preview'));
    this.previewBox = /** @type {HTMLElement} */ (this.preview.parentElement);
    /** @type {RTCIceServer[]} */
    this.iceServers = [];
    try {
      const parsed = JSON.parse(this.root.dataset.ice || '[]');
      this.iceServers = Array.isArray(parsed) ? parsed : [];
    } catch {
      this.iceServers = [];
    }
  }

  start() {
    this.startButton.addEventListener('click', () => this.run());
    byId('test-again').addEventListener('click', () => this.run());
    this.startButton.disabled = false;
  }

  async run() {
    if (this.root.dataset.state === 'running') {
      return;
    }
    const started = performance.now();
    this.root.dataset.state = 'running';
    this.startButton.hidden = true;
    byId('test-verdict').hidden = true;
    byId('test-sent').hidden = true;
    for (const id of ['test-resolution', 'test-torch', 'test-zoom', 'test-connect', 'test-rtt', 'test-bitrate', 'test-loss', 'test-relay']) {
      byId(id).textContent = '…';
    }
    byId('test-camera').hidden = false;
    this.previewBox.hidden = false;
    /** @type {any} */
    const result = { camera: 'ok', width: 0, height: 0, torch: false, zoom: false, connected: false, connect_ms: null, rtt_ms: null, bitrate_kbps: null, loss_percent: null, relay: false };
    let stream = null;
    try {
      stream = await openCamera('environment');
    } catch (error) {
      result.camera = failureKind(error);
      byId('test-resolution').textContent = text('camera-denied');
    }
    if (stream) {
      const track = stream.getVideoTracks()[0];
      this.preview.srcObject = stream;
      this.preview.play().catch(() => {});
      const settings = track.getSettings();
      /** @type {any} */
      const capabilities = typeof track.getCapabilities === 'function' ? track.getCapabilities() : {};
      result.width = settings.width || 0;
      result.height = settings.height || 0;
      result.torch = capabilities.torch === true || (Array.isArray(capabilities.torch) && capabilities.torch.includes(true));
      result.zoom = Boolean(capabilities.zoom && capabilities.zoom.max > capabilities.zoom.min);
      byId('test-resolution').textContent = `${result.width} × ${result.height}`;
      byId('test-torch').textContent = text(result.torch ? 'yes' : 'no');
      byId('test-zoom').textContent = text(result.zoom ? 'yes' : 'no');
      await this.measure(track, result);
      // The camera is free again for the visio; its black box goes too.
      stream.getTracks().forEach((each) => each.stop());
      this.preview.srcObject = null;
      this.previewBox.hidden = true;
    }
    const judged = verdict(result);
    result.verdict = judged.verdict;
    result.duration_ms = Math.round(performance.now() - started);
    this.show(judged, result.duration_ms);
    this.root.dataset.state = 'done';
    await this.report(result);
  }

  /**
   * Publish the camera to the service's test peer and measure the connection.
   * @param {MediaStreamTrack} track
   * @param {any} result
   */
  async measure(track, result) {
    byId('test-network').hidden = false;
    const progress = byId('test-progress');
    progress.textContent = text('measuring');
    progress.dataset.tone = 'wait';
    const publisher = new Publisher(track, { iceServers: this.iceServers, onState: () => {} });
    const begun = performance.now();
    try {
      const offer = await publisher.offer();
      const response = await fetch('/test/offer', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ sdp: offer }),
      });
      if (!response.ok) {
        throw new Error(`offer refused: ${response.status}`);
      }
      const answer = await response.json();
      await publisher.accept(String(answer.sdp));
      result.connected = await connected(publisher.pc, CONNECT_TIMEOUT_MS);
      if (result.connected) {
        result.connect_ms = Math.round(performance.now() - begun);
        byId('test-connect').textContent = `${result.connect_ms} ms`;
        const first = sample(await publisher.pc.getStats(), performance.now());
        await sleep(MEASURE_MS);
        const last = sample(await publisher.pc.getStats(), performance.now());
        Object.assign(result, network(first, last));
      }
    } catch (error) {
      console.warn('network test failed', error);
      result.connected = false;
    } finally {
      publisher.close();
    }
    const none = text('none');
    byId('test-connect').textContent = result.connect_ms !== null ? `${result.connect_ms} ms` : none;
    byId('test-rtt').textContent = result.rtt_ms !== null ? `${result.rtt_ms} ms` : none;
    byId('test-bitrate').textContent = result.bitrate_kbps !== null ? `${result.bitrate_kbps} kbit/s` : none;
    byId('test-loss').textContent = result.loss_percent !== null ? `${result.loss_percent} %` : none;
    byId('test-relay').textContent = result.connected ? text(result.relay ? 'yes' : 'no') : none;
    progress.textContent = text(result.connected ? 'done' : 'failed');
    progress.dataset.tone = result.connected ? 'live' : 'wait';
  }

  /**
   * @param {{ verdict: string, advice: string[] }} judged
   * @param {number} durationMs
   */
  show(judged, durationMs) {
    const box = byId('test-verdict');
    box.dataset.verdict = judged.verdict;
    byId('test-verdict-title').textContent = text(`verdict-${judged.verdict}`);
    const list = byId('test-advice');
    list.replaceChildren(
      ...judged.advice.map((key) => {
        const item = document.createElement('li');
        item.textContent = text(key);
        return item;
      }),
    );
    const seconds = (durationMs / 1000).toLocaleString(document.documentElement.lang || 'fr', {
      minimumFractionDigits: 1,
      maximumFractionDigits: 1,
    });
    byId('test-duration').textContent = text('duration').replace('{seconds}', seconds);
    box.hidden = false;
  }

  /**
   * Opened from a link: the session's timeline gets the result.
   * @param {any} result
   */
  async report(result) {
    const url = resultUrl();
    if (!url) {
      return;
    }
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(result),
      });
      byId('test-sent').hidden = !response.ok;
    } catch (error) {
      console.warn('result not sent', error);
    }
  }
}

new TestPage().start();
